//! Backup: a bounded pipeline that keeps every core busy.
//!
//! One thread walks the paths in name order and takes the chunk lists of files
//! unchanged since the last backup from the parent-snapshot cache, without
//! reading them. Reader threads read, cut and name the other files; a
//! resolver asks the server in batches which of those chunks the company
//! lacks; encoder threads compress and encrypt the missing ones; the packer
//! fills packs, which upload while the walk goes on. A byte budget bounds the
//! chunk data between the readers and the server (`budget.rs`), so memory
//! does not grow with the sizes of files or chunks.
//! The snapshot is committed last, after every pack it needs is stored.

use std::collections::{HashSet, VecDeque};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use cairn_core::ChunkId;
use cairn_core::policy::{PathFilter, Policy};
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_engine::{
    Chunker, EncodedBlob, PACK_TARGET, Pack, PackBuilder, encode_named_blob, encode_tree, sort_tree,
};
use cairn_proto::backup::v1::{
    ChunkIds, ChunkRecord, CommitSnapshotRequest, FindMissingChunksRequest, Node, NodeKind,
    PackHeader, SnapshotHeader, SnapshotStats, Tree, UploadPackRequest, commit_snapshot_request,
    upload_pack_request,
};

use crate::budget::{Budget, Permit};
use crate::cache::{self, NextCache, ParentCache};
use crate::client::Backup;
use crate::idset::{RecentIds, ReferencedIds};
use crate::recycle::PackBuffers;
use crate::{AgentClient, AgentState};

/// Chunks asked about in one FindMissingChunks call.
const PENDING_CHUNKS: usize = 512;
/// Plaintext bytes held while waiting for that answer.
const PENDING_BYTES: usize = 4 * 1024 * 1024;
/// FindMissingChunks questions left waiting for their answers while the
/// resolver gathers the next batch.
const ASKS_IN_FLIGHT: usize = 2;
/// Chunk ids per CommitSnapshot message.
const COMMIT_BATCH: usize = 10_000;
/// Bytes per upload message.
const FRAME: usize = 2 * 1024 * 1024;
/// Packs uploading at once (one more waits, packed, in the queue): one
/// sending while the server makes the one before durable.
const UPLOADS: usize = 2;
/// Batches of files queued for the readers ahead of the walk.
const QUEUED_JOBS: usize = 4;
/// Files per batch for the readers: a reader and the walk then wake each
/// other once per batch, not once per small file.
const JOB_BATCH_FILES: usize = 16;
/// Bytes per batch for the readers, so large files spread over all of them.
const JOB_BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Entries the walk may run ahead of the trees being assembled.
const QUEUED_STEPS: usize = 4096;
/// Batches of chunks queued between two stages (their bytes are bounded by
/// the budget).
const QUEUED_CHUNKS: usize = 64;
/// Chunks a reader gathers before handing them on, so the next stage is
/// woken once per batch rather than once per chunk. A reader hands over
/// what it has before it would wait for anything.
const READ_BATCH_CHUNKS: usize = 32;
/// Stored bytes a reader gathers before handing them on.
const READ_BATCH_BYTES: u64 = 4 * 1024 * 1024;
/// Chunk bytes in flight between the readers and the server: read, waiting
/// for FindMissingChunks, encoding, packed or uploading. At least a full pack,
/// the resolver's batch and the largest chunk, or the pipeline could stall.
const PIPELINE_BYTES: usize = 40 * 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct BackupSummary {
    pub snapshot_id: String,
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// Chunks the snapshot references.
    pub chunks: u64,
    /// Chunks this run uploaded (new to the company).
    pub chunks_uploaded: u64,
    /// Bytes this run uploaded (compressed and encrypted).
    pub bytes_uploaded: u64,
    /// Files taken from the parent snapshot without being read.
    pub files_unchanged: u64,
    /// Bytes read from disk.
    pub bytes_read: u64,
    /// Things that did not stop the backup but deserve a look.
    pub warnings: Vec<String>,
}

/// What a running backup reports, and how it is asked to stop early.
pub trait BackupEvents: Send + Sync {
    /// Whether to count the files and bytes to back up, alongside the
    /// backup, for [`BackupEvents::totals`] (costs a second walk).
    fn wants_totals(&self) -> bool {
        false
    }
    /// The paths hold `files` files of `bytes` bytes in all.
    fn totals(&self, _files: u64, _bytes: u64) {}
    /// `bytes` of file content were handled: read and chunked, or found
    /// unchanged since the last backup.
    fn bytes_done(&self, _bytes: u64) {}
    /// One more file is handled.
    fn file_done(&self) {}
    /// A pack of `bytes` reached the server and is committed there.
    fn pack_uploaded(&self, _bytes: u64) {}
    /// Checked before each file: true stops the backup without a snapshot.
    fn should_stop(&self) -> bool {
        false
    }
}

/// Reports nothing and never stops.
pub struct Quiet;

impl BackupEvents for Quiet {}

