//! Restore: read the snapshot's trees a level at a time (one batched call per
//! level slice), create the directories, and hand the files to parallel
//! workers that fetch their chunks (the server reads them from the packs with
//! ranged reads), check every chunk against its id, and write the files.
//!
//! A damaged or missing chunk fails only the files that need it: the rest
//! restore, and the error at the end names every file that did not.
//!
//! A snapshot may have been written by another person's machine, or by a
//! compromised one: the restore holds it to fixed limits (trees decoded an
//! entry at a time within `cairn_engine`'s tree limits, chunks within what
//! their files claim, at most [`MAX_ENTRIES`] entries and [`MAX_DEPTH`]
//! levels, no file written past its recorded size, no setuid, setgid,
//! sticky or world-writable bits unless asked for), and one bad entry
//! fails that entry, named, not the whole restore.
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

use crate::budget::Budget;
use crate::client::BackupRpc;
use crate::{AgentClient, AgentState};

pub use events::{RestoreEvents, RestoreSummary};
use restorer::{Failures, Job, QUEUED_BYTES, Restorer};
pub use restorer::{MAX_DEPTH, MAX_ENTRIES};

/// How to restore.
#[derive(Debug, Default, Clone)]
pub struct RestoreOptions {
    /// Personal-key companies: the passphrase (the key is opened afresh
    /// for every restore).
    pub passphrase: Option<String>,
    /// Restore setuid, setgid and sticky bits and world-writable modes as
    /// recorded; without it they are dropped.
    pub keep_special_modes: bool,
}

/// A restore that finished with some entries not restored; the message
/// names the first of them. The command line exits with
/// [`PartialRestore::EXIT_CODE`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct PartialRestore {
    /// Entries not restored.
    pub failed: usize,
    message: String,
}

impl PartialRestore {
    pub const EXIT_CODE: u8 = 3;
}

/// Restores `snapshot_id` into `target` (created if missing).
pub async fn restore(
    state: &AgentState,
    snapshot_id: &str,
    target: &Path,
) -> anyhow::Result<RestoreSummary> {
    let options = RestoreOptions::default();
    restore_with(state, snapshot_id, target, &options, Arc::new(crate::Quiet)).await
}

/// [`restore`] with `options`, reporting to `events`.
pub async fn restore_with(
    state: &AgentState,
    snapshot_id: &str,
    target: &Path,
    options: &RestoreOptions,
    events: Arc<dyn RestoreEvents>,
) -> anyhow::Result<RestoreSummary> {
    let client = AgentClient::connect(state).await?;
    restore_using(&client, state, snapshot_id, target, options, events).await
}

/// [`restore_with`] over a connection the caller keeps (or made with
/// other timeouts: see [`AgentClient::connect_with`]).
pub async fn restore_using(
    client: &AgentClient,
    state: &AgentState,
    snapshot_id: &str,
    target: &Path,
    options: &RestoreOptions,
    events: Arc<dyn RestoreEvents>,
) -> anyhow::Result<RestoreSummary> {
    let key = if state.uses_personal_key() {
        state.open_personal_key(options.passphrase.as_deref())?
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
    if let Some(stats) = &snapshot.stats {
        events.totals(stats.files, stats.bytes);
    }
    let target = target.to_owned();
    let handle = Handle::current();
    let client = client.clone();
    let keep_special_modes = options.keep_special_modes;
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
            keep_special_modes,
            recorded: snapshot.stats,
            queued: Budget::new(QUEUED_BYTES),
            failures: Mutex::new(Failures::default()),
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
        if failures.count > 0 {
            let mut message = format!(
                "{} could not be restored (the other files were restored):",
                plural(failures.count, "item")
            );
            for failure in &failures.named {
                message.push_str("\n  ");
                message.push_str(failure);
            }
            if failures.count > failures.named.len() {
                message.push_str(&format!(
                    "\n  and {} more",
                    failures.count - failures.named.len()
                ));
            }
            return Err(PartialRestore {
                failed: failures.count,
                message,
            }
            .into());
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
