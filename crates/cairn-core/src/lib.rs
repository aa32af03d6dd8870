//! Cairn's domain vocabulary: regions, identifiers, validated input types, the
//! one error type every service maps to a gRPC status with a stable reason
//! (and the functions a client reads that reason back with), and
//! configuration loading.
//!
//! This crate holds no I/O beyond reading configuration and secret files,
//! private file modes and the direct-I/O file writer the store and the agent
//! share; it must not
//! depend on a database, an object store or a service crate.

pub mod config;
pub mod direct_io;
pub mod error;
pub mod field;
pub mod ids;
pub mod limits;
pub mod people;
pub mod policy;
pub mod private;
pub mod process;
pub mod reason;
pub mod region;
pub mod secret;
pub mod transport;
pub mod validate;

pub use error::{EntityKind, Error, Result};
pub use ids::{
    AgentId, ChunkId, CompanyId, EnrollmentKeyId, GroupId, InvitationId, PackId, SnapshotId, UserId,
};
pub use reason::{ERROR_DOMAIN, Reason};
pub use region::Region;

/// gRPC metadata key carrying the endpoint of the cell a request should go to.
pub const REGION_ENDPOINT_METADATA: &str = "cairn-region-endpoint";

/// gRPC metadata key carrying how many seconds to wait before retrying.
pub const RETRY_AFTER_METADATA: &str = "retry-after";

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
