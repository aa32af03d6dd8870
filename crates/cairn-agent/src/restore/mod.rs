//! Restore: read the snapshot's trees a level at a time (one batched call per
//! level slice), create the directories, and hand the files to parallel
//! workers that fetch their chunks (the server reads them from the packs with
//! ranged reads), check every chunk against its id, and write the files.
//!
//! A damaged or missing chunk fails only the files that need it: the rest
//! restore, and the error at the end names every file that did not.
//!
//! `plan` reads the trees and queues the files, `write` restores them from
//! what `fetch` returns, `dirs` sets the directories' metadata last; the
//! state they share is in `restorer`.

mod dirs;
mod events;
mod fetch;
mod plan;
mod restorer;
mod write;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::runtime::Handle;

use cairn_client::Idempotency;
use cairn_core::{ChunkId, SnapshotId};
use cairn_proto::backup::v1::GetSnapshotRequest;

use crate::client::BackupRpc;
use crate::{AgentClient, AgentState};

pub use events::{RestoreEvents, RestoreSummary};
use restorer::{Job, Restorer};

/// Files named in the error of a partial restore.
const NAMED_FAILURES: usize = 20;

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
    let client = AgentClient::connect(state).await?;
    restore_using(&client, state, snapshot_id, target, passphrase, events).await
}

/// [`restore_with`] over a connection the caller keeps (or made with
/// other timeouts: see [`AgentClient::connect_with`]).
pub async fn restore_using(
    client: &AgentClient,
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
    let snapshot = client
        .connection
        .unary(
            Idempotency::Idempotent,
            GetSnapshotRequest {
                snapshot_id: id.to_string(),
            },
            |mut c: BackupRpc, r| async move { c.get_snapshot(r).await },
        )
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("snapshot {id}")))?
        .snapshot
        .context("the server returned no snapshot")?;
    let root =
        ChunkId::from_slice(&snapshot.tree_id, "tree_id").map_err(|e| anyhow::anyhow!("{e}"))?;
    let stats = snapshot.stats.unwrap_or_default();
    events.totals(stats.files, stats.bytes);
    let target = target.to_owned();
    let handle = Handle::current();
    let client = client.clone();
    tokio::task::spawn_blocking(move || {
        fs::create_dir_all(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        let restorer = Restorer {
            snapshot: id,
            ids: key.chunk_id_key(),
            key,
            client,
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
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