/// Backs `paths` up and commits a snapshot.
pub async fn backup(state: &AgentState, paths: &[PathBuf]) -> anyhow::Result<BackupSummary> {
    backup_with(state, paths, Arc::new(Quiet)).await
}

/// Backs up the paths of the agent's policy (`~` is `home`).
pub async fn backup_policy_paths(
    state: &AgentState,
    home: Option<&Path>,
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    let client = AgentClient::connect(state).await?;
    let checked = crate::policy::check_in(&client, 0).await?;
    let paths = crate::policy::paths(&checked.policy, home);
    if paths.is_empty() {
        let err = anyhow::anyhow!(
            "none of the policy's paths ({}) exist on this machine",
            checked.policy.include_paths.join(", ")
        );
        crate::policy::report(&client, &Err(anyhow::anyhow!("{err}"))).await;
        return Err(err);
    }
    run_and_report(state, &client, &paths, &checked.policy, events).await
}

/// [`backup`], reporting to `events`. The group's policy is fetched first:
/// its exclusions and upload limit apply to `paths`. A stopped backup commits
/// no snapshot; the packs it uploaded are reused by the next run.
pub async fn backup_with(
    state: &AgentState,
    paths: &[PathBuf],
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    if paths.is_empty() {
        anyhow::bail!("name at least one path to back up");
    }
    let client = AgentClient::connect(state).await?;
    let checked = crate::policy::check_in(&client, 0).await?;
    run_and_report(state, &client, paths, &checked.policy, events).await
}

/// Sends a snapshot commit's header, its chunk ids in ascending order and
/// then the end of the list (`None`); returns how many ids were sent.
fn send_chunk_list(
    requests: &mpsc::Sender<Option<CommitSnapshotRequest>>,
    header: CommitSnapshotRequest,
    referenced: ReferencedIds,
) -> anyhow::Result<u64> {
    let send = |request| {
        requests
            .blocking_send(request)
            .map_err(|_| anyhow::anyhow!("the snapshot commit ended before its chunk list"))
    };
    send(Some(header))?;
    let mut ids = referenced.into_sorted()?;
    let mut count = 0;
    loop {
        let batch = ids
            .by_ref()
            .take(COMMIT_BATCH)
            .map(|id| id.map(|id| id.0.to_vec()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if batch.is_empty() {
            break;
        }
        count += batch.len() as u64;
        send(Some(CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds {
                ids: batch,
            })),
        }))?;
    }
    send(None)?;
    Ok(count)
}

/// The parent cache named chunks the server no longer holds.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct StaleCache(String);

async fn run_and_report(
    state: &AgentState,
    client: &AgentClient,
    paths: &[PathBuf],
    policy: &Policy,
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    let cache = state
        .dir
        .as_deref()
        .map(|dir| ParentCache::load(dir, &state.company_id))
        .unwrap_or_default();
    let mut result = run(state, client, paths, policy, events.clone(), cache).await;
    if result.as_ref().is_err_and(|e| e.is::<StaleCache>()) {
        // Read every file again rather than trust the cache.
        if let Some(dir) = state.dir.as_deref() {
            ParentCache::remove(dir);
        }
        result = run(state, client, paths, policy, events, ParentCache::default()).await;
    }
    // A completed backup is recorded by its snapshot's commit.
    if let Err(err) = &result {
        crate::policy::report(client, &Err(anyhow::anyhow!("{err:#}"))).await;
    }
    result
}

