//! The error every Cairn service returns, and its exhaustive mapping to a gRPC
//! status. Internal errors are logged with their context and answered as a
//! bare `INTERNAL`, so SQL, paths and keys never leak to a caller.

use std::fmt;

use tonic::metadata::MetadataValue;

use crate::{REGION_ENDPOINT_METADATA, RETRY_AFTER_METADATA, Region};

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
    /// A limit is reached (seats, quota).
    #[error("{0}")]
    ResourceExhausted(String),
    /// Too many attempts: try again after `retry_after_secs`.
    #[error("{message}; try again in {retry_after_secs} seconds")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The system is not in a state that allows the call.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A dependency (another service, the store) cannot be reached now.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an infrastructure failure; the message is logged, not returned.
    #[error("internal error: {0}")]
    Internal(String),
}

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
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument { .. } => tonic::Status::invalid_argument(err.to_string()),
            Error::NotFound { .. } => tonic::Status::not_found(err.to_string()),
            Error::AlreadyExists { .. } => tonic::Status::already_exists(err.to_string()),
            Error::Unauthenticated(_) => tonic::Status::unauthenticated(err.to_string()),
            Error::PermissionDenied(_) => tonic::Status::permission_denied(err.to_string()),
            Error::WrongRegion { ref endpoint, .. } => {
                let mut status = tonic::Status::failed_precondition(err.to_string());
                if let Ok(value) = MetadataValue::try_from(endpoint.as_str()) {
                    status
                        .metadata_mut()
                        .insert(REGION_ENDPOINT_METADATA, value);
                }
                status
            }
            Error::ResourceExhausted(msg) => tonic::Status::resource_exhausted(msg),
            Error::RateLimited {
                retry_after_secs, ..
            } => {
                let mut status = tonic::Status::resource_exhausted(err.to_string());
                status
                    .metadata_mut()
                    .insert(RETRY_AFTER_METADATA, MetadataValue::from(retry_after_secs));
                status
            }
            Error::FailedPrecondition(msg) => tonic::Status::failed_precondition(msg),
            Error::Unavailable(msg) => {
                tracing::warn!(error = %msg, "dependency unavailable");
                tonic::Status::unavailable("a dependency is unavailable, try again")
            }
            Error::Internal(msg) => {
                tracing::error!(error = %msg, "internal error");
                tonic::Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field() {
        let status = tonic::Status::from(Error::invalid("email", "is not an email address"));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("email"));
    }

    #[test]
    fn internal_hides_the_detail() {
        let status = tonic::Status::from(Error::internal("SELECT * FROM secrets failed"));
        assert_eq!(status.code(), tonic::Code::Internal);
        assert!(!status.message().contains("SELECT"));
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
    }
}
