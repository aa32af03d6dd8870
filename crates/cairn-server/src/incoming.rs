//! Accepted connections: Nagle off, TCP keepalive on, and at most
//! [`CONNECTIONS_PER_ADDRESS`] open from one client address. A connection
//! past that is closed as soon as it is accepted.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

use crate::edge::{Held, PerAddress};

/// Connections one client address may hold open: an office behind one
/// address runs an agent per machine, each with one connection.
pub(crate) const CONNECTIONS_PER_ADDRESS: usize = 256;

/// TCP keepalive probes find peers that vanished without closing.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The connections of `listener`, limited per client address.
pub(crate) fn incoming(
    listener: tokio::net::TcpListener,
    per_address: PerAddress,
) -> impl Stream<Item = io::Result<Counted>> {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(TCP_KEEPALIVE))
        .filter_map(move |accepted| match accepted {
            Ok(stream) => {
                let ip = stream.peer_addr().ok()?.ip();
                match per_address.take(ip, CONNECTIONS_PER_ADDRESS) {
                    Some(held) => Some(Ok(Counted {
                        stream,
                        _held: held,
                    })),
                    None => {
                        tracing::warn!(%ip, "connection refused: too many from this address");
                        None
                    }
                }
            }
            Err(err) => Some(Err(err)),
        })
}

/// An accepted connection, counted against its address until it closes.
pub(crate) struct Counted {
    stream: TcpStream,
    _held: Held,
}

impl Connected for Counted {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
