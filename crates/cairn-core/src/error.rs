//! The error every Cairn service returns, and its exhaustive mapping to a gRPC
//! status that carries the error's stable [`Reason`] in a `google.rpc.ErrorInfo`
//! (and a `RetryInfo` where a retry makes sense). Internal errors are logged
//! with their context and answered as a bare `INTERNAL`, so SQL, paths and
//! keys never leak to a caller.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_types::{ErrorDetails, StatusExt};

use crate::reason::info_key;
use crate::{
    ChunkId, ERROR_DOMAIN, REGION_ENDPOINT_METADATA, RETRY_AFTER_METADATA, Reason, Region,
};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of entity an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntityKind {
    Company,
    User,
    Login,
    Agent,
    EnrollmentKey,
    Snapshot,
    Chunk,
    Pack,
    Cell,
    Group,
    Invitation,
}

impl EntityKind {
    /// The kind's stable name in a status's ErrorInfo (`kind`): snake case.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Company => "company",
            EntityKind::User => "user",
            EntityKind::Login => "login",
            EntityKind::Agent => "agent",
            EntityKind::EnrollmentKey => "enrollment_key",
            EntityKind::Snapshot => "snapshot",
            EntityKind::Chunk => "chunk",
            EntityKind::Pack => "pack",
            EntityKind::Cell => "cell",
            EntityKind::Group => "group",
            EntityKind::Invitation => "invitation",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::Company => "company",
            EntityKind::User => "user",
            EntityKind::Login => "login",
            EntityKind::Agent => "agent",
            EntityKind::EnrollmentKey => "enrollment key",
            EntityKind::Snapshot => "snapshot",
            EntityKind::Chunk => "chunk",
            EntityKind::Pack => "pack",
            EntityKind::Cell => "cell",
            EntityKind::Group => "group",
            EntityKind::Invitation => "invitation",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing or malformed.
    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    /// The entity does not exist, or belongs to another tenant.
    #[error("{kind} {id} not found")]
    NotFound { kind: EntityKind, id: String },
    #[error("{kind} already exists")]
    AlreadyExists { kind: EntityKind },
    /// No credential, or a bad one.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// A valid credential without the role for this call.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The request belongs to another region's cell.
    #[error("this request belongs to region {region}, served at {endpoint}")]
    WrongRegion { region: Region, endpoint: String },
    /// A storage quota, the company's or a group's, is reached; the message
    /// says which, and who may raise it.
    #[error("{0}")]
    QuotaExceeded(String),
    /// Every seat the company bought is held by an enrolled machine.
    #[error("no seat left: {used} of {seats} seats are in use; buy more seats or revoke an agent")]
    NoSeatLeft { used: i64, seats: i64 },
    /// Too many attempts: try again after `retry_after_secs`.
    #[error("{message}; try again in {retry_after_secs} seconds")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// A snapshot references chunks the company does not hold: `lacking` of
    /// the `checked` ids, the first of them `first`. Answered as a bad
    /// `chunk_ids` field, which it is.
    #[error(
        "invalid chunk_ids: referenced chunks are not stored for this company: {lacking} of {checked} checked, the first {first}"
    )]
    ChunksNotStored {
        lacking: usize,
        checked: usize,
        first: ChunkId,
    },
    /// The system is not in a state that allows the call.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The client cancelled the call or reset its request stream.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// The client's request stream broke off: its connection went away.
    #[error("the request stream broke: {0}")]
    StreamBroken(String),
    /// A dependency (another service, the store) cannot be reached now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The call ran past the server's limit for one call.
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// The server does not serve this method.
    #[error("not implemented: {0}")]
    Unimplemented(String),
    /// A bug or an infrastructure failure; the message is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

