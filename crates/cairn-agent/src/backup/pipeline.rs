//! The pipeline's wiring: starts every stage on its own named threads,
//! joined by bounded channels, and runs the assembler until the root tree.

use std::path::PathBuf;

use anyhow::Context;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use cairn_client::Connection;
use cairn_core::ChunkId;
use cairn_core::policy::PathFilter;
use cairn_engine::{EncodedBlob, Pack};

use crate::budget::Permit;
use crate::cache::ParentCache;
use crate::idset::ReferencedIds;

use super::assemble::Assembler;
use super::events::BackupSummary;
use super::stage::{Batcher, FileJob, NextState, Pipeline, Plain};
use super::steps::Step;
use super::walk::{OwnDir, Walker, count};

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

/// The last backup's cache, read along with the walk, and the next
/// backup's, written as this one goes.
pub(super) struct Caches {
    pub(super) parent: ParentCache,
    pub(super) next: Option<NextState>,
}

/// What the walk produced.
pub(super) struct Walked {
    pub(super) root: ChunkId,
    pub(super) summary: BackupSummary,
    pub(super) referenced: ReferencedIds,
    /// The cache for the next backup, to commit with the snapshot.
    pub(super) next_cache: Option<NextState>,
}

impl Pipeline {
    pub(super) fn run(
        &self,
        paths: &[PathBuf],
        caches: Caches,
        filter: PathFilter,
        connection: Connection,
        handle: Handle,
        packs: mpsc::Sender<(Pack, Permit)>,
    ) -> anyhow::Result<Walked> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (job_tx, job_rx) = flume::bounded::<Vec<FileJob>>(QUEUED_JOBS);
        let (plain_tx, plain_rx) = flume::bounded::<Vec<Plain>>(QUEUED_CHUNKS);
        let (blob_tx, blob_rx) = flume::bounded::<Vec<(EncodedBlob, Permit)>>(QUEUED_CHUNKS);
        let walked = std::thread::scope(|scope| {
            for _ in 0..workers {
                let (jobs, plain) = (job_rx.clone(), plain_tx.clone());
                spawn_stage(scope, "read", move || self.read_files(jobs, plain))?;
            }
            let plain = plain_rx;
            let btx = blob_tx.clone();
            spawn_stage(scope, "ask", move || {
                self.stage(self.resolve(plain, btx, connection, handle))
            })?;
            drop((job_rx, blob_tx));
            spawn_stage(scope, "pack", move || self.stage(self.pack(blob_rx, packs)))?;
            let own = self.state_dir.as_deref().and_then(OwnDir::of);
            if self.events.wants_totals() {
                let filter = &filter;
                spawn_stage(scope, "count", move || {
                    let (files, bytes) = count(paths, filter, own);
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
                own,
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
