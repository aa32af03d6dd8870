//! The Cairn agent: enrolls a machine with a one-time key, backs paths up
//! (chunk, name, compress, encrypt, pack, upload only what the company does
//! not hold yet), lists snapshots and restores them byte for byte.
//!
//! Keys stay on the machine; the server only ever receives sealed chunks.

mod backup;
pub mod cli;
mod client;
pub mod daemon;
mod enroll;
pub mod policy;
mod restore;
mod state;

pub use backup::{BackupEvents, BackupSummary, backup, backup_policy_paths, backup_with};
pub use client::{AgentClient, Backup, Bearer, Orgs};
pub use enroll::enroll;
pub use restore::{RestoreSummary, restore};
pub use state::AgentState;
