//! The edge of every listener: what a caller without credentials can make
//! the server hold.
//!
//! A call to a method that needs a token is checked from its headers
//! before anything reads its body: the bearer token must verify (signature,
//! expiry, issuer, audience; a token of another region is redirected), or
//! the call is answered at once and its body is never read, so it holds
//! nothing. The public methods ([`PUBLIC`]: sign-up, login, refresh,
//! enrollment, the directory's lookups, health and reflection) are bounded
//! instead: a request body of at most [`PUBLIC_BODY`], at most
//! [`PUBLIC_PER_ADDRESS`] of them at once from one client address and
//! [`PUBLIC_CALLS`] in the whole process, each done within
//! [`PUBLIC_CALL_LIMIT`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codegen::http;
use tonic::transport::server::TcpConnectInfo;

use cairn_auth::{Authenticator, TokenVerifier};
use cairn_core::Error;

/// Methods anyone may call without a token. Everything else is refused
/// from its headers unless it carries a valid bearer token.
pub(crate) const PUBLIC: &[&str] = &[
    "/cairn.directory.v1.DirectoryService/ListCells",
    "/cairn.directory.v1.DirectoryService/ResolveCountry",
    "/cairn.directory.v1.DirectoryService/LocateLogin",
    "/cairn.accounts.v1.AccountsService/SignUp",
    "/cairn.accounts.v1.AccountsService/Login",
    "/cairn.accounts.v1.AccountsService/Refresh",
    "/cairn.accounts.v1.AccountsService/Logout",
    "/cairn.accounts.v1.AccountsService/ConfirmEmail",
    "/cairn.accounts.v1.AccountsService/RequestPasswordReset",
    "/cairn.accounts.v1.AccountsService/ResetPassword",
    "/cairn.accounts.v1.UsersService/AcceptInvitation",
    "/cairn.orgs.v1.OrgsService/EnrollAgent",
    "/cairn.orgs.v1.OrgsService/AgentToken",
];

/// Services whose every method is public.
const PUBLIC_SERVICES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The largest request body of a public call: a sign-up form is a few KiB.
pub(crate) const PUBLIC_BODY: usize = 64 * 1024;
/// Public calls in flight from one client address.
pub(crate) const PUBLIC_PER_ADDRESS: usize = 32;
/// Public calls in flight in the whole process: with [`PUBLIC_BODY`], at
/// most 16 MiB of request bodies held for callers without a token.
pub(crate) const PUBLIC_CALLS: usize = 256;
/// How long a public call may take, body included (a login that fails
/// waits up to 1.6 s; sign-up asks the directory).
pub(crate) const PUBLIC_CALL_LIMIT: Duration = Duration::from_secs(30);

pub(crate) fn is_public(path: &str) -> bool {
    PUBLIC.contains(&path) || PUBLIC_SERVICES.iter().any(|s| path.starts_with(s))
}

/// How a listener checks tokens.
#[derive(Clone)]
pub(crate) enum Tokens {
    /// The directory: tokens of any cell this process trusts.
    Directory(Arc<TokenVerifier>),
    /// A cell: tokens of this cell, others redirected to theirs.
    Cell(Authenticator),
}

impl Tokens {
    fn check(&self, headers: &http::HeaderMap) -> Result<(), Error> {
        let metadata = tonic::metadata::MetadataMap::from_headers(headers.clone());
        match self {
            Tokens::Cell(auth) => auth.authenticate_metadata(&metadata).map(|_| ()),
            Tokens::Directory(verifier) => {
                let token = metadata
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .ok_or_else(|| {
                        Error::Unauthenticated("missing authorization bearer token".into())
                    })?;
                verifier.verify(token).map(|_| ())
            }
        }
    }
}

