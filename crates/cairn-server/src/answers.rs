//! The statuses the gRPC library makes itself, answered like Cairn's own.
//!
//! tonic answers an unknown method, a request it cannot decode (too large,
//! not protobuf) and its own limits with bare statuses. This layer gives each
//! such answer the `google.rpc.ErrorInfo` every Cairn status carries (a
//! reason from [`Reason::for_code`], Cairn's domain), so clients can branch on
//! reasons everywhere. It also bounds each call: a call still running after
//! [`CALL_LIMIT`] is answered as DEADLINE_EXCEEDED with its reason, where
//! tonic's own server timeout would answer a bare CANCELLED.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::codegen::http;
use tonic_types::{ErrorDetails, StatusExt};

use cairn_core::{ERROR_DOMAIN, Error, Reason};

/// How long one call may run: long uploads and restores stream for a
/// while, and an hour bounds a stuck one.
pub(crate) const CALL_LIMIT: Duration = Duration::from_secs(3600);

const DETAILS_HEADER: &str = "grpc-status-details-bin";

#[derive(Clone, Copy, Debug)]
pub(crate) struct AnswersLayer {
    limit: Duration,
}

impl AnswersLayer {
    pub(crate) fn new(limit: Duration) -> AnswersLayer {
        AnswersLayer { limit }
    }
}

impl<S> tower_layer::Layer<S> for AnswersLayer {
    type Service = Answers<S>;

    fn layer(&self, inner: S) -> Answers<S> {
        Answers {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Answers<S> {
    inner: S,
    limit: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for Answers<S>
where
    S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = request.uri().path().to_owned();
        let call = self.inner.call(request);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(Ok(mut response)) => {
                    give_reason(response.headers_mut());
                    Ok(response)
                }
                Ok(Err(err)) => Err(err),
                Err(_elapsed) => {
                    let err = Error::DeadlineExceeded(format!(
                        "{method} ran past the server's limit of {} s for one call",
                        limit.as_secs()
                    ));
                    Ok(tonic::Status::from(err).into_http())
                }
            }
        })
    }
}

/// Adds an ErrorInfo to a trailers-only error answer that has none.
/// Answers with details (every status Cairn built) and successful ones are
/// left as they are; an error that comes at the end of a stream was built by
/// Cairn's handlers, which always add details.
fn give_reason(headers: &mut http::HeaderMap) {
    if headers.contains_key(DETAILS_HEADER) {
        return;
    }
    let Some(status) = tonic::Status::from_header_map(headers) else {
        return;
    };
    if status.code() == tonic::Code::Ok {
        return;
    }
    let reason = Reason::for_code(status.code());
    let details = ErrorDetails::with_error_info(reason.as_str(), ERROR_DOMAIN, HashMap::new());
    let with_reason = tonic::Status::with_error_details(status.code(), status.message(), details);
    if let Err(err) = with_reason.add_header(headers) {
        tracing::warn!(error = %err, "could not add a reason to a status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_of(status: tonic::Status) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[test]
    fn a_bare_status_gets_the_reason_of_its_code() {
        let mut headers = headers_of(tonic::Status::unimplemented("no such method"));
        give_reason(&mut headers);
        let status = tonic::Status::from_header_map(&headers).unwrap();
        assert_eq!(status.code(), tonic::Code::Unimplemented);
        assert_eq!(status.message(), "no such method");
        assert_eq!(Reason::of(&status), Some(Reason::Unimplemented));
    }

    #[test]
    fn a_status_with_details_is_left_alone() {
        let original = tonic::Status::from(Error::NoSeatLeft { used: 2, seats: 2 });
        let mut headers = headers_of(original.clone());
        give_reason(&mut headers);
        let status = tonic::Status::from_header_map(&headers).unwrap();
        assert_eq!(Reason::of(&status), Some(Reason::NoSeatLeft));
        assert_eq!(status.details(), original.details());
    }

    #[test]
    fn a_successful_answer_is_left_alone() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", "application/grpc".parse().unwrap());
        let before = headers.clone();
        give_reason(&mut headers);
        assert_eq!(headers, before);
    }
}
