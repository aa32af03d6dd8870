//! Stable, machine-readable reasons for Cairn's non-OK statuses.
//!
//! Every status a Cairn server answers carries a `google.rpc.ErrorInfo` whose
//! `reason` is one of these names and whose `domain` is [`ERROR_DOMAIN`].
//! Clients branch on the reason, never on the message: messages are for
//! people and may change, reasons are part of the protocol and never do.
//!
//! A client reads a status back with [`Reason::of`], [`retry_delay`],
//! [`field`] and [`info`]; the keys of the ErrorInfo metadata are in
//! [`info_key`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tonic_types::StatusExt;

/// `google.rpc.ErrorInfo.domain` of every reason Cairn sets.
pub const ERROR_DOMAIN: &str = "cairn.backup";

macro_rules! reasons {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// Why a call failed, as a client may act on it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $($(#[$doc])* $variant,)+
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)+];

            /// The reason's wire name (`ErrorInfo.reason`), stable across releases.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $name,)+
                }
            }
        }

        impl FromStr for Reason {
            type Err = UnknownReason;

            fn from_str(s: &str) -> Result<Reason, UnknownReason> {
                match s {
                    $($name => Ok(Reason::$variant),)+
                    _ => Err(UnknownReason(s.to_owned())),
                }
            }
        }
    };
}

reasons! {
    /// A request field is missing or malformed; `ErrorInfo.metadata["field"]` names it.
    InvalidArgument => "INVALID_ARGUMENT",
    /// The entity does not exist, or belongs to another tenant.
    NotFound => "NOT_FOUND",
    /// The entity already exists.
    AlreadyExists => "ALREADY_EXISTS",
    /// No credential, or one that is not (or no longer) valid.
    Unauthenticated => "UNAUTHENTICATED",
    /// A valid credential without the role the call needs.
    PermissionDenied => "PERMISSION_DENIED",
    /// The request belongs to another region's cell; the
    /// `cairn-region-endpoint` metadata names it.
    WrongRegion => "WRONG_REGION",
    /// A storage quota (the company's or a group's) is reached.
    QuotaExceeded => "QUOTA_EXCEEDED",
    /// Every seat the company bought is held by an enrolled machine.
    NoSeatLeft => "NO_SEAT_LEFT",
    /// Too many attempts; RetryInfo says when to try again.
    RateLimited => "RATE_LIMITED",
    /// A snapshot references chunks the company does not hold.
    ChunksNotStored => "CHUNKS_NOT_STORED",
    /// The system is not in a state that allows the call.
    FailedPrecondition => "FAILED_PRECONDITION",
    /// The client cancelled the call or its request stream.
    Cancelled => "CANCELLED",
    /// A dependency cannot be reached now, or the client's connection broke;
    /// RetryInfo says when to try again.
    Unavailable => "UNAVAILABLE",
    /// The call ran past the server's limit for one call.
    DeadlineExceeded => "DEADLINE_EXCEEDED",
    /// The server does not serve this method.
    Unimplemented => "UNIMPLEMENTED",
    /// A bug or an infrastructure failure on the server.
    Internal => "INTERNAL",
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Reason {
    /// The reason a Cairn server gave for `status`, from its ErrorInfo in
    /// Cairn's domain. `None` for a status without one (from a proxy or the
    /// transport), of another domain, or with a reason this build does not
    /// know (a newer server's): treat it by its code.
    pub fn of(status: &tonic::Status) -> Option<Reason> {
        let info = status.get_details_error_info()?;
        if info.domain != ERROR_DOMAIN {
            return None;
        }
        info.reason.parse().ok()
    }

    /// The reason for a status the gRPC library made itself (an unknown
    /// method, a request it could not decode, a connection limit), which no
    /// Cairn error built: the nearest reason to its code.
    pub fn for_code(code: tonic::Code) -> Reason {
        use tonic::Code;
        match code {
            Code::Ok | Code::Unknown | Code::Internal | Code::DataLoss => Reason::Internal,
            Code::Cancelled => Reason::Cancelled,
            Code::InvalidArgument | Code::OutOfRange => Reason::InvalidArgument,
            Code::DeadlineExceeded => Reason::DeadlineExceeded,
            Code::NotFound => Reason::NotFound,
            Code::AlreadyExists => Reason::AlreadyExists,
            Code::PermissionDenied => Reason::PermissionDenied,
            Code::ResourceExhausted | Code::Unavailable => Reason::Unavailable,
            Code::FailedPrecondition | Code::Aborted => Reason::FailedPrecondition,
            Code::Unimplemented => Reason::Unimplemented,
            Code::Unauthenticated => Reason::Unauthenticated,
        }
    }
}

/// How long the server asks the caller to wait before trying again
/// (`google.rpc.RetryInfo`), if it says.
pub fn retry_delay(status: &tonic::Status) -> Option<Duration> {
    status.get_details_retry_info()?.retry_delay
}

/// The entry `key` (one of [`info_key`]) of the ErrorInfo metadata of a
/// Cairn status.
pub fn info(status: &tonic::Status, key: &str) -> Option<String> {
    let mut info = status.get_details_error_info()?;
    if info.domain != ERROR_DOMAIN {
        return None;
    }
    info.metadata.remove(key)
}

/// The request field an `INVALID_ARGUMENT` (or `CHUNKS_NOT_STORED`) names.
pub fn field(status: &tonic::Status) -> Option<String> {
    info(status, info_key::FIELD)
}

/// Keys of the ErrorInfo metadata a Cairn server sets; stable like the
/// reasons.
pub mod info_key {
    /// The request field that was wrong (`INVALID_ARGUMENT`, `CHUNKS_NOT_STORED`).
    pub const FIELD: &str = "field";
    /// The kind of entity (`NOT_FOUND`, `ALREADY_EXISTS`), in snake case:
    /// `company`, `snapshot`, `enrollment_key`, ...
    pub const KIND: &str = "kind";
    /// The region the request belongs to (`WRONG_REGION`): `us`, `eu`.
    pub const REGION: &str = "region";
    /// The endpoint of that region's cell (`WRONG_REGION`).
    pub const ENDPOINT: &str = "endpoint";
    /// Seats in use and seats bought (`NO_SEAT_LEFT`).
    pub const USED: &str = "used";
    pub const SEATS: &str = "seats";
    /// How many referenced chunks are not stored, and the first of them in
    /// hex (`CHUNKS_NOT_STORED`).
    pub const LACKING: &str = "lacking";
    pub const FIRST: &str = "first";
}

/// A reason name this build does not know (a newer server's, say).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown error reason `{0}`")]
pub struct UnknownReason(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_through_its_name() {
        for reason in Reason::ALL {
            assert_eq!(reason.as_str().parse::<Reason>(), Ok(*reason));
        }
    }

    #[test]
    fn names_are_unique_and_upper_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for reason in Reason::ALL {
            let name = reason.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{name}"
            );
        }
    }

    #[test]
    fn an_unknown_name_is_refused() {
        assert_eq!(
            "NO_SUCH_THING".parse::<Reason>(),
            Err(UnknownReason("NO_SUCH_THING".into()))
        );
    }
}