async fn run(
    state: &AgentState,
    client: &AgentClient,
    paths: &[PathBuf],
    policy: &Policy,
    events: Arc<dyn BackupEvents>,
    cache: ParentCache,
) -> anyhow::Result<BackupSummary> {
    let started_at = cairn_core::unix_now();
    let filter = policy
        .filter()
        .map_err(|e| anyhow::anyhow!("the policy's patterns: {e}"))?;
    let key = state.data_key()?;
    let mut absolute = Vec::new();
    for path in paths {
        absolute.push(
            fs::canonicalize(path).with_context(|| format!("cannot back up {}", path.display()))?,
        );
    }

    let (pack_tx, pack_rx) = mpsc::channel::<(Pack, Permit)>(1);
    let buffers = PackBuffers::default();
    let uploader = tokio::spawn(upload_packs(
        client.backup.clone(),
        buffers.clone(),
        pack_rx,
        events.clone(),
        policy.bandwidth_kbps,
    ));
    let used_cache = !cache.is_empty();
    // The next backup's cache is written as this one goes.
    let next = state
        .dir
        .as_deref()
        .map(|dir| NextCache::create(dir, &state.company_id).map_err(|err| format!("{err:#}")));
    let caches = Caches {
        parent: cache,
        next,
    };
    let walk_paths = absolute.clone();
    // Where the snapshot's chunk list goes when it outgrows memory.
    let spill_dir = state.dir.clone().unwrap_or_else(std::env::temp_dir);
    let handle = Handle::current();
    let backup_client = client.backup.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let pipeline = Pipeline {
            ids: key.chunk_id_key(),
            key,
            seen: Mutex::new(RecentIds::default()),
            spill_dir,
            buffers,
            budget: Budget::new(PIPELINE_BYTES),
            events,
            failure: Mutex::new(None),
        };
        pipeline.run(&walk_paths, caches, filter, backup_client, handle, pack_tx)
    })
    .await
    .context("the backup walk stopped")?;
    // Every pack must be stored before the snapshot that needs it.
    let uploaded = uploader.await.context("the uploader stopped")?;
    // An upload failure stops the walk too: report the cause, not the symptom.
    let (chunks_uploaded, bytes_uploaded) = uploaded?;
    let walked = walked?;
    let mut summary = walked.summary;
    summary.chunks_uploaded = chunks_uploaded;
    summary.bytes_uploaded = bytes_uploaded;

    let header = SnapshotHeader {
        tree_id: walked.root.0.to_vec(),
        hostname: state.hostname.clone(),
        paths: absolute.iter().map(|p| p.display().to_string()).collect(),
        started_at,
        finished_at: cairn_core::unix_now(),
        stats: Some(SnapshotStats {
            files: summary.files,
            dirs: summary.dirs,
            bytes: summary.bytes,
        }),
    };
    // The chunk ids go out in batches as they are read back in order, a few
    // batches ahead of the transport. The request stream ends only on an
    // explicit last message: if the list cannot be read back, the call is
    // cancelled instead, so the server never takes a cut-short list for a
    // whole one.
    let header = CommitSnapshotRequest {
        part: Some(commit_snapshot_request::Part::Header(header)),
    };
    let (requests, mut queued) = mpsc::channel::<Option<CommitSnapshotRequest>>(2);
    let stream = futures::stream::poll_fn(move |cx| match queued.poll_recv(cx) {
        std::task::Poll::Ready(Some(request)) => std::task::Poll::Ready(request),
        std::task::Poll::Ready(None) | std::task::Poll::Pending => std::task::Poll::Pending,
    });
    let referenced = walked.referenced;
    let mut producer =
        tokio::task::spawn_blocking(move || send_chunk_list(&requests, header, referenced));
    let mut backup = client.backup.clone();
    let commit = backup.commit_snapshot(stream);
    tokio::pin!(commit);
    let mut listed = None;
    let answer = tokio::select! {
        answer = &mut commit => answer,
        produced = &mut producer => {
            listed = Some(produced.context("the snapshot's chunk list stopped")??);
            commit.await
        }
    };
    let snapshot = answer
        .map_err(|s| {
            let message = format!("the snapshot was not committed: {}", s.message());
            if used_cache
                && s.code() == tonic::Code::InvalidArgument
                && s.message().contains("are not stored")
            {
                anyhow::Error::new(StaleCache(message))
            } else {
                anyhow::anyhow!(message)
            }
        })?
        .into_inner()
        .snapshot
        .context("the server returned no snapshot")?;
    summary.snapshot_id = snapshot.snapshot_id;
    summary.chunks = match listed {
        Some(count) => count,
        // The server answered as the last message went out.
        None => producer
            .await
            .context("the snapshot's chunk list stopped")??,
    };
    let saved = match walked.next_cache {
        Some(Ok(next)) => next.commit(),
        Some(Err(trouble)) => Err(anyhow::anyhow!(trouble)),
        None => Ok(()),
    };
    if let Err(err) = saved {
        // The snapshot is safe; the next backup only reads more.
        summary.warnings.push(format!(
            "the parent-snapshot cache was not saved ({err:#}); the next backup reads every file"
        ));
    }
    Ok(summary)
}

async fn upload_packs(
    client: Backup,
    buffers: PackBuffers,
    mut packs: mpsc::Receiver<(Pack, Permit)>,
    events: Arc<dyn BackupEvents>,
    bandwidth_kbps: i64,
) -> anyhow::Result<(u64, u64)> {
    let (mut chunks, mut bytes) = (0u64, 0u64);
    let mut started_bytes = 0u64;
    let started = tokio::time::Instant::now();
    let mut uploads = tokio::task::JoinSet::new();
    let mut count = |done: Result<anyhow::Result<(u32, u64)>, tokio::task::JoinError>| {
        let (added, size) = done.context("a pack upload stopped")??;
        chunks += u64::from(added);
        bytes += size;
        events.pack_uploaded(size);
        anyhow::Ok(())
    };
    while let Some((pack, permit)) = packs.recv().await {
        // Keep the average upload rate under the policy's limit.
        if bandwidth_kbps > 0 {
            let allowed =
                Duration::from_secs_f64(started_bytes as f64 / (bandwidth_kbps as f64 * 1024.0));
            tokio::time::sleep_until(started + allowed).await;
        }
        started_bytes += pack.bytes.len() as u64;
        if uploads.len() >= UPLOADS
            && let Some(done) = uploads.join_next().await
        {
            count(done)?;
        }
        let bytes = buffers.lend(pack.bytes, Some(permit));
        uploads.spawn(upload_pack(client.clone(), pack.chunks, bytes));
    }
    while let Some(done) = uploads.join_next().await {
        count(done)?;
    }
    Ok((chunks, bytes))
}

