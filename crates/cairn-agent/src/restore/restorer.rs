//! What the restore's planner and workers share: the restorer's state, the
//! jobs it hands the workers and the record of what failed.

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::runtime::Handle;

use cairn_core::{ChunkId, SnapshotId};
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_proto::backup::v1::Node;

use crate::AgentClient;

use super::events::RestoreEvents;

/// Small files are fetched together, up to this many bytes per job.
pub(super) const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Chunk ids per ReadChunks call.
pub(super) const BATCH_IDS: usize = 1000;

/// Work for the file workers.
pub(super) enum Job {
    /// Small files, of one directory or several, fetched together.
    Small(Vec<(PathBuf, Node)>),
    /// One large file, fetched a window at a time.
    Large { path: PathBuf, node: Node },
}

/// A chunk as fetched: its plaintext, or why it cannot be had.
pub(super) type Fetched = HashMap<ChunkId, Result<Bytes, String>>;

pub(super) struct Restorer {
    /// The snapshot restored: the server serves only its chunks.
    pub(super) snapshot: SnapshotId,
    pub(super) key: DataKey,
    pub(super) ids: ChunkIdKey,
    pub(super) client: AgentClient,
    pub(super) handle: Handle,
    pub(super) events: Arc<dyn RestoreEvents>,
    /// "path: why" for everything that could not be restored.
    pub(super) failures: Mutex<Vec<String>>,
    pub(super) files: AtomicU64,
    pub(super) bytes: AtomicU64,
}

pub(super) fn chunk_ids(node: &Node) -> anyhow::Result<Vec<ChunkId>> {
    node.content
        .iter()
        .map(|id| ChunkId::from_slice(id, "content").map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

impl Restorer {
    pub(super) fn fail(&self, path: &Path, why: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{}: {why}", path.display()));
    }
}
