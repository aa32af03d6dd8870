//! The parent-snapshot cache: for every file of the last committed backup,
//! its identity on disk (size, mtime, ctime, inode) and its chunk ids. A file
//! that still matches is not read again; its chunks are the parent's.

use std::collections::HashSet;
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

/// Most bytes one record of the cache file may claim; more means damage.
const MAX_RECORD: u64 = 64 * 1024 * 1024;

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

    /// Replaces the cache with `entries` and `trees`, through [`NextCache`].
    #[cfg(test)]
    pub(crate) fn save(
        state_dir: &Path,
        company_id: &str,
        entries: Vec<Entry>,
        trees: &[ChunkId],
    ) -> anyhow::Result<()> {
        let mut next = NextCache::create(state_dir, company_id)?;
        for entry in entries {
            next.add(entry)?;
        }
        for tree in trees {
            next.add_tree(tree)?;
        }
        next.commit()
    }

    /// Forgets the cache (its chunks are no longer all on the server).
    pub(crate) fn remove(state_dir: &Path) {
        let _ = fs::remove_file(Self::path(state_dir));
    }
}

/// One top-level field of a cache file.
enum Record {
    Version(u64),
    Company(String),
    Entry(Entry),
    /// An entry passed over without decoding it (first pass).
    Unread,
    /// A field this version does not know.
    Skipped,
    Tree(ChunkId),
}

/// Reads a cache file a field at a time: the protobuf encoding of a
/// `CacheFile`, whose repeated fields may come in any order.
struct Records {
    file: std::io::BufReader<fs::File>,
    record: Vec<u8>,
}

impl Records {
    fn open(path: &Path) -> std::io::Result<Records> {
        Ok(Records {
            file: std::io::BufReader::with_capacity(64 * 1024, fs::File::open(path)?),
            record: Vec::new(),
        })
    }

    fn rewind(&mut self) -> std::io::Result<()> {
        use std::io::Seek;
        self.file.rewind()
    }

    /// The next field, or None at the end. Entries are decoded only if
    /// `entries`; otherwise their bytes are skipped.
    fn next(&mut self, entries: bool) -> anyhow::Result<Option<Record>> {
        use prost::encoding::WireType;
        let Some(key) = self.varint()? else {
            return Ok(None);
        };
        let wire = WireType::try_from(key & 7)?;
        let tag = key >> 3;
        if wire == WireType::Varint {
            let value = self.varint()?.context("the cache ends inside a field")?;
            return Ok(Some(if tag == 1 {
                Record::Version(value)
            } else {
                Record::Skipped
            }));
        }
        if wire != WireType::LengthDelimited {
            anyhow::bail!("unexpected field type in the cache");
        }
        let len = self.varint()?.context("the cache ends inside a field")?;
        if len > MAX_RECORD {
            anyhow::bail!("a cache record claims {len} bytes");
        }
        if tag == 3 && !entries {
            self.file.seek_relative(len as i64)?;
            return Ok(Some(Record::Unread));
        }
        self.record.resize(len as usize, 0);
        std::io::Read::read_exact(&mut self.file, &mut self.record)?;
        Ok(Some(match tag {
            2 => Record::Company(String::from_utf8(std::mem::take(&mut self.record))?),
            3 => Record::Entry(Entry::decode(self.record.as_slice())?),
            4 => Record::Tree(ChunkId(
                <[u8; 32]>::try_from(self.record.as_slice())
                    .map_err(|_| anyhow::anyhow!("a tree id of {len} bytes in the cache"))?,
            )),
            _ => Record::Skipped,
        }))
    }

    /// A base-128 varint, or None at the very end of the file.
    fn varint(&mut self) -> anyhow::Result<Option<u64>> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            if std::io::Read::read(&mut self.file, &mut byte)? == 0 {
                if shift == 0 {
                    return Ok(None);
                }
                anyhow::bail!("the cache ends inside a number");
            }
            value |= u64::from(byte[0] & 0x7f) << shift;
            if byte[0] & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        anyhow::bail!("a number in the cache is too long")
    }
}

/// The cache for the next backup, written while this one runs so that its
/// entries are never all in memory. Protobuf messages merge when their
/// encodings are concatenated: the header, each entry and the trees are
/// written as `CacheFile`s of their own and read back as one. The file
/// replaces the cache only on [`NextCache::commit`]; dropped, it is removed.
pub(crate) struct NextCache {
    file: std::io::BufWriter<fs::File>,
    partial: PathBuf,
    path: PathBuf,
    scratch: Vec<u8>,
}

