//! The parent-snapshot cache: for every file of the last committed backup,
//! its identity on disk (size, mtime, ctime, inode) and its chunk ids. A file
//! that still matches is not read again; its chunks are the parent's.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use prost::Message;

use cairn_core::ChunkId;

const FILE: &str = "parent-cache.bin";
/// Bumped when the meaning of an entry changes; older caches are ignored.
const VERSION: u32 = 2;

#[derive(Clone, PartialEq, Message)]
struct CacheFile {
    #[prost(uint32, tag = "1")]
    version: u32,
    /// The company this cache's chunk ids belong to.
    #[prost(string, tag = "2")]
    company_id: String,
    #[prost(message, repeated, tag = "3")]
    entries: Vec<Entry>,
    /// The ids of the last snapshot's trees, stored on the server.
    #[prost(bytes = "vec", repeated, tag = "4")]
    trees: Vec<Vec<u8>>,
}

/// One file as the last backup saw it.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct Entry {
    #[prost(bytes = "vec", tag = "1")]
    path: Vec<u8>,
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
    fn renewed(mut self, path: &Path, meta: &fs::Metadata) -> Entry {
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
    fn matches(&self, meta: &fs::Metadata) -> bool {
        self.size == meta.size()
            && self.mtime_ns == nanos(meta.mtime(), meta.mtime_nsec())
            && self.ctime_ns == nanos(meta.ctime(), meta.ctime_nsec())
            && self.inode == meta.ino()
            && self.device == meta.dev()
    }

    fn chunk_ids(&self) -> Option<Vec<ChunkId>> {
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

/// The cache as loaded for one backup.
#[derive(Default)]
pub(crate) struct ParentCache {
    entries: HashMap<Vec<u8>, Entry>,
    trees: HashSet<ChunkId>,
}

impl ParentCache {
    pub(crate) fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE)
    }

    /// The cache of `company_id`, or an empty one if there is none or it is
    /// unreadable (a damaged cache only costs reading the files again).
    pub(crate) fn load(state_dir: &Path, company_id: &str) -> ParentCache {
        let Ok(bytes) = fs::read(Self::path(state_dir)) else {
            return ParentCache::default();
        };
        match CacheFile::decode(bytes.as_slice()) {
            Ok(file) if file.version == VERSION && file.company_id == company_id => ParentCache {
                entries: file
                    .entries
                    .into_iter()
                    .map(|mut e| (std::mem::take(&mut e.path), e))
                    .collect(),
                trees: file
                    .trees
                    .iter()
                    .filter_map(|id| <[u8; 32]>::try_from(id.as_slice()).ok().map(ChunkId))
                    .collect(),
            },
            _ => ParentCache::default(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The parent's chunks of `path` if the file is unchanged since, and its
    /// entry for the next cache (taken out of this one: each file is met once).
    pub(crate) fn take_unchanged(
        &mut self,
        path: &Path,
        meta: &fs::Metadata,
    ) -> Option<(u64, Vec<ChunkId>, Entry)> {
        use std::os::unix::ffi::OsStrExt;
        let key = path.as_os_str().as_bytes();
        let entry = self.entries.get(key)?;
        if !entry.matches(meta) {
            return None;
        }
        let ids = entry.chunk_ids()?;
        let entry = self.entries.remove(key)?;
        Some((entry.size, ids, entry.renewed(path, meta)))
    }

    /// The ids of the last snapshot's trees, stored on the server: they
    /// need no lookup.
    pub(crate) fn take_trees(&mut self) -> HashSet<ChunkId> {
        std::mem::take(&mut self.trees)
    }

    /// Replaces the cache with `entries` and `trees` (written whole, then
    /// renamed over).
    pub(crate) fn save(
        state_dir: &Path,
        company_id: &str,
        entries: Vec<Entry>,
        trees: &[ChunkId],
    ) -> anyhow::Result<()> {
        let file = CacheFile {
            version: VERSION,
            company_id: company_id.to_owned(),
            entries,
            trees: trees.iter().map(|id| id.0.to_vec()).collect(),
        };
        let path = Self::path(state_dir);
        cairn_core::secret::replace_private(&path, &file.encode_to_vec())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Forgets the cache (its chunks are no longer all on the server).
    pub(crate) fn remove(state_dir: &Path) {
        let _ = fs::remove_file(Self::path(state_dir));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_reused_only_while_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ledger.csv");
        fs::write(&file, b"one").unwrap();
        let meta = fs::metadata(&file).unwrap();
        let ids = [ChunkId([7; 32])];
        let tree = ChunkId([8; 32]);
        ParentCache::save(
            dir.path(),
            "acme",
            vec![Entry::new(&file, &meta, &ids)],
            &[tree],
        )
        .unwrap();

        let mut cache = ParentCache::load(dir.path(), "acme");
        assert_eq!(cache.take_trees(), HashSet::from([tree]));
        // Another company's agent state never uses it.
        assert!(ParentCache::load(dir.path(), "other").is_empty());
        assert!(
            cache
                .take_unchanged(&dir.path().join("other.csv"), &meta)
                .is_none()
        );

        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&file, b"two").unwrap();
        let changed = fs::metadata(&file).unwrap();
        assert!(cache.take_unchanged(&file, &changed).is_none());

        let (size, got, entry) = cache.take_unchanged(&file, &meta).unwrap();
        assert_eq!((size, got), (3, ids.to_vec()));
        assert_eq!(entry, Entry::new(&file, &meta, &ids));
        // Taken: the next cache holds it now.
        assert!(cache.take_unchanged(&file, &meta).is_none());
    }

    #[test]
    fn a_damaged_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(ParentCache::path(dir.path()), b"\xff\xff not a cache").unwrap();
        assert!(ParentCache::load(dir.path(), "acme").is_empty());
    }
}
