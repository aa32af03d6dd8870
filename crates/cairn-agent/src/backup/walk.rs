//! The walker: goes through the paths in name order, takes unchanged files
//! from the parent cache and queues the others for the readers.

use std::collections::HashSet;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use cairn_core::policy::PathFilter;
use cairn_proto::backup::v1::{Node, NodeKind};

use crate::cache::ParentCache;

use super::stage::{Batcher, FileJob, Pipeline, Stopped};
use super::steps::{Slot, Step};

/// The agent's own state directory (its credential, the data key, the
/// parent cache and its partial files), by device and inode: never backed
/// up, whatever the policy says, however it is reached (through a symlink
/// in a path, or a bind mount of it elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OwnDir {
    dev: u64,
    ino: u64,
}

impl OwnDir {
    /// `dir`'s identity; `None` when it cannot be read (then nothing of it
    /// can be backed up either).
    pub(super) fn of(dir: &Path) -> Option<OwnDir> {
        fs::metadata(dir).ok().map(|meta| OwnDir {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    fn is(self, meta: &Metadata) -> bool {
        meta.is_dir() && meta.dev() == self.dev && meta.ino() == self.ino
    }

    /// Whether `path` is the directory or lies inside it.
    fn holds(self, path: &Path) -> bool {
        path.ancestors()
            .any(|dir| fs::metadata(dir).is_ok_and(|meta| self.is(&meta)))
    }
}

/// Files and their bytes under `paths` that the filter keeps (for progress).
pub(super) fn count(paths: &[PathBuf], filter: &PathFilter, own: Option<OwnDir>) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            files += 1;
            bytes += meta.len();
        } else if meta.is_dir()
            && !own.is_some_and(|own| own.is(&meta))
            && let Ok(entries) = fs::read_dir(&path)
        {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if (is_dir && filter.keeps_dir(&path)) || (!is_dir && filter.keeps_file(&path)) {
                    stack.push(path);
                }
            }
        }
    }
    (files, bytes)
}

/// Walks the paths in name order, hands changed files to the readers and
/// tells the assembler what it found. It never waits for a file to be read,
/// so the readers always have work queued, across directories too.
pub(super) struct Walker<'a> {
    pub(super) pipeline: &'a Pipeline,
    pub(super) cache: ParentCache,
    pub(super) filter: &'a PathFilter,
    /// The agent's state directory, left out.
    pub(super) own: Option<OwnDir>,
    /// Files for the readers, handed over in batches.
    pub(super) jobs: Batcher<FileJob>,
    pub(super) steps: flume::Sender<Step>,
}

impl Walker<'_> {
    /// Tells the assembler; before waiting for it, hands the readers the
    /// files it may be waiting for.
    fn send(&mut self, step: Step) -> anyhow::Result<()> {
        match self.steps.try_send(step) {
            Ok(()) => Ok(()),
            Err(flume::TrySendError::Full(step)) => {
                self.jobs.flush()?;
                self.steps.send(step).map_err(|_| Stopped.into())
            }
            Err(flume::TrySendError::Disconnected(_)) => Err(Stopped.into()),
        }
    }

    /// Queues a file for the readers, a batch at a time, or at once if they
    /// have nothing queued.
    fn read(&mut self, job: FileJob, size: u64) -> anyhow::Result<()> {
        self.jobs.push(job, size)?;
        if self.jobs.receiver_idle() {
            self.jobs.flush()?;
        }
        Ok(())
    }

    /// The root: one entry per backed-up path, named by its last component.
    pub(super) fn walk(mut self, paths: &[PathBuf]) -> anyhow::Result<()> {
        let mut names = HashSet::new();
        // In path order, the order the parent cache was written in.
        let mut paths: Vec<&PathBuf> = paths.iter().collect();
        paths.sort();
        self.send(Step::Open)?;
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_else(|| b"root".to_vec());
            if self.own.is_some_and(|own| own.holds(path)) {
                anyhow::bail!(
                    "{} is the agent's state directory or inside it, which is never backed up \
                     (it holds this machine's credential and the company's data key)",
                    path.display()
                );
            }
            if !names.insert(name.clone()) {
                anyhow::bail!(
                    "two paths share the name {}",
                    String::from_utf8_lossy(&name)
                );
            }
            if !self.entry(path, name)? {
                anyhow::bail!("{} is not a file, directory or symlink", path.display());
            }
        }
        self.jobs.flush()?;
        self.send(Step::Close(None))
    }

    fn dir(&mut self, path: &Path, node: Node) -> anyhow::Result<()> {
        let mut entries: Vec<_> = fs::read_dir(path)
            .with_context(|| format!("cannot read directory {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot read directory {}", path.display()))?;
        entries.sort_by_key(|e| e.file_name());
        self.send(Step::Open)?;
        for entry in entries {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let kept = if is_dir {
                self.filter.keeps_dir(&path)
            } else {
                self.filter.keeps_file(&path)
            };
            if kept {
                self.entry(&path, entry.file_name().as_bytes().to_vec())?;
            }
        }
        self.send(Step::Close(Some(node)))
    }

    /// Files, directories and symlinks; sockets, fifos and devices are
    /// skipped (false). A changed file goes to the readers.
    fn entry(&mut self, path: &Path, name: Vec<u8>) -> anyhow::Result<bool> {
        let meta = fs::symlink_metadata(path)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let mut node = Node {
            name,
            mode: meta.mode() & 0o7777,
            mtime_secs: meta.mtime(),
            mtime_nanos: meta.mtime_nsec() as u32,
            ..Node::default()
        };
        let kind = meta.file_type();
        if self.own.is_some_and(|own| own.is(&meta)) {
            // Left out, as if the policy excluded it.
            return Ok(true);
        }
        let slot = if kind.is_dir() {
            node.kind = NodeKind::Dir as i32;
            self.dir(path, node)?;
            return Ok(true);
        } else if kind.is_file() {
            if self.pipeline.events.should_stop() {
                anyhow::bail!(
                    "backup interrupted before {}; no snapshot was saved",
                    path.display()
                );
            }
            node.kind = NodeKind::File as i32;
            if let Some((size, ids, entry)) = self.cache.take_unchanged(path, &meta) {
                self.pipeline.events.bytes_done(size);
                Slot::Unchanged {
                    node,
                    size,
                    ids,
                    entry,
                }
            } else {
                let (reply, reply_rx) = flume::bounded(1);
                self.read(
                    FileJob {
                        path: path.to_owned(),
                        reply,
                    },
                    meta.len(),
                )?;
                Slot::Reading {
                    node,
                    path: path.to_owned(),
                    before: Box::new(meta),
                    reply: reply_rx,
                }
            }
        } else if kind.is_symlink() {
            node.kind = NodeKind::Symlink as i32;
            node.link_target = fs::read_link(path)
                .with_context(|| format!("cannot read link {}", path.display()))?
                .as_os_str()
                .as_bytes()
                .to_vec();
            Slot::Ready(node)
        } else {
            return Ok(false);
        };
        self.send(Step::Entry(slot))?;
        Ok(true)
    }
}