/// Counts what each client address holds (connections, public calls) and
/// refuses past a limit.
#[derive(Clone, Default)]
pub(crate) struct PerAddress {
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One unit held by an address, given back when dropped.
pub(crate) struct Held {
    held: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl PerAddress {
    /// One more for `ip`, unless it holds `limit` already.
    pub(crate) fn take(&self, ip: IpAddr, limit: usize) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let count = held.entry(ip).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(Held {
            held: self.held.clone(),
            ip,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = held.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

#[derive(Clone)]
pub(crate) struct EdgeLayer {
    tokens: Tokens,
    per_address: PerAddress,
    calls: Arc<Semaphore>,
}

impl EdgeLayer {
    pub(crate) fn new(tokens: Tokens) -> EdgeLayer {
        EdgeLayer {
            tokens,
            per_address: PerAddress::default(),
            calls: Arc::new(Semaphore::new(PUBLIC_CALLS)),
        }
    }
}

impl<S> tower_layer::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            gate: self.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    gate: EdgeLayer,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// What a public call holds while it runs.
struct Admitted {
    _address: Option<Held>,
    _call: OwnedSemaphorePermit,
}

impl EdgeLayer {
    /// Admits a public call from `ip`, or says why not.
    fn admit(&self, ip: Option<IpAddr>) -> Result<Admitted, Error> {
        let address =
            match ip {
                Some(ip) => Some(self.per_address.take(ip, PUBLIC_PER_ADDRESS).ok_or_else(
                    || Error::RateLimited {
                        message: "too many calls without a token from this address at once".into(),
                        retry_after_secs: 1,
                    },
                )?),
                None => None,
            };
        let call = self
            .calls
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::Unavailable("the server is busy; try again".into()))?;
        Ok(Admitted {
            _address: address,
            _call: call,
        })
    }
}

impl<S, ResBody> tower_service::Service<http::Request<tonic::body::Body>> for Edge<S>
where
    S: tower_service::Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let refuse = |err: Error| -> Self::Future {
            let answer = tonic::Status::from(err).into_http();
            Box::pin(async move { Ok(answer) })
        };
        if !is_public(request.uri().path()) {
            // The body stays unread: a refused call is answered from its headers.
            if let Err(err) = self.gate.tokens.check(request.headers()) {
                return refuse(err);
            }
            return Box::pin(self.inner.call(request));
        }
        let ip = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|info| info.remote_addr())
            .map(|addr| addr.ip());
        let admitted = match self.gate.admit(ip) {
            Ok(admitted) => admitted,
            Err(err) => return refuse(err),
        };
        let method = request.uri().path().to_owned();
        let request = request.map(|body| tonic::body::Body::new(Capped::new(body, PUBLIC_BODY)));
        let call = self.inner.call(request);
        Box::pin(async move {
            let answer = tokio::time::timeout(PUBLIC_CALL_LIMIT, call).await;
            drop(admitted);
            match answer {
                Ok(answer) => answer,
                Err(_elapsed) => Ok(tonic::Status::from(Error::DeadlineExceeded(format!(
                    "{method} without a token must be done within {} s",
                    PUBLIC_CALL_LIMIT.as_secs()
                )))
                .into_http()),
            }
        })
    }
}

/// A request body that fails once it has brought more than its limit.
struct Capped {
    inner: tonic::body::Body,
    left: usize,
}

impl Capped {
    fn new(inner: tonic::body::Body, limit: usize) -> Capped {
        Capped { inner, left: limit }
    }
}

impl http_body::Body for Capped {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            if data.len() > this.left {
                this.left = 0;
                return Poll::Ready(Some(Err(tonic::Status::from(Error::invalid(
                    "request",
                    format!(
                        "a call without a token may send at most {} KiB",
                        PUBLIC_BODY / 1024
                    ),
                )))));
            }
            this.left -= data.len();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_public_method_exists_and_nothing_else_is_public() {
        let descriptors = <prost_types::FileDescriptorSet as prost::Message>::decode(
            cairn_proto::FILE_DESCRIPTOR_SET,
        )
        .unwrap();
        let mut methods = Vec::new();
        for file in &descriptors.file {
            for service in &file.service {
                for method in &service.method {
                    methods.push(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        for public in PUBLIC {
            assert!(
                methods.contains(&public.to_string()),
                "{public} is no method"
            );
        }
        for method in &methods {
            let expected = PUBLIC.contains(&method.as_str());
            assert_eq!(is_public(method), expected, "{method}");
        }
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(!is_public("/grpc.health.v1.HealthX/Check"));
    }

    #[test]
    fn an_address_holds_at_most_its_limit() {
        let counts = PerAddress::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<_> = (0..3).map(|_| counts.take(ip, 3).unwrap()).collect();
        assert!(counts.take(ip, 3).is_none());
        assert!(counts.take("192.0.2.2".parse().unwrap(), 3).is_some());
        drop(held);
        assert!(counts.take(ip, 3).is_some());
        assert!(counts.held.lock().unwrap().len() <= 1);
    }
}