/// How long a caller is asked to wait before it retries a call that found a
/// dependency unavailable or its connection broken.
pub const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(kind: EntityKind, id: impl fmt::Display) -> Self {
        Error::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    pub fn internal(context: impl fmt::Display) -> Self {
        Error::Internal(context.to_string())
    }

    /// Wraps an infrastructure error with what was being done.
    pub fn internal_with(what: &str, err: impl fmt::Display) -> Self {
        Error::Internal(format!("{what}: {err}"))
    }

    /// What a failed read of a request stream means. The transport reports a
    /// stream the client reset or abandoned as cancelled, and a connection
    /// that went away as unavailable or unknown, with the transport's error
    /// as the status's source; the codec reports bytes that are no valid
    /// message (too large, undecodable) without a source: only that is bad
    /// input, named as the `stream` field.
    pub fn from_request_stream(status: tonic::Status) -> Self {
        use std::error::Error as _;
        match status.code() {
            Code::Cancelled | Code::DeadlineExceeded => {
                Error::Cancelled(status.message().to_owned())
            }
            Code::Unavailable | Code::Unknown | Code::Aborted => {
                Error::StreamBroken(status.message().to_owned())
            }
            _ if status.source().is_some() => Error::StreamBroken(status.message().to_owned()),
            _ => Error::invalid("stream", status.message()),
        }
    }

    /// The status code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument { .. } | Error::ChunksNotStored { .. } => Code::InvalidArgument,
            Error::NotFound { .. } => Code::NotFound,
            Error::AlreadyExists { .. } => Code::AlreadyExists,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::WrongRegion { .. } | Error::FailedPrecondition(_) => Code::FailedPrecondition,
            Error::QuotaExceeded(_) | Error::NoSeatLeft { .. } | Error::RateLimited { .. } => {
                Code::ResourceExhausted
            }
            Error::Cancelled(_) => Code::Cancelled,
            Error::StreamBroken(_) | Error::Unavailable(_) => Code::Unavailable,
            Error::DeadlineExceeded(_) => Code::DeadlineExceeded,
            Error::Unimplemented(_) => Code::Unimplemented,
            Error::Internal(_) => Code::Internal,
        }
    }

    /// The stable reason this error is answered with.
    pub fn reason(&self) -> Reason {
        match self {
            Error::InvalidArgument { .. } => Reason::InvalidArgument,
            Error::NotFound { .. } => Reason::NotFound,
            Error::AlreadyExists { .. } => Reason::AlreadyExists,
            Error::Unauthenticated(_) => Reason::Unauthenticated,
            Error::PermissionDenied(_) => Reason::PermissionDenied,
            Error::WrongRegion { .. } => Reason::WrongRegion,
            Error::QuotaExceeded(_) => Reason::QuotaExceeded,
            Error::NoSeatLeft { .. } => Reason::NoSeatLeft,
            Error::RateLimited { .. } => Reason::RateLimited,
            Error::ChunksNotStored { .. } => Reason::ChunksNotStored,
            Error::FailedPrecondition(_) => Reason::FailedPrecondition,
            Error::Cancelled(_) => Reason::Cancelled,
            Error::StreamBroken(_) | Error::Unavailable(_) => Reason::Unavailable,
            Error::DeadlineExceeded(_) => Reason::DeadlineExceeded,
            Error::Unimplemented(_) => Reason::Unimplemented,
            Error::Internal(_) => Reason::Internal,
        }
    }
}

/// A status with `message`, the ErrorInfo of `err` (its reason, Cairn's
/// domain, `info`), and a RetryInfo when `retry` is set.
fn status(
    err: &Error,
    message: String,
    info: HashMap<String, String>,
    retry: Option<Duration>,
) -> tonic::Status {
    let mut details = ErrorDetails::with_error_info(err.reason().as_str(), ERROR_DOMAIN, info);
    if retry.is_some() {
        details.set_retry_info(retry);
    }
    tonic::Status::with_error_details(err.code(), message, details)
}

