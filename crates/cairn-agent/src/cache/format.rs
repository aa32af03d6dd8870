//! The cache file's format: its name, version, header and entries, and
//! when a file may be trusted by its metadata alone.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use prost::Message;

use cairn_core::ChunkId;

pub(super) const FILE: &str = "parent-cache.bin";
/// Bumped when the meaning of an entry changes; older caches are ignored.
pub(super) const VERSION: u32 = 2;

#[derive(Clone, PartialEq, Message)]
pub(super) struct CacheFile {
    #[prost(uint32, tag = "1")]
    pub(super) version: u32,
    /// The company this cache's chunk ids belong to.
    #[prost(string, tag = "2")]
    pub(super) company_id: String,
    #[prost(message, repeated, tag = "3")]
    pub(super) entries: Vec<Entry>,
    /// The ids of the last snapshot's trees, stored on the server.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub(super) trees: Vec<Vec<u8>>,
}

/// One file as the last backup saw it.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Entry {
    #[prost(bytes = "vec", tag = "1")]
    pub(super) path: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub(crate) size: u64,
    #[prost(int64, tag = "3")]
    mtime_ns: i64,
    #[prost(int64, tag = "4")]
    ctime_ns: i64,
    #[prost(uint64, tag = "5")]
    inode: u64,
    #[prost(uint64, tag = "6")]
    device: u64,
    /// The chunk ids, 32 bytes each, concatenated: one allocation per file.
    #[prost(bytes = "vec", tag = "8")]
    content: Vec<u8>,
}

fn nanos(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

impl Entry {
    pub(crate) fn new(path: &Path, meta: &fs::Metadata, content: &[ChunkId]) -> Entry {
        use std::os::unix::ffi::OsStrExt;
        Entry {
            path: path.as_os_str().as_bytes().to_vec(),
            size: meta.size(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            inode: meta.ino(),
            device: meta.dev(),
            content: content.iter().flat_map(|id| id.0).collect(),
        }
    }

    /// This entry, for `path` now described by `meta` (same content).
    pub(super) fn renewed(mut self, path: &Path, meta: &fs::Metadata) -> Entry {
        use std::os::unix::ffi::OsStrExt;
        self.path = path.as_os_str().as_bytes().to_vec();
        self.size = meta.size();
        self.mtime_ns = nanos(meta.mtime(), meta.mtime_nsec());
        self.ctime_ns = nanos(meta.ctime(), meta.ctime_nsec());
        self.inode = meta.ino();
        self.device = meta.dev();
        self
    }

    /// The file on disk is the one this entry describes.
    pub(super) fn matches(&self, meta: &fs::Metadata) -> bool {
        self.size == meta.size()
            && self.mtime_ns == nanos(meta.mtime(), meta.mtime_nsec())
            && self.ctime_ns == nanos(meta.ctime(), meta.ctime_nsec())
            && self.inode == meta.ino()
            && self.device == meta.dev()
    }

    pub(super) fn chunk_ids(&self) -> Option<Vec<ChunkId>> {
        if !self.content.len().is_multiple_of(32) {
            return None;
        }
        self.content
            .chunks_exact(32)
            .map(|id| <[u8; 32]>::try_from(id).ok().map(ChunkId))
            .collect()
    }
}

/// Whether a file read just now may be trusted next time by its metadata
/// alone: not if it changed within the last two seconds, since a later write
/// within the same timestamp tick would go unnoticed.
pub(crate) fn settled(meta: &fs::Metadata, now_secs: i64) -> bool {
    meta.mtime() < now_secs - 1 && meta.ctime() < now_secs - 1
}
