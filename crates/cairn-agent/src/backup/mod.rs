//! Backup: a bounded pipeline that keeps every core busy.
//!
//! One thread walks the paths in name order and takes the chunk lists of files
//! unchanged since the last backup from the parent-snapshot cache, without
//! reading them. Reader threads read, cut, name, compress and seal the other
//! files; a resolver seals the trees, and asks the server in batches which
//! of those chunks the machine's person does not hold with the same bytes
//! (each id with its sealed copy's digest); the packer fills packs, which upload while the walk goes on. A byte budget bounds the
//! chunk data between the readers and the server (`budget.rs`), so memory
//! does not grow with the sizes of files or chunks.
//! The snapshot is committed last, after every pack it needs is stored.
//!
//! One module per stage: `walk`, `read`, `resolve`, `pack`,
//! `upload` and `assemble`; `pipeline` starts them and `commit` sends the
//! snapshot's chunk list. What the stages share lives in `stage` (and the
//! walk's steps in `steps`), so no stage depends on another's module.

mod assemble;
mod commit;
mod events;
mod pack;
mod pipeline;
mod read;
mod resolve;
mod stage;
mod steps;
mod upload;
mod walk;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use cairn_client::ClientError;
use cairn_core::Reason;
use cairn_core::policy::Policy;
use cairn_engine::Pack;
use cairn_proto::backup::v1::{
    CommitSnapshotRequest, SnapshotHeader, SnapshotStats, commit_snapshot_request,
};

use crate::budget::{Budget, Permit};
use crate::cache::{NextCache, ParentCache};
use crate::client::BackupRpc;
use crate::idset::RecentIds;
use crate::recycle::PackBuffers;
use crate::{AgentClient, AgentState};

use commit::send_chunk_list;
pub use events::{BackupEvents, BackupSummary, Quiet};
use pipeline::Caches;
use stage::Pipeline;
use upload::upload_packs;

/// Chunk bytes in flight between the readers and the server: read, waiting
/// for FindMissingChunks, encoding, packed or uploading. At least a full pack,
/// the resolver's batch and the largest chunk, or the pipeline could stall.
const PIPELINE_BYTES: usize = 40 * 1024 * 1024;

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
    backup_policy_paths_using(&client, state, home, events).await
}

/// [`backup_policy_paths`] over a connection the caller keeps.
pub(crate) async fn backup_policy_paths_using(
    client: &AgentClient,
    state: &AgentState,
    home: Option<&Path>,
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    let checked = crate::policy::check_in(client, 0).await?;
    let paths = crate::policy::paths(&checked.policy, home);
    if paths.is_empty() {
        let err = anyhow::anyhow!(
            "none of the policy's paths ({}) exist on this machine",
            checked.policy.include_paths.join(", ")
        );
        crate::policy::report(client, &Err(anyhow::anyhow!("{err}"))).await;
        return Err(err);
    }
    run_and_report(state, client, &paths, &checked.policy, events).await
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
    backup_using(&client, state, paths, events).await
}

/// [`backup_with`] over a connection the caller keeps (or made with
/// other timeouts: see [`AgentClient::connect_with`]).
pub async fn backup_using(
    client: &AgentClient,
    state: &AgentState,
    paths: &[PathBuf],
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    if paths.is_empty() {
        anyhow::bail!("name at least one path to back up");
    }
    let checked = crate::policy::check_in(client, 0).await?;
    run_and_report(state, client, paths, &checked.policy, events).await
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
        .map(|dir| ParentCache::load(dir, &state.company_id.to_string()))
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
        client.clone(),
        buffers.clone(),
        pack_rx,
        events.clone(),
        policy.bandwidth_kbps,
    ));
    let used_cache = !cache.is_empty();
    // The next backup's cache is written as this one goes.
    let next = state.dir.as_deref().map(|dir| {
        NextCache::create(dir, &state.company_id.to_string()).map_err(|err| format!("{err:#}"))
    });
    let caches = Caches {
        parent: cache,
        next,
    };
    let walk_paths = absolute.clone();
    // Where the snapshot's chunk list goes when it outgrows memory.
    let spill_dir = state.dir.clone().unwrap_or_else(std::env::temp_dir);
    let state_dir = state.dir.clone();
    let handle = Handle::current();
    let connection = client.connection.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let pipeline = Pipeline {
            ids: key.chunk_id_key(),
            key,
            seen: Mutex::new(RecentIds::default()),
            spill_dir,
            state_dir,
            buffers,
            budget: Budget::new(PIPELINE_BYTES),
            events,
            failure: Mutex::new(None),
        };
        pipeline.run(&walk_paths, caches, filter, connection, handle, pack_tx)
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
    let referenced_bytes = referenced.max_bytes();
    let mut producer =
        tokio::task::spawn_blocking(move || send_chunk_list(&requests, header, referenced));
    // The list moves as fast as the server checks it; its deadline is
    // that of a transfer of its ids (and the tree's header).
    let deadline =
        client.transfer_deadline(referenced_bytes.saturating_add(1024), policy.bandwidth_kbps);
    let commit = client
        .connection
        .stream(deadline, stream, |mut c: BackupRpc, r| async move {
            c.commit_snapshot(r)
                .await
                .map(tonic::Response::into_inner)
                .map_err(ClientError::from)
        });
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
        .map_err(|err| {
            let message = format!("the snapshot was not committed: {}", err.message());
            if used_cache && err.reason() == Some(Reason::ChunksNotStored) {
                anyhow::Error::new(StaleCache(message))
            } else {
                anyhow::Error::new(err).context("the snapshot was not committed")
            }
        })?
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
