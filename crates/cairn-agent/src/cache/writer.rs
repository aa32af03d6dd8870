//! The next backup's cache, written while this one runs.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use prost::Message;

use cairn_core::ChunkId;

use super::format::{CacheFile, Entry, FILE, VERSION};
use super::parent::ParentCache;

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
