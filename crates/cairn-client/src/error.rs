//! The one error type of the client layer, read from a status's
//! `google.rpc.ErrorInfo` and `RetryInfo` (or, from servers that predate
//! them, from the `cairn-region-endpoint` and `retry-after` metadata).

use std::time::Duration;

use tonic::Code;
use tonic_types::StatusExt;

use cairn_core::{ERROR_DOMAIN, REGION_ENDPOINT_METADATA, RETRY_AFTER_METADATA, Reason};

/// Why a call through `cairn-client` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The server (or the transport, for UNAVAILABLE and DEADLINE_EXCEEDED)
    /// answered with a non-OK status.
    #[error("{message}")]
    Status {
        code: Code,
        /// The stable reason, when the server sent one this build knows.
        reason: Option<Reason>,
        /// The server's message, for people; never branch on it.
        message: String,
        /// How long the server asked us to wait before trying again.
        retry_after: Option<Duration>,
        /// The endpoint of the cell the request belongs to (WRONG_REGION).
        redirect: Option<String>,
    },
    /// The endpoint cannot be parsed as a URI.
    #[error("`{endpoint}` is not a valid endpoint: {detail}")]
    InvalidEndpoint { endpoint: String, detail: String },
    /// The endpoint asks for something this build cannot do yet (TLS).
    #[error("cannot connect to `{endpoint}`: {detail}")]
    Unsupported { endpoint: String, detail: String },
    /// The server's answer lacks a field it must carry.
    #[error("the server's answer has no `{field}`")]
    MissingField { field: &'static str },
    /// A credential could not be obtained or cannot be sent.
    #[error("no usable credential: {0}")]
    Credential(String),
    /// The directory knows no cell for the region asked for.
    #[error("the directory knows no cell for region {region}")]
    NoCell { region: cairn_core::Region },
}

impl ClientError {
    /// The gRPC code: the server's, or the closest one for a local failure.
    pub fn code(&self) -> Code {
        match self {
            ClientError::Status { code, .. } => *code,
            ClientError::InvalidEndpoint { .. } => Code::InvalidArgument,
            ClientError::Unsupported { .. } => Code::Unimplemented,
            ClientError::MissingField { .. } => Code::Internal,
            ClientError::Credential(_) => Code::Unauthenticated,
            ClientError::NoCell { .. } => Code::NotFound,
        }
    }

    /// The stable reason, when known.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            ClientError::Status { reason, .. } => *reason,
            _ => None,
        }
    }

    /// The human-readable message (the server's, for a status).
    pub fn message(&self) -> String {
        match self {
            ClientError::Status { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }

    /// The delay the server asked for before a retry.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The endpoint of the right cell, for a wrong-region answer.
    pub fn redirect(&self) -> Option<&str> {
        match self {
            ClientError::Status {
                redirect: Some(endpoint),
                ..
            } => Some(endpoint),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed: the server
    /// or the network was unavailable, or the server asked us to slow down.
    /// Only idempotent calls are ever retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Status { code, reason, .. } => match reason {
                Some(Reason::RateLimited | Reason::Unavailable) => true,
                Some(_) => false,
                None => *code == Code::Unavailable,
            },
            ClientError::InvalidEndpoint { .. }
            | ClientError::Unsupported { .. }
            | ClientError::MissingField { .. }
            | ClientError::Credential(_)
            | ClientError::NoCell { .. } => false,
        }
    }

    /// A deadline that passed on this side of the connection.
    pub(crate) fn deadline_exceeded(after: Duration) -> ClientError {
        ClientError::Status {
            code: Code::DeadlineExceeded,
            reason: None,
            message: format!("no answer within {} ms", after.as_millis()),
            retry_after: None,
            redirect: None,
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> ClientError {
        let details = status.get_error_details();
        let info = details
            .error_info()
            .filter(|info| info.domain == ERROR_DOMAIN);
        let reason = info
            .and_then(|info| info.reason.parse::<Reason>().ok())
            .or_else(|| legacy_reason(&status));
        let redirect = info
            .and_then(|info| info.metadata.get(REGION_ENDPOINT_METADATA).cloned())
            .or_else(|| metadata_str(&status, REGION_ENDPOINT_METADATA).map(str::to_owned));
        let retry_after = details
            .retry_info()
            .and_then(|retry| retry.retry_delay)
            .or_else(|| {
                metadata_str(&status, RETRY_AFTER_METADATA)
                    .and_then(|secs| secs.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
            });
        ClientError::Status {
            code: status.code(),
            reason,
            message: status.message().to_owned(),
            retry_after,
            redirect,
        }
    }
}

fn metadata_str<'a>(status: &'a tonic::Status, key: &str) -> Option<&'a str> {
    status.metadata().get(key).and_then(|v| v.to_str().ok())
}

/// The reason a server without ErrorInfo meant, from the metadata it set.
fn legacy_reason(status: &tonic::Status) -> Option<Reason> {
    let has = |key| status.metadata().get(key).is_some();
    match status.code() {
        Code::FailedPrecondition if has(REGION_ENDPOINT_METADATA) => Some(Reason::WrongRegion),
        Code::ResourceExhausted if has(RETRY_AFTER_METADATA) => Some(Reason::RateLimited),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn error_info_and_retry_info_are_read() {
        let mut details = ErrorDetails::with_error_info(
            Reason::RateLimited.as_str(),
            ERROR_DOMAIN,
            std::collections::HashMap::new(),
        );
        details.set_retry_info(Some(Duration::from_secs(7)));
        let status =
            tonic::Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        let err = ClientError::from(status);
        assert_eq!(err.reason(), Some(Reason::RateLimited));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(err.message(), "slow down");
        assert!(err.is_retryable());
    }

    #[test]
    fn legacy_metadata_still_names_the_region_and_the_delay() {
        let mut moved = tonic::Status::failed_precondition("wrong region");
        moved.metadata_mut().insert(
            REGION_ENDPOINT_METADATA,
            "http://us.example:7401".parse().unwrap(),
        );
        let err = ClientError::from(moved);
        assert_eq!(err.reason(), Some(Reason::WrongRegion));
        assert_eq!(err.redirect(), Some("http://us.example:7401"));
        assert!(!err.is_retryable());

        let mut throttled = tonic::Status::resource_exhausted("too many failed logins");
        throttled
            .metadata_mut()
            .insert(RETRY_AFTER_METADATA, "42".parse().unwrap());
        let err = ClientError::from(throttled);
        assert_eq!(err.reason(), Some(Reason::RateLimited));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(42)));
    }

    #[test]
    fn a_foreign_domain_is_not_taken_for_a_cairn_reason() {
        let details = ErrorDetails::with_error_info(
            "QUOTA_EXCEEDED",
            "example.com",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(Code::ResourceExhausted, "x", details);
        assert_eq!(ClientError::from(status).reason(), None);
    }

    #[test]
    fn only_unavailable_and_rate_limited_are_retryable() {
        assert!(ClientError::from(tonic::Status::unavailable("down")).is_retryable());
        assert!(!ClientError::from(tonic::Status::internal("bug")).is_retryable());
        assert!(!ClientError::from(tonic::Status::resource_exhausted("quota")).is_retryable());
        assert!(!ClientError::deadline_exceeded(Duration::from_secs(1)).is_retryable());
    }
}
