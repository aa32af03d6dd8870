//! The Cairn agent: enrolls a machine with a one-time key, backs paths up
//! (chunk, name, compress, encrypt, pack, upload only what the company does
//! not hold yet), lists snapshots and restores them byte for byte.
//!
//! Keys stay on the machine; the server only ever receives sealed chunks.

mod backup;
mod budget;
mod cache;
pub mod cli;
mod client;
pub mod daemon;
mod enroll;
#[doc(hidden)]
pub mod fuzzing;
mod idset;
pub mod policy;
pub mod printable;
mod progress;
mod recycle;
mod restore;
mod state;

pub use backup::{
    BackupEvents, BackupSummary, Quiet, backup, backup_policy_paths, backup_using, backup_with,
};
pub use client::{AgentClient, Backup, Bearer, Orgs, SignInError};
pub use enroll::enroll;
pub use restore::{
    MAX_DEPTH, MAX_ENTRIES, PartialRestore, RestoreEvents, RestoreOptions, RestoreSummary, restore,
    restore_using, restore_with,
};
pub use state::AgentState;