impl NextCache {
    /// Each process writes its own partial file, so two backups of the same
    /// agent at once cannot write into each other's; the one that commits
    /// last leaves its cache. Partial files of processes that are gone
    /// (killed mid-backup) are removed.
    pub(crate) fn create(state_dir: &Path, company_id: &str) -> anyhow::Result<NextCache> {
        remove_orphans(state_dir);
        let path = ParentCache::path(state_dir);
        let partial = state_dir.join(format!("{FILE}.{}.partial", std::process::id()));
        let _ = fs::remove_file(&partial);
        let file = cairn_core::secret::create_private(&partial)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", partial.display()))?;
        let mut next = NextCache {
            file: std::io::BufWriter::with_capacity(64 * 1024, file),
            partial,
            path,
            scratch: Vec::new(),
        };
        next.write(CacheFile {
            version: VERSION,
            company_id: company_id.to_owned(),
            ..CacheFile::default()
        })?;
        Ok(next)
    }

    fn write(&mut self, part: CacheFile) -> anyhow::Result<()> {
        use std::io::Write;
        self.scratch.clear();
        part.encode(&mut self.scratch)?;
        self.file
            .write_all(&self.scratch)
            .with_context(|| format!("cannot write {}", self.partial.display()))
    }

    pub(crate) fn add(&mut self, entry: Entry) -> anyhow::Result<()> {
        self.write(CacheFile {
            entries: vec![entry],
            ..CacheFile::default()
        })
    }

    /// A tree of this backup's snapshot.
    pub(crate) fn add_tree(&mut self, id: &ChunkId) -> anyhow::Result<()> {
        self.write(CacheFile {
            trees: vec![id.0.to_vec()],
            ..CacheFile::default()
        })
    }

    /// Puts the file in place of the cache, once the snapshot is committed.
    pub(crate) fn commit(mut self) -> anyhow::Result<()> {
        use std::io::Write;
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all())
            .with_context(|| format!("cannot write {}", self.partial.display()))?;
        fs::rename(&self.partial, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))
    }
}

