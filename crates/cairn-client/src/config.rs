//! Where to connect and how: the endpoint, the shared transport limits,
//! timeouts, the retry policy and (once cells speak TLS) the trust anchors.

use std::time::Duration;

use backon::ExponentialBuilder;
use tonic::transport::{Channel, Endpoint};

use cairn_core::transport::{CONNECTION_WINDOW, MAX_FRAME, STREAM_WINDOW};

use crate::ClientError;

/// A unary call that gets no answer within this is abandoned. Long enough
/// for a company deletion or a data export, short enough that a stalled
/// server does not hold a command for the server's own one-hour limit.
pub const DEFAULT_UNARY_TIMEOUT: Duration = Duration::from_secs(30);

/// Establishing the TCP connection (and later the TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a cell's identity will be checked once cells serve TLS. Today every
/// endpoint is `http://`; a configured trust is refused at connect time
/// rather than silently ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsTrust {
    /// The operating system's roots.
    SystemRoots,
    /// A private CA, PEM-encoded, and the name the server's certificate carries.
    Pem {
        ca_pem: Vec<u8>,
        domain: Option<String>,
    },
}

/// Bounds on retrying an idempotent call. The delays grow exponentially
/// with jitter; a server's RetryInfo (or `retry-after`) replaces the next
/// delay, but only up to `max_server_delay`: a longer wait is returned to
/// the caller rather than slept through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The sum of all delays of one call.
    pub max_total_delay: Duration,
    pub max_server_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_total_delay: Duration::from_secs(15),
            max_server_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// No retry at all.
    pub fn never() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_total_delay(Some(self.max_total_delay))
    }
}

/// Everything needed to reach one server.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub endpoint: String,
    pub connect_timeout: Duration,
    /// The deadline of each unary call (streams choose theirs per call).
    pub unary_timeout: Duration,
    pub retry: RetryPolicy,
    /// `None` for plaintext `http://` endpoints, the only kind served today.
    pub tls: Option<TlsTrust>,
}

impl ClientConfig {
    pub fn new(endpoint: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            unary_timeout: DEFAULT_UNARY_TIMEOUT,
            retry: RetryPolicy::default(),
            tls: None,
        }
    }

    /// The same options for another endpoint (a redirect, a region's cell).
    pub fn for_endpoint(&self, endpoint: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoint: endpoint.into(),
            ..self.clone()
        }
    }

    pub fn with_unary_timeout(mut self, timeout: Duration) -> ClientConfig {
        self.unary_timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> ClientConfig {
        self.retry = retry;
        self
    }

    /// The endpoint with the shared HTTP/2 windows and frame size, no
    /// Nagle delay and a connect timeout. Message-size limits are set on
    /// each generated client (see [`crate::GrpcClient`]).
    pub fn endpoint(&self) -> Result<Endpoint, ClientError> {
        if self.tls.is_some() || self.endpoint.starts_with("https://") {
            return Err(ClientError::Unsupported {
                endpoint: self.endpoint.clone(),
                detail: "TLS is not supported by this build yet".to_owned(),
            });
        }
        let endpoint = Endpoint::from_shared(self.endpoint.clone()).map_err(|e| {
            ClientError::InvalidEndpoint {
                endpoint: self.endpoint.clone(),
                detail: e.to_string(),
            }
        })?;
        Ok(endpoint
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME)
            .tcp_nodelay(true)
            .connect_timeout(self.connect_timeout))
    }

    /// A channel that connects on first use (and reconnects after a
    /// failure): a server that is down shows as UNAVAILABLE on the call.
    pub fn connect_lazy(&self) -> Result<Channel, ClientError> {
        Ok(self.endpoint()?.connect_lazy())
    }

    /// A channel connected now.
    pub async fn connect(&self) -> Result<Channel, ClientError> {
        self.endpoint()?
            .connect()
            .await
            .map_err(|e| ClientError::Status {
                code: tonic::Code::Unavailable,
                reason: None,
                message: format!("cannot reach {}: {e}", self.endpoint),
                retry_after: None,
                redirect: None,
            })
    }
}
