//! Restore: read the snapshot's trees a level at a time (one batched call per
//! level slice), create the directories, and hand the files to parallel
//! workers that fetch their chunks (the server reads them from the packs with
//! ranged reads), check every chunk against its id, and write the files.
//!
//! A damaged or missing chunk fails only the files that need it: the rest
//! restore, and the error at the end names every file that did not.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use filetime::FileTime;
use futures::StreamExt;
use tokio::runtime::Handle;

use cairn_core::direct_io::DirectWriter;
use cairn_core::{ChunkId, SnapshotId};
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_engine::{decode_blob, decode_tree};
use cairn_proto::backup::v1::{GetSnapshotRequest, Node, NodeKind, ReadChunksRequest};

use crate::client::Backup;
use crate::{AgentClient, AgentState};

/// Small files are fetched together, up to this many bytes per job.
const BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Chunk ids per ReadChunks call.
const BATCH_IDS: usize = 1000;
/// Bytes of a large file fetched per call, counted at the file's average
/// chunk size: two chunks of the usual 1 MiB, but one at a time where the
/// chunks are large (long runs of zeros or repeats in disk images and
/// databases make chunks of the 8 MiB most). Counting chunks alone, a
/// worker held four such chunks (the window written and the next), and
/// the peak grew with how many such files the snapshot held.
const LARGE_FILE_WINDOW: u64 = 2 * 1024 * 1024;
/// Files from this size up are written with direct I/O (see [`create`]).
const DIRECT_MIN: u64 = 256 * 1024;
/// Bytes a file is written in, with direct I/O.
const DIRECT_WRITE: usize = 1024 * 1024;
/// Trees fetched per call.
const TREE_BATCH: usize = 256;
/// Files named in the error of a partial restore.
const NAMED_FAILURES: usize = 20;

#[derive(Debug, Default, Clone)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

/// What a running restore reports.
pub trait RestoreEvents: Send + Sync {
    /// The snapshot holds `files` files of `bytes` bytes in all.
    fn totals(&self, _files: u64, _bytes: u64) {}
    /// `bytes` more were written.
    fn bytes_done(&self, _bytes: u64) {}
    /// One more file is restored.
    fn file_done(&self) {}
}

impl RestoreEvents for crate::Quiet {}

/// Restores `snapshot_id` into `target` (created if missing).
pub async fn restore(
    state: &AgentState,
    snapshot_id: &str,
    target: &Path,
) -> anyhow::Result<RestoreSummary> {
    restore_with(state, snapshot_id, target, None, Arc::new(crate::Quiet)).await
}

