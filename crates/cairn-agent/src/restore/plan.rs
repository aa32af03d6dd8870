//! The planner: reads the snapshot's trees a level at a time, creates the
//! directories and symlinks, and queues the files for the workers, within
//! the limits a snapshot someone else wrote is held to.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use filetime::FileTime;

use cairn_core::ChunkId;
use cairn_engine::{CHUNK_AVG, MAX_TREE_BYTES, tree_nodes};
use cairn_proto::backup::v1::{Node, NodeKind};

use super::dirs::DirMeta;
use super::fetch::Bounds;
use super::restorer::{BATCH_BYTES, BATCH_IDS, FileEntry, Job, MAX_DEPTH, MAX_ENTRIES, Restorer};

/// Trees fetched per call.
const TREE_BATCH: usize = 256;
/// Bytes of trees one call may hold; a call past it is split, down to one
/// tree of at most `MAX_TREE_BYTES`.
const TREE_CALL_BYTES: u64 = 16 * 1024 * 1024;

/// Small files gathered across directories until they fill a fetch: a
/// directory of a few files would otherwise cost a call of its own.
#[derive(Default)]
struct SmallFiles {
    files: Vec<FileEntry>,
    bytes: u64,
    ids: usize,
}

/// What the planner has met so far, held to the limits.
#[derive(Default)]
struct Counts {
    files: u64,
    dirs: u64,
    entries: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    File,
    Dir,
    Other,
}

/// One restore's planning: the restorer, where the jobs go and what the
/// levels met so far left to do.
struct Planner<'a> {
    restorer: &'a Restorer,
    jobs: &'a flume::Sender<Job>,
    small: SmallFiles,
    counts: Counts,
    /// The next level's trees and where they go.
    next: Vec<(ChunkId, PathBuf)>,
    dirs: Vec<DirMeta>,
    /// A limit was reached: nothing more is restored.
    stopped: bool,
}

impl Restorer {
    /// Reads the trees a level at a time, creates directories and symlinks,
    /// and queues the files. Returns the directories, to set their metadata.
    /// Only the workers stopping is an error: whatever else goes wrong fails
    /// the entry it concerns, named.
    pub(super) fn plan(
        &self,
        root: ChunkId,
        target: &Path,
        jobs: flume::Sender<Job>,
    ) -> anyhow::Result<Vec<DirMeta>> {
        let mut planner = Planner {
            restorer: self,
            jobs: &jobs,
            small: SmallFiles::default(),
            counts: Counts::default(),
            next: Vec::new(),
            dirs: Vec::new(),
            stopped: false,
        };
        let bounds = Bounds {
            chunk: MAX_TREE_BYTES,
            call: TREE_CALL_BYTES,
        };
        let mut level = vec![(root, target.to_owned())];
        let mut depth = 0;
        while !level.is_empty() && !planner.stopped {
            depth += 1;
            for batch in level.chunks(TREE_BATCH) {
                let ids: Vec<ChunkId> = batch.iter().map(|(id, _)| *id).collect();
                // A tree's size is known only once it is read.
                let expected = ids.len() as u64 * u64::from(CHUNK_AVG);
                let fetched = match self.fetch(&ids, expected, bounds) {
                    Ok(fetched) => fetched,
                    Err(err) => {
                        for (_, path) in batch {
                            self.fail(path, &format!("directory not restored: {err:#}"));
                        }
                        continue;
                    }
                };
                for (id, path) in batch {
                    if planner.stopped {
                        break;
                    }
                    match fetched.get(id) {
                        Some(Ok(bytes)) => planner.dir(bytes, path, depth)?,
                        Some(Err(why)) => {
                            self.fail(path, &format!("directory not restored: {why}"))
                        }
                        None => self.fail(path, &format!("the server did not return tree {id}")),
                    }
                }
            }
            level = std::mem::take(&mut planner.next);
        }
        planner.flush()?;
        Ok(planner.dirs)
    }
}