fn info<const N: usize>(pairs: [(&str, String); N]) -> HashMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match &err {
            Error::InvalidArgument { field, .. } => status(
                &err,
                message,
                info([(info_key::FIELD, field.clone())]),
                None,
            ),
            Error::NotFound { kind, .. } | Error::AlreadyExists { kind } => status(
                &err,
                message,
                info([(info_key::KIND, kind.name().to_owned())]),
                None,
            ),
            Error::Unauthenticated(_)
            | Error::PermissionDenied(_)
            | Error::QuotaExceeded(_)
            | Error::FailedPrecondition(_) => status(&err, message, HashMap::new(), None),
            Error::WrongRegion { region, endpoint } => {
                let pairs = [
                    (info_key::REGION, region.to_string()),
                    (info_key::ENDPOINT, endpoint.clone()),
                ];
                let mut status = status(&err, message, info(pairs), None);
                if let Ok(value) = MetadataValue::try_from(endpoint.as_str()) {
                    status
                        .metadata_mut()
                        .insert(REGION_ENDPOINT_METADATA, value);
                }
                status
            }
            Error::NoSeatLeft { used, seats } => {
                let pairs = [
                    (info_key::USED, used.to_string()),
                    (info_key::SEATS, seats.to_string()),
                ];
                status(&err, message, info(pairs), None)
            }
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                let retry = Some(Duration::from_secs(*retry_after_secs));
                let mut status = status(&err, message, HashMap::new(), retry);
                status
                    .metadata_mut()
                    .insert(RETRY_AFTER_METADATA, MetadataValue::from(*retry_after_secs));
                status
            }
            Error::ChunksNotStored { lacking, first, .. } => {
                let pairs = [
                    (info_key::FIELD, "chunk_ids".to_owned()),
                    (info_key::LACKING, lacking.to_string()),
                    (info_key::FIRST, first.to_hex()),
                ];
                status(&err, message, info(pairs), None)
            }
            Error::Cancelled(msg) => {
                tracing::debug!(error = %msg, "call cancelled by the client");
                status(&err, message, HashMap::new(), None)
            }
            Error::StreamBroken(msg) => {
                tracing::info!(error = %msg, "request stream broke");
                let retry = Some(UNAVAILABLE_RETRY_AFTER);
                status(&err, message, HashMap::new(), retry)
            }
            Error::Unavailable(msg) => {
                tracing::warn!(error = %msg, "dependency unavailable");
                let retry = Some(UNAVAILABLE_RETRY_AFTER);
                let message = "a dependency is unavailable, try again".to_owned();
                status(&err, message, HashMap::new(), retry)
            }
            Error::DeadlineExceeded(msg) => {
                tracing::warn!(error = %msg, "call ran past its deadline");
                status(&err, message, HashMap::new(), None)
            }
            Error::Unimplemented(_) => status(&err, message, HashMap::new(), None),
            Error::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                status(&err, "internal error".to_owned(), HashMap::new(), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason;

    /// One error of each variant, with the code and reason it must be
    /// answered with. The match has no `_ =>`: a new variant does not
    /// compile until it is listed here.
    fn expected(err: &Error) -> (Code, Reason) {
        match err {
            Error::InvalidArgument { .. } => (Code::InvalidArgument, Reason::InvalidArgument),
            Error::NotFound { .. } => (Code::NotFound, Reason::NotFound),
            Error::AlreadyExists { .. } => (Code::AlreadyExists, Reason::AlreadyExists),
            Error::Unauthenticated(_) => (Code::Unauthenticated, Reason::Unauthenticated),
            Error::PermissionDenied(_) => (Code::PermissionDenied, Reason::PermissionDenied),
            Error::WrongRegion { .. } => (Code::FailedPrecondition, Reason::WrongRegion),
            Error::QuotaExceeded(_) => (Code::ResourceExhausted, Reason::QuotaExceeded),
            Error::NoSeatLeft { .. } => (Code::ResourceExhausted, Reason::NoSeatLeft),
            Error::RateLimited { .. } => (Code::ResourceExhausted, Reason::RateLimited),
            Error::ChunksNotStored { .. } => (Code::InvalidArgument, Reason::ChunksNotStored),
            Error::FailedPrecondition(_) => (Code::FailedPrecondition, Reason::FailedPrecondition),
            Error::Cancelled(_) => (Code::Cancelled, Reason::Cancelled),
            Error::StreamBroken(_) => (Code::Unavailable, Reason::Unavailable),
            Error::Unavailable(_) => (Code::Unavailable, Reason::Unavailable),
            Error::DeadlineExceeded(_) => (Code::DeadlineExceeded, Reason::DeadlineExceeded),
            Error::Unimplemented(_) => (Code::Unimplemented, Reason::Unimplemented),
            Error::Internal(_) => (Code::Internal, Reason::Internal),
        }
    }

    fn one_of_each() -> Vec<Error> {
        vec![
            Error::invalid("email", "is not an email address"),
            Error::not_found(EntityKind::Snapshot, "s-1"),
            Error::AlreadyExists {
                kind: EntityKind::Login,
            },
            Error::Unauthenticated("token expired".into()),
            Error::PermissionDenied("admins only".into()),
            Error::WrongRegion {
                region: Region::Eu,
                endpoint: "http://127.0.0.1:7402".into(),
            },
            Error::QuotaExceeded("storage quota exceeded".into()),
            Error::NoSeatLeft { used: 1, seats: 1 },
            Error::RateLimited {
                message: "too many failed logins".into(),
                retry_after_secs: 30,
            },
            Error::ChunksNotStored {
                lacking: 1,
                checked: 2,
                first: ChunkId([6; 32]),
            },
            Error::FailedPrecondition("confirm your email".into()),
            Error::Cancelled("stream reset".into()),
            Error::StreamBroken("connection reset".into()),
            Error::Unavailable("directory down".into()),
            Error::DeadlineExceeded("the call took over an hour".into()),
            Error::Unimplemented("/cairn.nothing.v1.Nothing/Call".into()),
            Error::internal("SELECT * FROM secrets failed"),
        ]
    }

    #[test]
    fn every_variant_is_answered_with_its_code_and_reason() {
        let errors = one_of_each();
        let variants: std::collections::HashSet<_> =
            errors.iter().map(std::mem::discriminant).collect();
        assert_eq!(variants.len(), errors.len(), "a variant is listed twice");
        let mut reasons = std::collections::HashSet::new();
        for err in errors {
            let (code, reason) = expected(&err);
            assert_eq!((err.code(), err.reason()), (code, reason), "{err:?}");
            let status = tonic::Status::from(err);
            assert_eq!(status.code(), code, "{status:?}");
            assert_eq!(Reason::of(&status), Some(reason), "{status:?}");
            let info = status.get_details_error_info().unwrap();
            assert_eq!(info.domain, ERROR_DOMAIN);
            reasons.insert(reason);
        }
        // Every reason is one some error is answered with, so a client
        // never waits for a reason no server sends.
        for reason in Reason::ALL {
            assert!(reasons.contains(reason), "no error answers {reason}");
        }
    }

    #[test]
    fn invalid_argument_names_the_field() {
        let status = tonic::Status::from(Error::invalid("email", "is not an email address"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "invalid email: is not an email address");
        assert_eq!(reason::field(&status).as_deref(), Some("email"));
        assert_eq!(reason::retry_delay(&status), None);
    }

    #[test]
    fn not_found_names_the_kind() {
        let status = tonic::Status::from(Error::not_found(EntityKind::Snapshot, "s-1"));
        assert_eq!(status.message(), "snapshot s-1 not found");
        assert_eq!(
            reason::info(&status, info_key::KIND).as_deref(),
            Some("snapshot")
        );
        let status = tonic::Status::from(Error::not_found(EntityKind::EnrollmentKey, "k"));
        assert_eq!(status.message(), "enrollment key k not found");
        assert_eq!(
            reason::info(&status, info_key::KIND).as_deref(),
            Some("enrollment_key")
        );
    }

    #[test]
    fn internal_hides_the_detail() {
        let status = tonic::Status::from(Error::internal("SELECT * FROM secrets failed"));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert_eq!(status.message(), "internal error");
        assert!(!format!("{:?}", status.get_error_details()).contains("SELECT"));
    }

    #[test]
    fn wrong_region_carries_the_endpoint() {
        let status = tonic::Status::from(Error::WrongRegion {
            region: Region::Eu,
            endpoint: "http://127.0.0.1:7402".into(),
        });
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(
            status.metadata().get(REGION_ENDPOINT_METADATA).unwrap(),
            "http://127.0.0.1:7402"
        );
        assert_eq!(
            reason::info(&status, info_key::ENDPOINT).as_deref(),
            Some("http://127.0.0.1:7402")
        );
        assert_eq!(
            reason::info(&status, info_key::REGION).as_deref(),
            Some("eu")
        );
    }

    #[test]
    fn rate_limited_says_when_to_retry() {
        let status = tonic::Status::from(Error::RateLimited {
            message: "too many failed logins".into(),
            retry_after_secs: 30,
        });
        assert_eq!(
            status.message(),
            "too many failed logins; try again in 30 seconds"
        );
        assert_eq!(status.metadata().get(RETRY_AFTER_METADATA).unwrap(), "30");
        assert_eq!(reason::retry_delay(&status), Some(Duration::from_secs(30)));
    }

    #[test]
    fn unavailable_asks_for_a_retry_and_hides_the_detail() {
        let status = tonic::Status::from(Error::Unavailable("directory: refused".into()));
        assert_eq!(status.message(), "a dependency is unavailable, try again");
        assert_eq!(reason::retry_delay(&status), Some(UNAVAILABLE_RETRY_AFTER));
    }

    #[test]
    fn messages_of_the_split_variants_stay_as_they_were() {
        let seats = tonic::Status::from(Error::NoSeatLeft { used: 1, seats: 1 });
        assert_eq!(
            seats.message(),
            "no seat left: 1 of 1 seats are in use; buy more seats or revoke an agent"
        );
        let chunks = tonic::Status::from(Error::ChunksNotStored {
            lacking: 1,
            checked: 2,
            first: ChunkId([6; 32]),
        });
        assert_eq!(
            chunks.message(),
            format!(
                "invalid chunk_ids: referenced chunks are not stored for this company: 1 of 2 checked, the first {}",
                "06".repeat(32)
            )
        );
        assert_eq!(reason::field(&chunks).as_deref(), Some("chunk_ids"));
        let quota = tonic::Status::from(Error::QuotaExceeded("storage quota exceeded".into()));
        assert_eq!(quota.message(), "storage quota exceeded");
    }

    #[test]
    fn a_cancelled_request_stream_is_not_bad_input() {
        let err = Error::from_request_stream(tonic::Status::cancelled("stream reset by peer"));
        assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
        assert_eq!(tonic::Status::from(err).code(), Code::Cancelled);
    }

    #[test]
    fn a_broken_connection_is_unavailable() {
        // What tonic makes of an I/O error under the request body: a status
        // whose source is the transport's error.
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let status = tonic::Status::from_error(Box::new(reset));
        let err = Error::from_request_stream(status);
        assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
        assert_eq!(tonic::Status::from(err).code(), Code::Unavailable);

        let err = Error::from_request_stream(tonic::Status::unavailable("goaway"));
        assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
    }

    #[test]
    fn an_undecodable_message_is_bad_input_naming_the_stream() {
        let err = Error::from_request_stream(tonic::Status::internal(
            "failed to decode Protobuf message: invalid wire type",
        ));
        let status = tonic::Status::from(err);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason::field(&status).as_deref(), Some("stream"));
        let err = Error::from_request_stream(tonic::Status::out_of_range("message too large"));
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    #[test]
    fn a_status_from_elsewhere_has_no_reason() {
        assert_eq!(Reason::of(&tonic::Status::unavailable("proxy down")), None);
        let foreign = tonic::Status::with_error_details(
            Code::NotFound,
            "no such bucket",
            ErrorDetails::with_error_info("NOT_FOUND", "example.com", HashMap::new()),
        );
        assert_eq!(Reason::of(&foreign), None);
        assert_eq!(reason::field(&foreign), None);
    }
}