/// [`restore`], reporting to `events`. A company in personal-key mode
/// needs its `passphrase`: the key is opened afresh for every restore.
pub async fn restore_with(
    state: &AgentState,
    snapshot_id: &str,
    target: &Path,
    passphrase: Option<&str>,
    events: Arc<dyn RestoreEvents>,
) -> anyhow::Result<RestoreSummary> {
    let key = if state.uses_personal_key() {
        state.open_personal_key(passphrase)?
    } else {
        state.data_key()?
    };
    let id = SnapshotId::parse(snapshot_id, "snapshot").map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = AgentClient::connect(state).await?;
    let snapshot = client
        .backup
        .clone()
        .get_snapshot(GetSnapshotRequest {
            snapshot_id: id.to_string(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("snapshot {id}: {}", s.message()))?
        .into_inner()
        .snapshot
        .context("the server returned no snapshot")?;
    let root =
        ChunkId::from_slice(&snapshot.tree_id, "tree_id").map_err(|e| anyhow::anyhow!("{e}"))?;
    let stats = snapshot.stats.unwrap_or_default();
    events.totals(stats.files, stats.bytes);
    let target = target.to_owned();
    let handle = Handle::current();
    let backup = client.backup.clone();
    tokio::task::spawn_blocking(move || {
        fs::create_dir_all(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        let restorer = Restorer {
            ids: key.chunk_id_key(),
            key,
            client: backup,
            handle,
            events,
            failures: Mutex::new(Vec::new()),
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        };
        restorer.run(root, &target)
    })
    .await
    .context("the restore stopped")?
}

/// Work for the file workers.
enum Job {
    /// Small files, of one directory or several, fetched together.
    Small(Vec<(PathBuf, Node)>),
    /// One large file, fetched a window at a time.
    Large { path: PathBuf, node: Node },
}

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

/// A chunk as fetched: its plaintext, or why it cannot be had.
type Fetched = HashMap<ChunkId, Result<Bytes, String>>;

struct Restorer {
    key: DataKey,
    ids: ChunkIdKey,
    client: Backup,
    handle: Handle,
    events: Arc<dyn RestoreEvents>,
    /// "path: why" for everything that could not be restored.
    failures: Mutex<Vec<String>>,
    files: AtomicU64,
    bytes: AtomicU64,
}

fn chunk_ids(node: &Node) -> anyhow::Result<Vec<ChunkId>> {
    node.content
        .iter()
        .map(|id| ChunkId::from_slice(id, "content").map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

impl Restorer {
    fn run(&self, root: ChunkId, target: &Path) -> anyhow::Result<RestoreSummary> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
        let (job_tx, job_rx) = flume::bounded::<Job>(workers * 2);
        let planned = std::thread::scope(|scope| {
            for _ in 0..workers {
                let jobs = job_rx.clone();
                scope.spawn(move || {
                    for job in jobs.iter() {
                        self.work(job);
                    }
                });
            }
            drop(job_rx);
            // Dropping the sender when planning ends lets the workers finish.
            self.plan(root, target, job_tx)
        });
        let dirs = planned?;
        // Directories last, deepest first: writing into one changes its time.
        for dir in dirs.iter().rev() {
            if let Err(err) = dir.apply() {
                self.fail(&dir.path, &format!("{err:#}"));
            }
        }
        let failures =
            std::mem::take(&mut *self.failures.lock().unwrap_or_else(|e| e.into_inner()));
        if !failures.is_empty() {
            let mut message = format!(
                "{} could not be restored (the other files were restored):",
                plural(failures.len(), "item")
            );
            for failure in failures.iter().take(NAMED_FAILURES) {
                message.push_str("\n  ");
                message.push_str(failure);
            }
            if failures.len() > NAMED_FAILURES {
                message.push_str(&format!("\n  and {} more", failures.len() - NAMED_FAILURES));
            }
            anyhow::bail!(message);
        }
        Ok(RestoreSummary {
            files: self.files.load(Ordering::Relaxed),
            dirs: dirs.len() as u64,
            bytes: self.bytes.load(Ordering::Relaxed),
        })
    }

    fn fail(&self, path: &Path, why: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{}: {why}", path.display()));
    }

    /// Reads the trees a level at a time, creates directories and symlinks,
    /// and queues the files. Returns the directories, to set their metadata.
    fn plan(
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
                let fetched = match self.fetch(&ids) {
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

    fn work(&self, job: Job) {
        match job {
            Job::Small(files) => self.small_files(files),
            Job::Large { path, node } => {
                if let Err(err) = self.large_file(&path, &node) {
                    self.fail(&path, &format!("{err:#}"));
                }
            }
        }
    }

    /// Fetches `ids`: transport failures are an error for the whole call; a
    /// damaged chunk is an error for that chunk only.
    fn fetch(&self, ids: &[ChunkId]) -> anyhow::Result<Fetched> {
        let mut unique: Vec<ChunkId> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let mut out = HashMap::with_capacity(unique.len());
        for batch in unique.chunks(BATCH_IDS) {
            let stored = self.read_chunks(batch)?;
            for (id, data) in stored {
                if !batch.contains(&id) {
                    anyhow::bail!("the server sent chunk {id}, which was not asked for");
                }
                let plain = decode_blob(&self.key, &self.ids, &id, &data)
                    .map_err(|e| format!("chunk {id} is damaged: {e}"));
                out.insert(id, plain);
            }
        }
        for id in unique {
            out.entry(id)
                .or_insert_with(|| Err(format!("the server did not return chunk {id}")));
        }
        Ok(out)
    }

    fn read_chunks(&self, batch: &[ChunkId]) -> anyhow::Result<Vec<(ChunkId, Bytes)>> {
        let request = ReadChunksRequest {
            chunk_ids: batch.iter().map(|id| id.0.to_vec()).collect(),
        };
        let mut client = self.client.clone();
        let stored = self.handle.block_on(async move {
            let mut stream = client
                .read_chunks(request)
                .await
                .map_err(|s| anyhow::anyhow!("cannot read chunks: {}", s.message()))?
                .into_inner();
            let mut stored = Vec::new();
            while let Some(message) = stream.next().await {
                let message =
                    message.map_err(|s| anyhow::anyhow!("cannot read chunks: {}", s.message()))?;
                stored.extend(message.chunks);
            }
            Ok::<_, anyhow::Error>(stored)
        })?;
        stored
            .into_iter()
            .map(|chunk| {
                let id =
                    ChunkId::from_slice(&chunk.id, "id").map_err(|e| anyhow::anyhow!("{e}"))?;
                // A view of the message's buffer: the chunk is decrypted
                // straight out of it.
                Ok((id, chunk.data))
            })
            .collect()
    }

    fn small_files(&self, files: Vec<(PathBuf, Node)>) {
        let mut ids = Vec::new();
        let mut named = Vec::with_capacity(files.len());
        for (path, node) in files {
            match chunk_ids(&node) {
                Ok(found) => {
                    ids.extend(found);
                    named.push((path, node));
                }
                Err(err) => self.fail(&path, &err.to_string()),
            }
        }
        let chunks = if ids.is_empty() {
            Ok(Fetched::new())
        } else {
            self.fetch(&ids)
        };
        for (path, node) in named {
            let result = match &chunks {
                Ok(chunks) => self.write_small(&path, &node, chunks),
                Err(err) => Err(anyhow::anyhow!("{err:#}")),
            };
            if let Err(err) = result {
                self.fail(&path, &format!("{err:#}"));
            }
        }
    }

    fn write_small(&self, path: &Path, node: &Node, chunks: &Fetched) -> anyhow::Result<()> {
        let ids = chunk_ids(node)?;
        // Check every chunk before creating the file: a damaged one leaves none.
        let parts = ids
            .iter()
            .map(|id| chunk(chunks, id))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.write_file(path, node, |file| {
            for data in parts {
                file.write(data)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                self.events.bytes_done(data.len() as u64);
            }
            Ok(())
        })
    }

    fn large_file(&self, path: &Path, node: &Node) -> anyhow::Result<()> {
        let ids = chunk_ids(node)?;
        let window = window(node.size, ids.len());
        self.write_file(path, node, |file| {
            self.write_large(file, path, &ids, window)
        })
    }

    /// Creates `path`, has `fill` write its bytes, and finishes it; a file
    /// that fails is removed: a half-written file must not pass for a
    /// restored one.
    fn write_file(
        &self,
        path: &Path,
        node: &Node,
        fill: impl FnOnce(&mut DirectWriter) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut file = create(path, node.size)?;
        fill(&mut file)
            .and_then(|()| {
                let written = file.len();
                let done = file
                    .finish()
                    .with_context(|| format!("cannot write {}", path.display()))?;
                self.finish_file(done, path, node, written)
            })
            .inspect_err(|_| drop(fs::remove_file(path)))
    }

    /// Writes the chunks `ids` to `file`, fetched `window` at a time.
    fn write_large(
        &self,
        file: &mut DirectWriter,
        path: &Path,
        ids: &[ChunkId],
        window: usize,
    ) -> anyhow::Result<()> {
        let mut windows = ids.chunks(window);
        let mut current = windows.next().map(|w| (w, self.fetch(w)));
        while let Some((window, fetched)) = current {
            // Fetch the next window while this one is written.
            let (next, written) = std::thread::scope(|scope| {
                let next = windows
                    .next()
                    .map(|w| scope.spawn(move || (w, self.fetch(w))));
                let written = fetched.and_then(|chunks| {
                    for id in window {
                        let data = chunk(&chunks, id)?;
                        file.write(data)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        self.events.bytes_done(data.len() as u64);
                    }
                    Ok(())
                });
                (next.map(|h| h.join()), written)
            });
            written?;
            current = match next {
                Some(Ok(next)) => Some(next),
                Some(Err(_)) => anyhow::bail!("fetching {} stopped", path.display()),
                None => None,
            };
        }
        Ok(())
    }

    /// Checks the size and sets the mode and time through the open file:
    /// no path lookups, and no second open of the file.
    fn finish_file(
        &self,
        file: &fs::File,
        path: &Path,
        node: &Node,
        written: u64,
    ) -> anyhow::Result<()> {
        if written != node.size {
            anyhow::bail!("restored {written} bytes, expected {}", node.size);
        }
        file.set_permissions(fs::Permissions::from_mode(node.mode & 0o7777))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        let mtime = FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos);
        filetime::set_file_handle_times(file, None, Some(mtime))
            .with_context(|| format!("cannot set the time of {}", path.display()))?;
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(written, Ordering::Relaxed);
        self.events.file_done();
        Ok(())
    }
}

/// Chunks fetched per call for a file of `size` bytes in `chunks` chunks:
/// [`LARGE_FILE_WINDOW`] bytes at their average size, at least one and at
/// most a call's worth of ids.
fn window(size: u64, chunks: usize) -> usize {
    let average = size / (chunks as u64).max(1);
    usize::try_from(LARGE_FILE_WINDOW / average.max(1))
        .unwrap_or(BATCH_IDS)
        .clamp(1, BATCH_IDS)
}

/// The plaintext of `id` among `chunks`, or why it cannot be had.
fn chunk<'a>(chunks: &'a Fetched, id: &ChunkId) -> anyhow::Result<&'a [u8]> {
    match chunks.get(id) {
        Some(Ok(data)) => Ok(data),
        Some(Err(why)) => anyhow::bail!("{why}"),
        None => anyhow::bail!("the server did not return chunk {id}"),
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
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

/// Creates `path` (never over an existing file) for a file of `size`
/// bytes. From [`DIRECT_MIN`] up, the file is written with direct I/O where
/// the filesystem allows it (see [`cairn_core::direct_io`]): a restore of
/// many gigabytes then neither pays for fresh page-cache pages nor pushes
/// the machine's working set out of the cache. Smaller files go through
/// the cache, which lets the system write many of them out together.
fn create(path: &Path, size: u64) -> anyhow::Result<DirectWriter> {
    let write_size = size.min(DIRECT_WRITE as u64) as usize;
    DirectWriter::create_new(path, size >= DIRECT_MIN, write_size).with_context(|| {
        format!(
            "cannot create {} (restore never overwrites)",
            path.display()
        )
    })
}

/// A restored directory's mode and time, set once everything in it is
/// written (writing into a directory changes its time). Only these are kept
/// of its node: a restore holds one for every directory of the snapshot.
struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: FileTime,
}

impl DirMeta {
    fn apply(&self) -> anyhow::Result<()> {
        let path = &self.path;
        fs::set_permissions(path, fs::Permissions::from_mode(self.mode & 0o7777))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        filetime::set_file_mtime(path, self.mtime)
            .with_context(|| format!("cannot set the time of {}", path.display()))
    }
}

/// A send to the workers failed: they stopped, and the first to fail says
/// why.
fn workers_stopped<T>(_: flume::SendError<T>) -> anyhow::Error {
    anyhow::anyhow!("the restore workers stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_are_fetched_by_bytes_not_chunks() {
        let mib = 1024 * 1024;
        // The usual 1 MiB chunks: two a call.
        assert_eq!(window(300 * mib, 300), 2);
        // Small chunks: more per call, for the same bytes.
        assert_eq!(window(100 * mib, 200), 4);
        // Chunks of 8 MiB, or of 3: one at a time.
        assert_eq!(window(80 * mib, 10), 1);
        assert_eq!(window(30 * mib, 10), 1);
        // Chunks too small to be Cairn's, or none: at most a call's ids.
        assert_eq!(window(5 * mib, 5 * mib as usize), BATCH_IDS);
        assert_eq!(window(0, 0), BATCH_IDS);
    }
}
