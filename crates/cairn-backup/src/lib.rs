//! Backup ingestion, snapshots and restore for the companies of one region
//! cell. Packs are written create-only to the cell's bucket, checked, and only
//! then indexed in one transaction; a snapshot is committed last and may only
//! reference chunks its machine's person holds (or its previous snapshot
//! references). Dedup is company-wide, existence and bytes per person: a
//! machine learns of, commits and restores only its own person's chunks, as
//! the copy that person uploaded. The server never sees keys or plaintext.
//!
//! Callers, quotas, groups and agent status come from cairn-tenancy, inside
//! this crate's own transactions; it depends on no other service crate.
//! Only the gRPC adapter (`grpc`) knows tonic and the protos: it decodes
//! requests and request streams into domain inputs, and the domain modules
//! (`ingest`, `pack_index`, `holdings`, `snapshots`, `read`, `locate`,
//! `index`) never see a message or a status.

mod grpc;
mod holdings;
mod index;
mod ingest;
mod locate;
mod pack_index;
mod read;
mod snapshots;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

pub use grpc::BackupService;
#[doc(hidden)]
pub use grpc::fuzzing;
pub use snapshots::sweep_unfinished as sweep_unfinished_commits;

/// At most this many chunk ids per request or message.
pub const MAX_IDS_PER_MESSAGE: usize = 10_000;
/// Largest pack accepted, in bytes.
pub const MAX_PACK_SIZE: u64 = 64 * 1024 * 1024;