impl Planner<'_> {
    /// Plans the directory at `path`, `depth` levels below the target,
    /// from its tree's bytes, an entry at a time.
    fn dir(&mut self, tree: &[u8], path: &Path, depth: usize) -> anyhow::Result<()> {
        let nodes = match tree_nodes(tree) {
            Ok(nodes) => nodes,
            Err(err) => {
                self.restorer
                    .fail(path, &format!("directory not restored: {err}"));
                return Ok(());
            }
        };
        for node in nodes {
            let node = match node {
                Ok(node) => node,
                Err(err) => {
                    let why = format!("the rest of the directory is not restored: {err}");
                    self.restorer.fail_limit(path, &why);
                    break;
                }
            };
            let child = match child_path(path, &node.name) {
                Ok(child) => child,
                Err(why) => {
                    self.restorer.fail(path, &why);
                    continue;
                }
            };
            self.entry(node, child, depth)?;
            if self.stopped {
                break;
            }
        }
        Ok(())
    }

    fn entry(&mut self, node: Node, child: PathBuf, depth: usize) -> anyhow::Result<()> {
        let restorer = self.restorer;
        let kind = NodeKind::try_from(node.kind);
        let counted = match kind {
            Ok(NodeKind::File) => Kind::File,
            Ok(NodeKind::Dir) => Kind::Dir,
            _ => Kind::Other,
        };
        if !self.count(counted, &child) {
            return Ok(());
        }
        match kind {
            Ok(NodeKind::File) => {
                let mode = restorer.mode(node.mode);
                match FileEntry::new(child, node, mode) {
                    Ok(file) if file.size > BATCH_BYTES => self.send_large(file)?,
                    Ok(file) => self.add_small(file)?,
                    Err((path, why)) => restorer.fail(&path, &why),
                }
            }
            Ok(NodeKind::Dir) => {
                if depth > MAX_DEPTH {
                    let why = format!("not restored: deeper than {MAX_DEPTH} levels");
                    restorer.fail_limit(&child, &why);
                    return Ok(());
                }
                let subtree = match ChunkId::from_slice(&node.subtree, "subtree") {
                    Ok(subtree) => subtree,
                    Err(err) => {
                        restorer.fail(&child, &err.to_string());
                        return Ok(());
                    }
                };
                if let Err(err) = fs::create_dir(&child) {
                    restorer.fail(&child, &format!("cannot create the directory: {err}"));
                    return Ok(());
                }
                self.next.push((subtree, child.clone()));
                self.dirs.push(DirMeta {
                    path: child,
                    mode: restorer.mode(node.mode),
                    mtime: FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos),
                });
            }
            Ok(NodeKind::Symlink) => {
                let target = OsStr::from_bytes(&node.link_target);
                if let Err(err) = std::os::unix::fs::symlink(target, &child) {
                    restorer.fail(&child, &format!("cannot create the link: {err}"));
                    return Ok(());
                }
                let mtime = FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos);
                if let Err(err) = filetime::set_symlink_file_times(&child, mtime, mtime) {
                    restorer.fail(&child, &format!("cannot set the time of the link: {err}"));
                }
            }
            _ => restorer.fail(&child, &format!("unknown entry kind {}", node.kind)),
        }
        Ok(())
    }

    /// Counts an entry against the limits; past one, records why at `path`
    /// and stops the planning (false).
    fn count(&mut self, kind: Kind, path: &Path) -> bool {
        let counts = &mut self.counts;
        counts.entries += 1;
        let recorded = self.restorer.recorded.as_ref();
        let past = match kind {
            Kind::File => {
                counts.files += 1;
                recorded
                    .filter(|r| counts.files > r.files)
                    .map(|r| format!("more files than the {} its header records", r.files))
            }
            Kind::Dir => {
                counts.dirs += 1;
                recorded
                    .filter(|r| counts.dirs > r.dirs)
                    .map(|r| format!("more directories than the {} its header records", r.dirs))
            }
            Kind::Other => None,
        };
        let past = past.or_else(|| {
            (counts.entries > MAX_ENTRIES).then(|| format!("more than {MAX_ENTRIES} entries"))
        });
        match past {
            None => true,
            Some(what) => {
                let why = format!("the snapshot holds {what}; the restore stopped here");
                self.restorer.fail_limit(path, &why);
                self.stopped = true;
                false
            }
        }
    }

    fn send_large(&mut self, file: FileEntry) -> anyhow::Result<()> {
        let held = self
            .restorer
            .queued
            .take(file.queued_bytes())
            .map_err(|_| workers_stopped())?;
        self.jobs
            .send(Job::Large(file, held))
            .map_err(|_| workers_stopped())
    }

    /// Adds a small file, first handing on the gathered ones if it would
    /// not fit.
    fn add_small(&mut self, file: FileEntry) -> anyhow::Result<()> {
        let small = &self.small;
        if !small.files.is_empty()
            && (small.bytes + file.size > BATCH_BYTES
                || small.ids + file.ids.len() > BATCH_IDS
                || small.files.len() >= BATCH_IDS)
        {
            self.flush()?;
        }
        self.small.bytes += file.size;
        self.small.ids += file.ids.len();
        self.small.files.push(file);
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let files = std::mem::take(&mut self.small.files);
        (self.small.bytes, self.small.ids) = (0, 0);
        if files.is_empty() {
            return Ok(());
        }
        let bytes = files.iter().map(FileEntry::queued_bytes).sum();
        let held = self
            .restorer
            .queued
            .take(bytes)
            .map_err(|_| workers_stopped())?;
        self.jobs
            .send(Job::Small(files, held))
            .map_err(|_| workers_stopped())
    }
}

/// `name` inside `dir`, or why it is not a name a restore may create.
fn child_path(dir: &Path, name: &[u8]) -> Result<PathBuf, String> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(format!(
            "the snapshot holds an unsafe entry name {:?}",
            String::from_utf8_lossy(name)
        ));
    }
    Ok(dir.join(OsStr::from_bytes(name)))
}

/// A send to the workers failed: they stopped, and the first to fail says
/// why.
fn workers_stopped() -> anyhow::Error {
    anyhow::anyhow!("the restore workers stopped")
}