/// Removes the partial caches whose process no longer runs.
fn remove_orphans(state_dir: &Path) {
    let Ok(entries) = fs::read_dir(state_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| {
                n.strip_prefix(FILE)?
                    .strip_prefix('.')?
                    .strip_suffix(".partial")
            })
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

impl Drop for NextCache {
    fn drop(&mut self) {
        // Committed, it was renamed away and this finds nothing.
        let _ = fs::remove_file(&self.partial);
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
        let save = || {
            ParentCache::save(
                dir.path(),
                "acme",
                vec![Entry::new(&file, &meta, &ids)],
                &[tree],
            )
            .unwrap()
        };
        save();

        let mut cache = ParentCache::load(dir.path(), "acme");
        assert!(!cache.is_empty());
        assert_eq!(cache.take_trees(), HashSet::from([tree]));
        // Another company's agent state never uses it.
        assert!(ParentCache::load(dir.path(), "other").is_empty());
        // A path the cache does not hold, before it in walk order.
        assert!(
            cache
                .take_unchanged(&dir.path().join("aardvark.csv"), &meta)
                .is_none()
        );
        let (size, got, entry) = cache.take_unchanged(&file, &meta).unwrap();
        assert_eq!((size, got), (3, ids.to_vec()));
        assert_eq!(entry, Entry::new(&file, &meta, &ids));
        // Taken: the next cache holds it now.
        assert!(cache.take_unchanged(&file, &meta).is_none());

        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&file, b"two").unwrap();
        let changed = fs::metadata(&file).unwrap();
        let mut cache = ParentCache::load(dir.path(), "acme");
        assert!(cache.take_unchanged(&file, &changed).is_none());
    }

    #[test]
    fn entries_are_met_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("a")).unwrap();
        // The walk's order: "a" and what it holds come before "a-b" and
        // "a.txt", though "/" sorts after "-" and "." byte by byte.
        let files = [
            root.join("a/x"),
            root.join("a/z"),
            root.join("a-b"),
            root.join("a.txt"),
        ];
        for (i, file) in files.iter().enumerate() {
            fs::write(file, vec![b'c'; i + 1]).unwrap();
        }
        let entries = files
            .iter()
            .enumerate()
            .map(|(i, f)| Entry::new(f, &fs::metadata(f).unwrap(), &[ChunkId([i as u8; 32])]))
            .collect();
        ParentCache::save(root, "acme", entries, &[]).unwrap();

        let mut cache = ParentCache::load(root, "acme");
        let take = |cache: &mut ParentCache, path: &Path| {
            let meta = fs::symlink_metadata(path).ok()?;
            cache
                .take_unchanged(path, &meta)
                .map(|(_, ids, _)| ids[0].0[0])
        };
        assert_eq!(take(&mut cache, &files[0]), Some(0));
        // A new file between two cached ones.
        fs::write(root.join("a/y"), b"new").unwrap();
        assert_eq!(take(&mut cache, &root.join("a/y")), None);
        assert_eq!(take(&mut cache, &files[1]), Some(1));
        // "a-b" was deleted: the walk passes it by.
        assert_eq!(take(&mut cache, &files[3]), Some(3));
        assert!(cache.is_empty());
    }

    #[test]
    fn a_cache_cut_short_serves_what_comes_before_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<_> = (0..3).map(|i| dir.path().join(format!("f{i}"))).collect();
        let mut entries = Vec::new();
        for (i, file) in files.iter().enumerate() {
            fs::write(file, b"data").unwrap();
            entries.push(Entry::new(
                file,
                &fs::metadata(file).unwrap(),
                &[ChunkId([i as u8; 32])],
            ));
        }
        ParentCache::save(dir.path(), "acme", entries, &[ChunkId([9; 32])]).unwrap();
        let path = ParentCache::path(dir.path());
        let bytes = fs::read(&path).unwrap();

        // Cut inside the last entry (the tree comes after it): the header
        // and the first entries still serve; nothing panics.
        fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
        let mut cache = ParentCache::load(dir.path(), "acme");
        assert!(cache.take_trees().is_empty());
        let meta = |i: usize| fs::metadata(&files[i]).unwrap();
        assert!(cache.take_unchanged(&files[0], &meta(0)).is_some());
        assert!(cache.take_unchanged(&files[1], &meta(1)).is_some());
        assert!(cache.take_unchanged(&files[2], &meta(2)).is_none());

        // Every cut of the file loads without a panic.
        for end in 0..bytes.len() {
            fs::write(&path, &bytes[..end]).unwrap();
            let mut cache = ParentCache::load(dir.path(), "acme");
            for (i, file) in files.iter().enumerate() {
                let _ = cache.take_unchanged(file, &meta(i));
            }
        }
    }

    #[test]
    fn a_next_cache_replaces_the_old_one_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ledger.csv");
        fs::write(&file, b"one").unwrap();
        let meta = fs::metadata(&file).unwrap();
        let old = Entry::new(&file, &meta, &[ChunkId([1; 32])]);
        ParentCache::save(dir.path(), "acme", vec![old.clone()], &[ChunkId([2; 32])]).unwrap();

        let new = Entry::new(&file, &meta, &[ChunkId([3; 32]), ChunkId([4; 32])]);
        let mut next = NextCache::create(dir.path(), "acme").unwrap();
        next.add(new.clone()).unwrap();
        next.add_tree(&ChunkId([5; 32])).unwrap();
        // A backup that fails drops its next cache: the old one stays.
        drop(next);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "no partial file is left: {names:?}");
        let mut cache = ParentCache::load(dir.path(), "acme");
        assert_eq!(
            cache.take_unchanged(&file, &meta).map(|(_, _, e)| e),
            Some(old)
        );

        let mut next = NextCache::create(dir.path(), "acme").unwrap();
        next.add(new.clone()).unwrap();
        next.add_tree(&ChunkId([5; 32])).unwrap();
        next.add_tree(&ChunkId([6; 32])).unwrap();
        next.commit().unwrap();
        let mut cache = ParentCache::load(dir.path(), "acme");
        assert_eq!(
            cache.take_trees(),
            HashSet::from([ChunkId([5; 32]), ChunkId([6; 32])])
        );
        let (size, ids, entry) = cache.take_unchanged(&file, &meta).unwrap();
        assert_eq!(
            (size, ids, entry),
            (3, vec![ChunkId([3; 32]), ChunkId([4; 32])], new)
        );
    }

    #[test]
    fn partial_caches_of_processes_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ledger.csv");
        fs::write(&file, b"one").unwrap();
        let meta = fs::metadata(&file).unwrap();
        // Left by a process that no longer runs.
        let orphan = dir.path().join(format!("{FILE}.4294967295.partial"));
        fs::write(&orphan, b"half a cache").unwrap();

        let mut first = NextCache::create(dir.path(), "acme").unwrap();
        assert!(!orphan.exists());
        first
            .add(Entry::new(&file, &meta, &[ChunkId([1; 32])]))
            .unwrap();
        first.commit().unwrap();
        let mut cache = ParentCache::load(dir.path(), "acme");
        let (_, ids, _) = cache.take_unchanged(&file, &meta).unwrap();
        assert_eq!(ids, vec![ChunkId([1; 32])]);
    }

    #[test]
    fn a_damaged_cache_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(ParentCache::path(dir.path()), b"\xff\xff not a cache").unwrap();
        assert!(ParentCache::load(dir.path(), "acme").is_empty());
    }
}
