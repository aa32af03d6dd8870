//! Snapshots: commit (last, after every chunk is stored), list, get, delete,
//! retention and the sweep of commits that never finished.
//!
//! One module per step, none importing another's internals in a cycle:
//! `header` holds a commit's checked header; `refs` writes the referenced ids a
//! page at a time, each page checked against the chunk index; `commit`
//! drives a commit and writes the snapshot's row with the `retention` it
//! triggers; `visibility` says whose snapshots a caller sees, which `list`
//! and `delete` obey; `sweep` removes pages of commits that never finished.

mod commit;
mod delete;
mod header;
mod list;
mod refs;
mod retention;
mod sweep;
mod visibility;

pub(crate) use commit::commit_for_agent;
#[cfg(test)]
pub(crate) use commit::{Machine, commit};
pub(crate) use delete::{delete, may_delete};
pub(crate) use header::{SnapshotCommit, SnapshotHeader, SnapshotStats};
pub(crate) use list::{get, list};
pub(crate) use retention::Retention;
pub use sweep::sweep_unfinished;
pub(crate) use visibility::{Caller, Visible, visible};