/// Uploads one pack; its frames are slices of `bytes` (no copies), made one
/// at a time as the transport asks for them. The header names no id: the
/// server hashes the bytes as they arrive and names the pack itself. The
/// pack's share of the budget goes back with its buffer once the last frame
/// is sent, not when the server answers: waiting for the answer (the server
/// makes the pack durable first) holds no memory here, so the next pack
/// goes out meanwhile.
async fn upload_pack(
    mut client: Backup,
    chunks: Vec<ChunkRecord>,
    bytes: Bytes,
) -> anyhow::Result<(u32, u64)> {
    let size = bytes.len() as u64;
    let header = UploadPackRequest {
        part: Some(upload_pack_request::Part::Header(PackHeader {
            pack_id: Vec::new(),
            size,
            chunks,
        })),
    };
    let frames = (0..bytes.len().div_ceil(FRAME)).map(move |i| {
        let end = ((i + 1) * FRAME).min(bytes.len());
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Data(bytes.slice(i * FRAME..end))),
        }
    });
    let messages = futures::stream::iter(std::iter::once(header).chain(frames));
    let added = client
        .upload_pack(messages)
        .await
        .map_err(|s| match s.code() {
            tonic::Code::ResourceExhausted => anyhow::anyhow!("{}", s.message()),
            _ => anyhow::anyhow!("pack upload failed: {}", s.message()),
        })?
        .into_inner()
        .chunks_added;
    Ok((added, size))
}

/// A chunk's plaintext, named, with its share of the budget.
struct Plain {
    id: ChunkId,
    data: Vec<u8>,
    permit: Permit,
    blob: Option<EncodedBlob>,
}

/// Items on their way to the next stage, handed over a batch at a time, so
/// that stage is woken once per batch: when the batch reaches `max_items`
/// items or `max_bytes` bytes, or when the owner flushes it (always before
/// it waits for anything, so nothing held back can be what another stage
/// waits for).
struct Batcher<T> {
    to: flume::Sender<Vec<T>>,
    batch: Vec<T>,
    bytes: u64,
    max_items: usize,
    max_bytes: u64,
}

impl<T> Batcher<T> {
    fn new(to: flume::Sender<Vec<T>>, max_items: usize, max_bytes: u64) -> Self {
        Batcher {
            to,
            batch: Vec::with_capacity(max_items),
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    fn push(&mut self, item: T, bytes: u64) -> Result<(), Stopped> {
        self.batch.push(item);
        self.bytes += bytes;
        if self.batch.len() >= self.max_items || self.bytes >= self.max_bytes {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.bytes = 0;
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_items));
        self.to.send(batch).map_err(|_| Stopped)
    }

    /// Nothing is queued for the next stage: it is waiting, or about to.
    fn receiver_idle(&self) -> bool {
        self.to.is_empty()
    }
}

/// A later stage stopped; the stage that failed recorded why.
#[derive(Debug, thiserror::Error)]
#[error("the backup pipeline stopped")]
struct Stopped;

/// A file for the readers, and where to send what they found.
struct FileJob {
    path: PathBuf,
    reply: flume::Sender<anyhow::Result<FileRead>>,
}

struct FileRead {
    size: u64,
    ids: Vec<ChunkId>,
    /// The file's metadata once read, to tell whether it changed meanwhile.
    after: fs::Metadata,
}

/// The last backup's cache, read along with the walk, and the next
/// backup's, written as this one goes.
struct Caches {
    parent: ParentCache,
    next: Option<NextState>,
}

/// The next backup's cache, if the agent keeps state: being written, or
/// given up, and why.
type NextState = Result<NextCache, String>;

/// What the walk produced.
struct Walked {
    root: ChunkId,
    summary: BackupSummary,
    referenced: ReferencedIds,
    /// The cache for the next backup, to commit with the snapshot.
    next_cache: Option<NextState>,
}

/// State shared by the pipeline's threads.
struct Pipeline {
    key: DataKey,
    ids: ChunkIdKey,
    /// Chunks already on their way in this run.
    seen: Mutex<RecentIds>,
    /// Where the snapshot's chunk list is spilled.
    spill_dir: PathBuf,
    /// Buffers of uploaded packs, for the next packs.
    buffers: PackBuffers,
    /// Bounds the chunk bytes in flight.
    budget: Arc<Budget>,
    events: Arc<dyn BackupEvents>,
    /// The first real failure of any stage.
    failure: Mutex<Option<anyhow::Error>>,
}

impl Pipeline {
    fn run(
        &self,
        paths: &[PathBuf],
        caches: Caches,
        filter: PathFilter,
        client: Backup,
        handle: Handle,
        packs: mpsc::Sender<(Pack, Permit)>,
    ) -> anyhow::Result<Walked> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (job_tx, job_rx) = flume::bounded::<Vec<FileJob>>(QUEUED_JOBS);
        let (plain_tx, plain_rx) = flume::bounded::<Vec<Plain>>(QUEUED_CHUNKS);
        let (missing_tx, missing_rx) = flume::bounded::<Plain>(QUEUED_CHUNKS);
        let (blob_tx, blob_rx) = flume::bounded::<Vec<(EncodedBlob, Permit)>>(QUEUED_CHUNKS);
        let walked = std::thread::scope(|scope| {
            for _ in 0..workers {
                let (jobs, plain) = (job_rx.clone(), plain_tx.clone());
                spawn_stage(scope, "read", move || self.read_files(jobs, plain))?;
            }
            let (plain, missing) = (plain_rx, missing_tx);
            let btx = blob_tx.clone();
            spawn_stage(scope, "ask", move || {
                self.stage(self.resolve(plain, missing, btx, client, handle))
            })?;
            for _ in 0..workers {
                let (missing, blobs) = (missing_rx.clone(), blob_tx.clone());
                spawn_stage(scope, "encode", move || {
                    self.stage(self.encode(missing, blobs))
                })?;
            }
            drop((job_rx, missing_rx, blob_tx));
            spawn_stage(scope, "pack", move || self.stage(self.pack(blob_rx, packs)))?;
            if self.events.wants_totals() {
                let filter = &filter;
                spawn_stage(scope, "count", move || {
                    let (files, bytes) = count(paths, filter);
                    self.events.totals(files, bytes);
                })?;
            }

            let (step_tx, step_rx) = flume::bounded::<Step>(QUEUED_STEPS);
            let Caches {
                parent: mut cache,
                next: next_cache,
            } = caches;
            let parent_trees = cache.take_trees();
            let walker = Walker {
                pipeline: self,
                cache,
                filter: &filter,
                jobs: Batcher::new(job_tx, JOB_BATCH_FILES, JOB_BATCH_BYTES),
                steps: step_tx,
            };
            spawn_stage(scope, "walk", move || self.stage(walker.walk(paths)))?;
            let mut assembler = Assembler {
                pipeline: self,
                parent_trees,
                plain: plain_tx,
                stack: Vec::new(),
                referenced: ReferencedIds::new(&self.spill_dir),
                next_cache,
                summary: BackupSummary::default(),
                now_secs: cairn_core::unix_now(),
            };
            // A failed assembly stops the readers at once, like a failed stage.
            let root = assembler.run(step_rx).inspect_err(|_| self.budget.close());
            // Dropping the assembler closes its channel: every stage finishes.
            let Assembler {
                referenced,
                next_cache,
                summary,
                ..
            } = assembler;
            root.map(|root| Walked {
                root,
                summary,
                referenced,
                next_cache,
            })
        });
        // A stage's own failure explains the assembler's stop.
        if let Some(failure) = self.take_failure() {
            return Err(failure);
        }
        walked
    }

