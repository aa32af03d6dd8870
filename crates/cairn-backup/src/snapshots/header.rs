//! A commit's header, checked, and the commit as it arrives.

use cairn_core::limits::Hostname;
use cairn_core::{ChunkId, Error};

/// Most paths one snapshot names.
pub(crate) const MAX_PATHS: usize = 1000;
/// Longest path, in bytes.
pub(crate) const MAX_PATH_BYTES: usize = 4096;

/// What the agent counted, in clear: files, directories, plaintext bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SnapshotStats {
    pub(crate) files: u64,
    pub(crate) dirs: u64,
    pub(crate) bytes: u64,
}

/// A snapshot's header, checked: its root tree, the machine's name, the
/// paths backed up, when (seconds since the Unix epoch) and what it counted.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotHeader {
    pub(crate) tree: ChunkId,
    pub(crate) hostname: String,
    pub(crate) paths: Vec<String>,
    pub(crate) started_at: i64,
    pub(crate) finished_at: i64,
    pub(crate) stats: SnapshotStats,
}

impl SnapshotHeader {
    /// Checks the hostname and the paths, naming the field at fault.
    pub(crate) fn new(
        tree: ChunkId,
        hostname: String,
        paths: Vec<String>,
        started_at: i64,
        finished_at: i64,
        stats: SnapshotStats,
    ) -> Result<SnapshotHeader, Error> {
        // The limit is Hostname's; the name is kept as the agent sent it.
        Hostname::parse("header.hostname", &hostname)?;
        if paths.is_empty() || paths.len() > MAX_PATHS {
            return Err(Error::invalid(
                "header.paths",
                format!("must name 1 to {MAX_PATHS} paths"),
            ));
        }
        for path in &paths {
            if path.is_empty() || path.len() > MAX_PATH_BYTES {
                return Err(Error::invalid(
                    "header.paths",
                    format!("each path must be 1 to {MAX_PATH_BYTES} bytes"),
                ));
            }
        }
        Ok(SnapshotHeader {
            tree,
            hostname,
            paths,
            started_at,
            finished_at,
            stats,
        })
    }
}

/// A commit as it arrives: the header, then the referenced chunk ids in
/// ascending order, a batch (one message's worth) at a time.
pub(crate) struct SnapshotCommit<I> {
    pub(crate) header: SnapshotHeader,
    pub(crate) ids: I,
}
