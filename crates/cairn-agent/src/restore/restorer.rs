//! What the restore's planner and workers share: the restorer's state, the
//! jobs it hands the workers, the limits a snapshot is held to and the
//! record of what failed.

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use filetime::FileTime;
use tokio::runtime::Handle;

use cairn_core::{ChunkId, SnapshotId};
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_engine::CHUNK_MAX;
use cairn_proto::backup::v1::{Node, SnapshotStats};

use crate::AgentClient;
use crate::budget::{Budget, Permit};

use super::events::RestoreEvents;

/// Small files are fetched together, up to this many bytes per job.
pub(super) const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Chunk ids per ReadChunks call, and files per job of small files.
pub(super) const BATCH_IDS: usize = 1000;
/// Entries a restore creates in all (files, directories and links),
/// whatever the snapshot's header records: a tree may name one subtree
/// many times, so a few kilobytes stored could otherwise make millions of
/// directories.
pub const MAX_ENTRIES: u64 = 10_000_000;
/// Directory levels below the target; deeper ones are not restored.
pub const MAX_DEPTH: usize = 256;
/// Bytes of the files' chunk lists queued for the workers (32 bytes an id,
/// and [`ENTRY_BYTES`] a file): a file may list a million chunks.
pub(super) const QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// What a queued file costs besides its chunk ids.
pub(super) const ENTRY_BYTES: usize = 256;

/// A file to restore, checked against the limits: its chunk ids are
/// well-formed and fit its size.
pub(super) struct FileEntry {
    pub(super) path: PathBuf,
    pub(super) size: u64,
    pub(super) mode: u32,
    pub(super) mtime: FileTime,
    pub(super) ids: Vec<ChunkId>,
}

impl FileEntry {
    /// The file `node` at `path`, or why it cannot be restored. Every
    /// chunk holds at least a byte and at most `CHUNK_MAX`, so a file's
    /// size and its chunk count must agree.
    pub(super) fn new(
        path: PathBuf,
        node: Node,
        mode: u32,
    ) -> Result<FileEntry, (PathBuf, String)> {
        let ids: Result<Vec<ChunkId>, _> = node
            .content
            .iter()
            .map(|id| ChunkId::from_slice(id, "content"))
            .collect();
        let ids = match ids {
            Ok(ids) => ids,
            Err(err) => return Err((path, err.to_string())),
        };
        let chunks = ids.len() as u64;
        if node.size < chunks || node.size > chunks.saturating_mul(u64::from(CHUNK_MAX)) {
            let why = format!(
                "its recorded size ({} bytes) does not fit its {chunks} chunks",
                node.size
            );
            return Err((path, why));
        }
        Ok(FileEntry {
            path,
            size: node.size,
            mode,
            mtime: FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos),
            ids,
        })
    }

    /// Its share of [`QUEUED_BYTES`].
    pub(super) fn queued_bytes(&self) -> usize {
        ENTRY_BYTES + self.ids.len() * 32
    }
}

/// Work for the file workers; each holds its share of the queue's bytes.
pub(super) enum Job {
    /// Small files, of one directory or several, fetched together.
    Small(Vec<FileEntry>, Permit),
    /// One large file, fetched a window at a time.
    Large(FileEntry, Permit),
}

/// A chunk as fetched: its plaintext, or why it cannot be had.
pub(super) type Fetched = HashMap<ChunkId, Result<Bytes, String>>;

/// What failed: the first few lines, named, and how many in all, so a
/// snapshot of a million bad entries does not fill memory with them.
#[derive(Default)]
pub(super) struct Failures {
    pub(super) named: Vec<String>,
    pub(super) count: usize,
    /// Limits the snapshot went past, named apart from the other failures
    /// (they say why the restore left out more than one entry).
    pub(super) limits: usize,
}

/// Failures kept by name.
pub(super) const NAMED_FAILURES: usize = 20;

pub(super) struct Restorer {
    /// The snapshot restored: the server serves only its chunks.
    pub(super) snapshot: SnapshotId,
    pub(super) key: DataKey,
    pub(super) ids: ChunkIdKey,
    pub(super) client: AgentClient,
    pub(super) handle: Handle,
    pub(super) events: Arc<dyn RestoreEvents>,
    /// Setuid, setgid, sticky and world-writable bits are restored only
    /// when asked for.
    pub(super) keep_special_modes: bool,
    /// The counts the snapshot's header records, if any: no more files or
    /// directories than these are restored.
    pub(super) recorded: Option<SnapshotStats>,
    /// Bytes of the jobs queued for the workers.
    pub(super) queued: Arc<Budget>,
    pub(super) failures: Mutex<Failures>,
    pub(super) files: AtomicU64,
    pub(super) bytes: AtomicU64,
}

impl Restorer {
    /// Records that `path` was not restored, and why; both are escaped so
    /// that a name cannot drive the terminal it is printed on.
    pub(super) fn fail(&self, path: &Path, why: &str) {
        self.record(path, why, false);
    }

    /// [`Restorer::fail`] for a limit the snapshot went past: named even
    /// after many other failures.
    pub(super) fn fail_limit(&self, path: &Path, why: &str) {
        self.record(path, why, true);
    }

    fn record(&self, path: &Path, why: &str, limit: bool) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.count += 1;
        let named = if limit {
            failures.limits += 1;
            failures.limits <= NAMED_FAILURES
        } else {
            failures.named.len() < NAMED_FAILURES
        };
        if named {
            let line = format!("{}: {why}", path.display());
            failures
                .named
                .push(crate::printable::escape(&line).into_owned());
        }
    }

    /// The mode to give a restored file or directory: the permission bits,
    /// without world-writable ones, unless special modes are kept.
    pub(super) fn mode(&self, mode: u32) -> u32 {
        if self.keep_special_modes {
            mode & 0o7777
        } else {
            mode & 0o777 & !0o002
        }
    }
}