    /// Runs a stage, keeping its failure unless it only saw a later stage
    /// stop. A stage that ended early may hold budget it never gives back:
    /// nobody waits for it any more.
    fn stage(&self, result: anyhow::Result<()>) {
        if let Err(err) = result {
            self.budget.close();
            if !err.is::<Stopped>() {
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                failure.get_or_insert(err);
            }
        }
    }

    /// The budget's share for `bytes` of chunk data.
    fn room(&self, bytes: usize) -> Result<Permit, Stopped> {
        self.budget.take(bytes).map_err(|_| Stopped)
    }

    /// [`Pipeline::room`] if it is free now, without waiting.
    fn try_room(&self, bytes: usize) -> Result<Option<Permit>, Stopped> {
        self.budget.try_take(bytes).map_err(|_| Stopped)
    }

    fn take_failure(&self) -> Option<anyhow::Error> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// True the first time this run meets `id`.
    fn first_sight(&self, id: ChunkId) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id)
    }

    fn read_files(&self, jobs: flume::Receiver<Vec<FileJob>>, plain: flume::Sender<Vec<Plain>>) {
        let mut chunker = Chunker::new();
        let mut out = Batcher::new(plain, READ_BATCH_CHUNKS, READ_BATCH_BYTES);
        let mut replies = Vec::new();
        loop {
            let batch = match jobs.try_recv() {
                Ok(batch) => batch,
                // Hand over what is gathered before waiting for more files:
                // the walk may be waiting for it, through the budget.
                Err(flume::TryRecvError::Empty) => {
                    if out.flush().is_err() {
                        return;
                    }
                    match jobs.recv() {
                        Ok(batch) => batch,
                        Err(_) => return,
                    }
                }
                Err(flume::TryRecvError::Disconnected) => break,
            };
            for job in batch {
                let result = self.read_file(&mut chunker, &job.path, &mut out);
                replies.push((job.reply, result));
            }
            // The batch's answers together: the assembler, waiting for the
            // first, finds the others there. The walker has stopped if
            // nobody listens.
            for (reply, result) in replies.drain(..) {
                let _ = reply.send(result);
            }
        }
        let _ = out.flush();
    }

    fn read_file(
        &self,
        chunker: &mut Chunker,
        path: &Path,
        out: &mut Batcher<Plain>,
    ) -> anyhow::Result<FileRead> {
        let file =
            fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let (mut size, mut ids) = (0u64, Vec::new());
        chunker
            .for_each_chunk(&file, |chunk| -> anyhow::Result<()> {
                if self.events.should_stop() {
                    anyhow::bail!(
                        "backup interrupted while reading {}; no snapshot was saved",
                        path.display()
                    );
                }
                let id = self.ids.chunk_id(chunk);
                size += chunk.len() as u64;
                self.events.bytes_done(chunk.len() as u64);
                ids.push(id);
                if self.first_sight(id) {
                    let mut permit = match self.try_room(chunk.len())? {
                        Some(permit) => permit,
                        // Hand over the batch before waiting: its bytes
                        // may be the room this chunk waits for.
                        None => {
                            out.flush()?;
                            self.room(chunk.len())?
                        }
                    };
                    let blob = encode_named_blob(&self.key, id, chunk)?;
                    permit.shrink_to(blob.stored.len());
                    let stored = blob.stored.len() as u64;
                    out.push(
                        Plain {
                            id,
                            data: Vec::new(),
                            permit,
                            blob: Some(blob),
                        },
                        stored,
                    )?;
                }
                Ok(())
            })
            .with_context(|| format!("cannot read {}", path.display()))??;
        // The file as read, even if its path was replaced meanwhile: the
        // cache entry then names an inode the path no longer has.
        let after = file
            .metadata()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        Ok(FileRead { size, ids, after })
    }

    /// Asks the server, a batch at a time, which chunks the company lacks,
    /// leaving up to [`ASKS_IN_FLIGHT`] questions to be answered while it
    /// gathers the next batch: one answer's round trip no longer stops the
    /// readers behind it. Answers are taken
    /// in the order asked, and all of them before the resolver waits for
    /// more chunks, so no blob it holds can be what a reader waits for.
    fn resolve(
        &self,
        plain: flume::Receiver<Vec<Plain>>,
        missing: flume::Sender<Plain>,
        blobs: flume::Sender<Vec<(EncodedBlob, Permit)>>,
        client: Backup,
        handle: Handle,
    ) -> anyhow::Result<()> {
        type Answer = tokio::task::JoinHandle<
            Result<
                tonic::Response<cairn_proto::backup::v1::FindMissingChunksResponse>,
                tonic::Status,
            >,
        >;
        let mut asked: VecDeque<(Answer, Vec<Plain>)> = VecDeque::new();
        let ask = |asked: &mut VecDeque<(Answer, Vec<Plain>)>, chunks: Vec<Plain>| {
            let request = FindMissingChunksRequest {
                chunk_ids: chunks.iter().map(|c| c.id.0.to_vec()).collect(),
            };
            let mut client = client.clone();
            let answer = handle.spawn(async move { client.find_missing_chunks(request).await });
            asked.push_back((answer, chunks));
        };
        let take_answer = |asked: &mut VecDeque<(Answer, Vec<Plain>)>| -> anyhow::Result<()> {
            let Some((answer, chunks)) = asked.pop_front() else {
                return Ok(());
            };
            let lacking: HashSet<Vec<u8>> = handle
                .block_on(answer)
                .context("the question for missing chunks was dropped")?
                .map_err(|s| {
                    anyhow::anyhow!("cannot ask the server for missing chunks: {}", s.message())
                })?
                .into_inner()
                .missing
                .into_iter()
                .collect();
            let mut encoded = Vec::new();
            for chunk in chunks {
                if lacking.contains(chunk.id.0.as_slice()) {
                    if let Some(blob) = chunk.blob {
                        encoded.push((blob, chunk.permit));
                        continue;
                    }
                    missing.send(chunk).map_err(|_| Stopped)?;
                }
            }
            if !encoded.is_empty() {
                blobs.send(encoded).map_err(|_| Stopped)?;
            }
            Ok(())
        };
        let mut pending = Vec::new();
        let mut pending_bytes = 0;
        loop {
            let batch = match plain.try_recv() {
                Ok(batch) => batch,
                Err(flume::TryRecvError::Empty) => {
                    // Every answer in before waiting: the readers may be
                    // waiting for the budget those chunks hold.
                    while !asked.is_empty() {
                        take_answer(&mut asked)?;
                    }
                    match plain.recv() {
                        Ok(batch) => batch,
                        Err(_) => break,
                    }
                }
                Err(flume::TryRecvError::Disconnected) => break,
            };
            for chunk in batch {
                pending_bytes +=
                    chunk.data.len() + chunk.blob.as_ref().map_or(0, |b| b.stored.len());
                pending.push(chunk);
                if pending.len() >= PENDING_CHUNKS || pending_bytes >= PENDING_BYTES {
                    ask(&mut asked, std::mem::take(&mut pending));
                    pending_bytes = 0;
                    if asked.len() > ASKS_IN_FLIGHT {
                        take_answer(&mut asked)?;
                    }
                }
            }
        }
        if !pending.is_empty() {
            ask(&mut asked, pending);
        }
        while !asked.is_empty() {
            take_answer(&mut asked)?;
        }
        Ok(())
    }

    /// Fills packs and hands each full one to the uploader, with the budget
    /// its chunks held.
    fn pack(
        &self,
        blobs: flume::Receiver<Vec<(EncodedBlob, Permit)>>,
        packs: mpsc::Sender<(Pack, Permit)>,
    ) -> anyhow::Result<()> {
        let new_builder = || PackBuilder::with_buffer(PACK_TARGET, self.buffers.take());
        let mut builder = new_builder();
        let mut held: Option<Permit> = None;
        for (blob, permit) in blobs.iter().flatten() {
            builder.add(blob);
            match held.as_mut() {
                Some(held) => held.absorb(permit),
                None => held = Some(permit),
            }
            if builder.is_full()
                && let Some(permit) = held.take()
            {
                let full = std::mem::replace(&mut builder, new_builder());
                packs
                    .blocking_send((full.finish(), permit))
                    .map_err(|_| Stopped)?;
            }
        }
        if let Some(permit) = held.take() {
            packs
                .blocking_send((builder.finish(), permit))
                .map_err(|_| Stopped)?;
        }
        Ok(())
    }

    /// Compresses and encrypts.
    fn encode(
        &self,
        missing: flume::Receiver<Plain>,
        blobs: flume::Sender<Vec<(EncodedBlob, Permit)>>,
    ) -> anyhow::Result<()> {
        for Plain {
            id,
            data,
            mut permit,
            ..
        } in missing.iter()
        {
            let blob = encode_named_blob(&self.key, id, &data)?;
            drop(data);
            // Packs fill by stored bytes: hold what the blob takes, or a
            // pack of well-compressed chunks would hold more than the budget.
            permit.shrink_to(blob.stored.len());
            blobs.send(vec![(blob, permit)]).map_err(|_| Stopped)?;
        }
        Ok(())
    }
}

