//! The Cairn agent: enrolls a machine with a one-time key, backs paths up
//! (chunk, name, compress, encrypt, pack, upload only what the company does
//! not hold yet), lists snapshots and restores them byte for byte.
//!
//! Keys stay on the machine; the server only ever receives sealed chunks.

mod backup;
pub mod cli;
mod client;
mod enroll;
mod restore;
mod state;

pub use backup::{BackupEvents, BackupSummary, backup, backup_with};
pub use client::{AgentClient, Backup, Bearer};
pub use enroll::enroll;
pub use restore::{RestoreSummary, restore};
pub use state::AgentState;
