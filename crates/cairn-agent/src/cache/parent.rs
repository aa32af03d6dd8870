//! The last backup's cache, read along with the walk.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use cairn_core::ChunkId;

use super::format::{Entry, FILE, VERSION};
use super::records::{Record, Records};

/// The cache as read for one backup. Its entries are in the order the walk
/// meets paths (component by component, names in byte order), so they are
/// read along with the walk, one at a time, never all in memory. Only the
/// trees' ids, one per directory, are loaded up front.
#[derive(Default)]
pub(crate) struct ParentCache {
    records: Option<Records>,
    /// The next entry the walk has not passed yet.
    current: Option<Entry>,
    trees: HashSet<ChunkId>,
}

impl ParentCache {
    pub(crate) fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE)
    }

    /// The cache of `company_id`, or an empty one if there is none or it is
    /// unreadable (a damaged cache only costs reading the files again).
    pub(crate) fn load(state_dir: &Path, company_id: &str) -> ParentCache {
        Self::open(&Self::path(state_dir), company_id).unwrap_or_default()
    }

    /// A first pass checks the header and gathers the trees, skipping over
    /// the entries; the second pass is the one the walk follows.
    fn open(path: &Path, company_id: &str) -> Option<ParentCache> {
        let mut records = Records::open(path).ok()?;
        let (mut version, mut company, mut trees, mut entries) = (0, None, HashSet::new(), 0u64);
        while let Some(record) = records.next(false).ok()? {
            match record {
                Record::Version(v) => version = v,
                Record::Company(c) => company = Some(c),
                Record::Tree(id) => {
                    trees.insert(id);
                }
                Record::Entry(_) | Record::Unread => entries += 1,
                Record::Skipped => {}
            }
        }
        if version != u64::from(VERSION) || company.as_deref() != Some(company_id) || entries == 0 {
            return None;
        }
        records.rewind().ok()?;
        let mut cache = ParentCache {
            records: Some(records),
            current: None,
            trees,
        };
        cache.advance();
        Some(cache)
    }

    /// Moves to the next entry; a damaged record ends the cache there.
    fn advance(&mut self) {
        self.current = None;
        while let Some(records) = self.records.as_mut() {
            match records.next(true) {
                Ok(Some(Record::Entry(entry))) => {
                    self.current = Some(entry);
                    return;
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => self.records = None,
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.current.is_none()
    }

    /// The parent's chunks of `path` if the file is unchanged since, and its
    /// entry for the next cache. Paths must come in walk order: entries of
    /// paths passed over are dropped (those files are gone or filtered out).
    pub(crate) fn take_unchanged(
        &mut self,
        path: &Path,
        meta: &fs::Metadata,
    ) -> Option<(u64, Vec<ChunkId>, Entry)> {
        use std::cmp::Ordering;
        use std::os::unix::ffi::OsStrExt;
        loop {
            let entry = self.current.as_ref()?;
            // Component-wise, as the walk goes: "a/x" comes before "a-b".
            match Path::new(std::ffi::OsStr::from_bytes(&entry.path)).cmp(path) {
                Ordering::Less => self.advance(),
                Ordering::Greater => return None,
                Ordering::Equal => break,
            }
        }
        let entry = self.current.take()?;
        self.advance();
        if !entry.matches(meta) {
            return None;
        }
        let ids = entry.chunk_ids()?;
        Some((entry.size, ids, entry.renewed(path, meta)))
    }

    /// The ids of the last snapshot's trees, stored on the server: they
    /// need no lookup.
    pub(crate) fn take_trees(&mut self) -> HashSet<ChunkId> {
        std::mem::take(&mut self.trees)
    }

    /// Passes every entry left, as a walk that meets them all would: how
    /// many there were, and how many had well-formed chunk ids. For the
    /// fuzz target (`cairn_agent::fuzzing`).
    pub(crate) fn drain(&mut self) -> (usize, usize) {
        let (mut entries, mut valid) = (0, 0);
        while let Some(entry) = self.current.take() {
            entries += 1;
            valid += usize::from(entry.chunk_ids().is_some());
            self.advance();
        }
        (entries, valid)
    }

    /// Forgets the cache (its chunks are no longer all on the server).
    pub(crate) fn remove(state_dir: &Path) {
        let _ = fs::remove_file(Self::path(state_dir));
    }
}