/// Starts one of the backup's threads, named so that a profile or `top -H`
/// tells the stages apart.
fn spawn_stage<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    stage: impl FnOnce() + Send + 'scope,
) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(format!("cairn-{name}"))
        .spawn_scoped(scope, stage)
        .with_context(|| format!("cannot start the backup's {name} thread"))?;
    Ok(())
}

/// Files and their bytes under `paths` that the filter keeps (for progress).
fn count(paths: &[PathBuf], filter: &PathFilter) -> (u64, u64) {
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

/// What the walk tells the assembler, in walk order.
enum Step {
    /// A directory's entries follow, up to its `Close`.
    Open,
    /// One entry of the open directory.
    Entry(Slot),
    /// The open directory is complete. `Some(node)` names it in its parent
    /// (the assembler fills in the subtree); `None` closes the root.
    Close(Option<Node>),
}

/// An entry of a directory: done, or a file with the readers.
enum Slot {
    Ready(Node),
    /// Unchanged since the parent snapshot: its chunks are the parent's.
    Unchanged {
        node: Node,
        size: u64,
        ids: Vec<ChunkId>,
        entry: cache::Entry,
    },
    Reading {
        node: Node,
        path: PathBuf,
        before: Box<fs::Metadata>,
        reply: flume::Receiver<anyhow::Result<FileRead>>,
    },
}

/// Walks the paths in name order, hands changed files to the readers and
/// tells the assembler what it found. It never waits for a file to be read,
/// so the readers always have work queued, across directories too.
struct Walker<'a> {
    pipeline: &'a Pipeline,
    cache: ParentCache,
    filter: &'a PathFilter,
    /// Files for the readers, handed over in batches.
    jobs: Batcher<FileJob>,
    steps: flume::Sender<Step>,
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
    fn walk(mut self, paths: &[PathBuf]) -> anyhow::Result<()> {
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

/// Builds the trees from the walk's steps, waiting for each file's chunks
/// in turn, and stores them.
struct Assembler<'a> {
    pipeline: &'a Pipeline,
    /// Trees of the last snapshot: on the server already.
    parent_trees: HashSet<ChunkId>,
    plain: flume::Sender<Vec<Plain>>,
    /// The open directories, innermost last.
    stack: Vec<Tree>,
    referenced: ReferencedIds,
    /// The cache for the next backup, written as files are done.
    next_cache: Option<NextState>,
    summary: BackupSummary,
    now_secs: i64,
}

impl Assembler<'_> {
    /// The root tree's id, once the walk closed it.
    fn run(&mut self, steps: flume::Receiver<Step>) -> anyhow::Result<ChunkId> {
        for step in steps.iter() {
            match step {
                Step::Open => self.stack.push(Tree::default()),
                Step::Entry(slot) => {
                    let node = self.finish(slot)?;
                    self.open()?.nodes.push(node);
                }
                Step::Close(node) => {
                    let tree = self.stack.pop().context("the walk closed no directory")?;
                    let id = self.store_tree(tree)?;
                    let Some(mut node) = node else {
                        return Ok(id);
                    };
                    node.subtree = id.0.to_vec();
                    self.summary.dirs += 1;
                    self.open()?.nodes.push(node);
                }
            }
        }
        // The walk stopped; it recorded why.
        Err(Stopped.into())
    }

    fn open(&mut self) -> anyhow::Result<&mut Tree> {
        self.stack
            .last_mut()
            .context("the walk opened no directory")
    }

    fn store_tree(&mut self, mut tree: Tree) -> anyhow::Result<ChunkId> {
        sort_tree(&mut tree);
        let data = encode_tree(&tree);
        let id = self.pipeline.ids.chunk_id(&data);
        self.referenced.insert(id)?;
        if let Some(Ok(next)) = self.next_cache.as_mut()
            && let Err(err) = next.add_tree(&id)
        {
            self.give_up_cache(err);
        }
        // A tree of the last snapshot is on the server: no need to ask.
        if !self.parent_trees.contains(&id) && self.pipeline.first_sight(id) {
            let permit = self.pipeline.room(data.len())?;
            self.plain
                .send(vec![Plain {
                    id,
                    data,
                    permit,
                    blob: None,
                }])
                .map_err(|_| Stopped)?;
        }
        Ok(id)
    }

    fn finish(&mut self, slot: Slot) -> anyhow::Result<Node> {
        let (node, path, before, reply) = match slot {
            Slot::Ready(node) => return Ok(node),
            Slot::Unchanged {
                node,
                size,
                ids,
                entry,
            } => {
                self.keep(entry);
                self.summary.files_unchanged += 1;
                return self.file_node(node, size, ids);
            }
            Slot::Reading {
                node,
                path,
                before,
                reply,
            } => (node, path, before, reply),
        };
        let read = reply.recv().map_err(|_| Stopped)??;
        self.summary.bytes_read += read.size;
        // Trusted next time only if it did not change while being read.
        let steady = read.after.size() == read.size
            && read.after.mtime() == before.mtime()
            && read.after.mtime_nsec() == before.mtime_nsec()
            && read.after.ctime() == before.ctime()
            && read.after.ctime_nsec() == before.ctime_nsec();
        if steady && cache::settled(&read.after, self.now_secs) {
            self.keep(cache::Entry::new(&path, &read.after, &read.ids));
        }
        self.file_node(node, read.size, read.ids)
    }

    /// Records `entry` in the next backup's cache; after a write error,
    /// that cache is given up (the next backup reads every file).
    fn keep(&mut self, entry: cache::Entry) {
        if let Some(Ok(next)) = self.next_cache.as_mut()
            && let Err(err) = next.add(entry)
        {
            self.give_up_cache(err);
        }
    }

    /// Drops the partial cache; the first error is the one reported.
    fn give_up_cache(&mut self, err: anyhow::Error) {
        self.next_cache = Some(Err(format!("{err:#}")));
    }

    fn file_node(&mut self, mut node: Node, size: u64, ids: Vec<ChunkId>) -> anyhow::Result<Node> {
        node.size = size;
        node.content = ids.iter().map(|id| id.0.to_vec()).collect();
        self.referenced.extend(ids)?;
        self.summary.files += 1;
        self.summary.bytes += size;
        self.pipeline.events.file_done();
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> CommitSnapshotRequest {
        CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::Header(
                SnapshotHeader::default(),
            )),
        }
    }

    fn spilled_set(dir: &Path, n: u64) -> ReferencedIds {
        let mut set = ReferencedIds::new(dir);
        for i in 0..n {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
            set.insert(ChunkId(bytes)).unwrap();
        }
        set
    }

    /// Everything the channel received, the end marker as `None`.
    fn drain(
        mut queued: mpsc::Receiver<Option<CommitSnapshotRequest>>,
    ) -> (usize, Vec<Option<CommitSnapshotRequest>>) {
        let mut got = Vec::new();
        let mut ids = 0;
        while let Ok(message) = queued.try_recv() {
            if let Some(CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::ChunkIds(list)),
            }) = &message
            {
                ids += list.ids.len();
            }
            got.push(message);
        }
        (ids, got)
    }

    #[test]
    fn the_chunk_list_ends_with_an_explicit_end() {
        let dir = tempfile::tempdir().unwrap();
        let n = 300_000;
        let (requests, queued) = mpsc::channel(1024);
        let sent = send_chunk_list(&requests, header(), spilled_set(dir.path(), n)).unwrap();
        assert_eq!(sent, n);
        let (ids, got) = drain(queued);
        assert_eq!(ids as u64, n);
        assert!(got.last().unwrap().is_none());
        assert_eq!(got.iter().filter(|m| m.is_none()).count(), 1);
    }

    #[test]
    fn a_chunk_list_that_cannot_be_read_back_never_ends_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let set = spilled_set(dir.path(), 300_000);
        set.lose_spilled();
        let (requests, queued) = mpsc::channel(1024);
        let err = send_chunk_list(&requests, header(), set).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read back"), "{err:#}");
        let (_, got) = drain(queued);
        assert!(
            got.iter().all(Option::is_some),
            "the end of the list was sent after a failure"
        );
    }
}
