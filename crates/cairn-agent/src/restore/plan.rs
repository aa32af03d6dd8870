//! The planner: reads the snapshot's trees a level at a time, creates the
//! directories and symlinks, and queues the files for the workers.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use filetime::FileTime;

use cairn_core::ChunkId;
use cairn_engine::{CHUNK_AVG, decode_tree};
use cairn_proto::backup::v1::{Node, NodeKind};

use super::dirs::DirMeta;
use super::restorer::{BATCH_BYTES, BATCH_IDS, Job, Restorer};

/// Trees fetched per call.
const TREE_BATCH: usize = 256;

/// Small files gathered across directories until they fill a fetch: a
/// directory of a few files would otherwise cost a call of its own.
#[derive(Default)]
struct SmallFiles {
    files: Vec<(PathBuf, Node)>,
    bytes: u64,
    ids: usize,
}

impl SmallFiles {
    /// Adds a file, first handing on the gathered ones if it would not fit.
    fn add(&mut self, path: PathBuf, node: Node, jobs: &flume::Sender<Job>) -> anyhow::Result<()> {
        if !self.files.is_empty()
            && (self.bytes + node.size > BATCH_BYTES || self.ids + node.content.len() > BATCH_IDS)
        {
            self.flush(jobs)?;
        }
        self.bytes += node.size;
        self.ids += node.content.len();
        self.files.push((path, node));
        Ok(())
    }

    fn flush(&mut self, jobs: &flume::Sender<Job>) -> anyhow::Result<()> {
        let files = std::mem::take(&mut self.files);
        (self.bytes, self.ids) = (0, 0);
        if !files.is_empty() {
            jobs.send(Job::Small(files)).map_err(workers_stopped)?;
        }
        Ok(())
    }
}

impl Restorer {
    /// Reads the trees a level at a time, creates directories and symlinks,
    /// and queues the files. Returns the directories, to set their metadata.
    pub(super) fn plan(
        &self,
        root: ChunkId,
        target: &Path,
        jobs: flume::Sender<Job>,
    ) -> anyhow::Result<Vec<DirMeta>> {
        let mut dirs = Vec::new();
        let mut small = SmallFiles::default();
        let mut level = vec![(root, target.to_owned())];
        while !level.is_empty() {
            let mut next = Vec::new();
            for batch in level.chunks(TREE_BATCH) {
                let ids: Vec<ChunkId> = batch.iter().map(|(id, _)| *id).collect();
                // A tree's size is known only once it is read.
                let expected = ids.len() as u64 * u64::from(CHUNK_AVG);
                let fetched = match self.fetch(&ids, expected) {
                    Ok(fetched) => fetched,
                    Err(err) => {
                        for (_, path) in batch {
                            self.fail(path, &format!("directory not restored: {err:#}"));
                        }
                        continue;
                    }
                };
                for (id, path) in batch {
                    let tree = match fetched.get(id) {
                        Some(Ok(bytes)) => decode_tree(bytes).map_err(|e| e.to_string()),
                        Some(Err(why)) => Err(why.clone()),
                        None => Err(format!("the server did not return tree {id}")),
                    };
                    match tree {
                        Ok(tree) => self
                            .plan_dir(tree.nodes, path, &jobs, &mut small, &mut next, &mut dirs)?,
                        Err(why) => self.fail(path, &format!("directory not restored: {why}")),
                    }
                }
            }
            level = next;
        }
        small.flush(&jobs)?;
        Ok(dirs)
    }

    fn plan_dir(
        &self,
        nodes: Vec<Node>,
        path: &Path,
        jobs: &flume::Sender<Job>,
        small: &mut SmallFiles,
        next: &mut Vec<(ChunkId, PathBuf)>,
        dirs: &mut Vec<DirMeta>,
    ) -> anyhow::Result<()> {
        for node in nodes {
            let child = child_path(path, &node.name)?;
            match NodeKind::try_from(node.kind) {
                Ok(NodeKind::File) if node.size > BATCH_BYTES => {
                    jobs.send(Job::Large { path: child, node })
                        .map_err(workers_stopped)?;
                }
                Ok(NodeKind::File) => small.add(child, node, jobs)?,
                Ok(NodeKind::Dir) => {
                    let subtree = ChunkId::from_slice(&node.subtree, "subtree")
                        .map_err(|e| anyhow::anyhow!("{}: {e}", child.display()))?;
                    fs::create_dir(&child)
                        .with_context(|| format!("cannot create {}", child.display()))?;
                    next.push((subtree, child.clone()));
                    dirs.push(DirMeta {
                        path: child,
                        mode: node.mode,
                        mtime: FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos),
                    });
                }
                Ok(NodeKind::Symlink) => {
                    std::os::unix::fs::symlink(OsStr::from_bytes(&node.link_target), &child)
                        .with_context(|| format!("cannot create link {}", child.display()))?;
                    let mtime = FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos);
                    filetime::set_symlink_file_times(&child, mtime, mtime)
                        .with_context(|| format!("cannot set the time of {}", child.display()))?;
                }
                _ => self.fail(&child, &format!("unknown entry kind {}", node.kind)),
            }
        }
        Ok(())
    }
}

fn child_path(dir: &Path, name: &[u8]) -> anyhow::Result<PathBuf> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        anyhow::bail!(
            "the snapshot holds an unsafe entry name {:?}",
            String::from_utf8_lossy(name)
        );
    }
    Ok(dir.join(OsStr::from_bytes(name)))
}

/// A send to the workers failed: they stopped, and the first to fail says
/// why.
fn workers_stopped<T>(_: flume::SendError<T>) -> anyhow::Error {
    anyhow::anyhow!("the restore workers stopped")
}
