//! What the pipeline's stages share: the pipeline's state, the items they
//! hand each other and how they stop.

use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cairn_core::ChunkId;
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_engine::EncodedBlob;

use crate::budget::{Budget, Permit};
use crate::cache::NextCache;
use crate::idset::RecentIds;
use crate::recycle::PackBuffers;

use super::events::BackupEvents;

/// A chunk's plaintext, named, with its share of the budget.
pub(super) struct Plain {
    pub(super) id: ChunkId,
    pub(super) data: Vec<u8>,
    pub(super) permit: Permit,
    pub(super) blob: Option<EncodedBlob>,
}

/// Items on their way to the next stage, handed over a batch at a time, so
/// that stage is woken once per batch: when the batch reaches `max_items`
/// items or `max_bytes` bytes, or when the owner flushes it (always before
/// it waits for anything, so nothing held back can be what another stage
/// waits for).
pub(super) struct Batcher<T> {
    to: flume::Sender<Vec<T>>,
    batch: Vec<T>,
    bytes: u64,
    max_items: usize,
    max_bytes: u64,
}

impl<T> Batcher<T> {
    pub(super) fn new(to: flume::Sender<Vec<T>>, max_items: usize, max_bytes: u64) -> Self {
        Batcher {
            to,
            batch: Vec::with_capacity(max_items),
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    pub(super) fn push(&mut self, item: T, bytes: u64) -> Result<(), Stopped> {
        self.batch.push(item);
        self.bytes += bytes;
        if self.batch.len() >= self.max_items || self.bytes >= self.max_bytes {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.bytes = 0;
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max_items));
        self.to.send(batch).map_err(|_| Stopped)
    }

    /// Nothing is queued for the next stage: it is waiting, or about to.
    pub(super) fn receiver_idle(&self) -> bool {
        self.to.is_empty()
    }
}

/// A later stage stopped; the stage that failed recorded why.
#[derive(Debug, thiserror::Error)]
#[error("the backup pipeline stopped")]
pub(super) struct Stopped;

/// A file for the readers, and where to send what they found.
pub(super) struct FileJob {
    pub(super) path: PathBuf,
    pub(super) reply: flume::Sender<anyhow::Result<FileRead>>,
}

pub(super) struct FileRead {
    pub(super) size: u64,
    pub(super) ids: Vec<ChunkId>,
    /// The file's metadata once read, to tell whether it changed meanwhile.
    pub(super) after: fs::Metadata,
}

/// The next backup's cache, if the agent keeps state: being written, or
/// given up, and why.
pub(super) type NextState = Result<NextCache, String>;

/// State shared by the pipeline's threads.
pub(super) struct Pipeline {
    pub(super) key: DataKey,
    pub(super) ids: ChunkIdKey,
    /// Chunks already on their way in this run.
    pub(super) seen: Mutex<RecentIds>,
    /// Where the snapshot's chunk list is spilled.
    pub(super) spill_dir: PathBuf,
    /// The agent's state directory: never backed up.
    pub(super) state_dir: Option<PathBuf>,
    /// Buffers of uploaded packs, for the next packs.
    pub(super) buffers: PackBuffers,
    /// Bounds the chunk bytes in flight.
    pub(super) budget: Arc<Budget>,
    pub(super) events: Arc<dyn BackupEvents>,
    /// The first real failure of any stage.
    pub(super) failure: Mutex<Option<anyhow::Error>>,
}

impl Pipeline {
    /// Runs a stage, keeping its failure unless it only saw a later stage
    /// stop. A stage that ended early may hold budget it never gives back:
    /// nobody waits for it any more.
    pub(super) fn stage(&self, result: anyhow::Result<()>) {
        if let Err(err) = result {
            self.budget.close();
            if !err.is::<Stopped>() {
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                failure.get_or_insert(err);
            }
        }
    }

    /// The budget's share for `bytes` of chunk data.
    pub(super) fn room(&self, bytes: usize) -> Result<Permit, Stopped> {
        self.budget.take(bytes).map_err(|_| Stopped)
    }

    /// [`Pipeline::room`] if it is free now, without waiting.
    pub(super) fn try_room(&self, bytes: usize) -> Result<Option<Permit>, Stopped> {
        self.budget.try_take(bytes).map_err(|_| Stopped)
    }

    pub(super) fn take_failure(&self) -> Option<anyhow::Error> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// True the first time this run meets `id`.
    pub(super) fn first_sight(&self, id: ChunkId) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id)
    }
}
