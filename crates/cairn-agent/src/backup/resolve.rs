//! The resolver: asks the server in batches which of this run's new chunks
//! the machine's person does not hold with the same stored bytes, and
//! passes the missing ones on to be packed.

use std::collections::{HashSet, VecDeque};

use anyhow::Context;
use tokio::runtime::Handle;

use cairn_client::{ClientError, Connection, Idempotency};
use cairn_crypto::stored_digest;
use cairn_engine::{EncodedBlob, encode_named_blob};
use cairn_proto::backup::v1::{FindMissingChunksRequest, FindMissingChunksResponse};

use crate::budget::Permit;
use crate::client::BackupRpc;

use super::stage::{Pipeline, Plain, Stopped};

/// Chunks asked about in one FindMissingChunks call.
const PENDING_CHUNKS: usize = 512;
/// Plaintext bytes held while waiting for that answer.
const PENDING_BYTES: usize = 4 * 1024 * 1024;
/// FindMissingChunks questions left waiting for their answers while the
/// resolver gathers the next batch.
const ASKS_IN_FLIGHT: usize = 2;

impl Pipeline {
    /// Asks the server, a batch at a time, which chunks the company lacks,
    /// leaving up to [`ASKS_IN_FLIGHT`] questions to be answered while it
    /// gathers the next batch: one answer's round trip no longer stops the
    /// readers behind it. Answers are taken
    /// in the order asked, and all of them before the resolver waits for
    /// more chunks, so no blob it holds can be what a reader waits for.
    pub(super) fn resolve(
        &self,
        plain: flume::Receiver<Vec<Plain>>,
        blobs: flume::Sender<Vec<(EncodedBlob, Permit)>>,
        connection: Connection,
        handle: Handle,
    ) -> anyhow::Result<()> {
        type Answer = tokio::task::JoinHandle<Result<FindMissingChunksResponse, ClientError>>;
        let mut asked: VecDeque<(Answer, Vec<Plain>)> = VecDeque::new();
        let ask = |asked: &mut VecDeque<(Answer, Vec<Plain>)>,
                   mut chunks: Vec<Plain>|
         -> anyhow::Result<()> {
            // The server says "stored" only for a copy of the same bytes as
            // ours (see `seal`), so each id goes with our copy's digest.
            for chunk in &mut chunks {
                self.seal(chunk)?;
            }
            let request = FindMissingChunksRequest {
                chunk_ids: chunks.iter().map(|c| c.id.0.to_vec()).collect(),
                digests: chunks
                    .iter()
                    .map(|c| {
                        c.blob
                            .as_ref()
                            .map(|b| stored_digest(&b.stored).to_vec())
                            .unwrap_or_default()
                    })
                    .collect(),
            };
            let connection = connection.clone();
            // A question changes nothing on the server: retried when the
            // cell is briefly unavailable.
            let answer = handle.spawn(async move {
                connection
                    .unary(
                        Idempotency::Idempotent,
                        request,
                        |mut c: BackupRpc, r| async move { c.find_missing_chunks(r).await },
                    )
                    .await
            });
            asked.push_back((answer, chunks));
            Ok(())
        };
        let take_answer = |asked: &mut VecDeque<(Answer, Vec<Plain>)>| -> anyhow::Result<()> {
            let Some((answer, chunks)) = asked.pop_front() else {
                return Ok(());
            };
            let lacking: HashSet<Vec<u8>> = handle
                .block_on(answer)
                .context("the question for missing chunks was dropped")?
                .map_err(|e| {
                    anyhow::Error::new(e).context("cannot ask the server for missing chunks")
                })?
                .missing
                .into_iter()
                .collect();
            // Every chunk asked about was sealed first (`seal`).
            let encoded: Vec<_> = chunks
                .into_iter()
                .filter(|chunk| lacking.contains(chunk.id.0.as_slice()))
                .filter_map(|chunk| chunk.blob.map(|blob| (blob, chunk.permit)))
                .collect();
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
                    ask(&mut asked, std::mem::take(&mut pending))?;
                    pending_bytes = 0;
                    if asked.len() > ASKS_IN_FLIGHT {
                        take_answer(&mut asked)?;
                    }
                }
            }
        }
        if !pending.is_empty() {
            ask(&mut asked, pending)?;
        }
        while !asked.is_empty() {
            take_answer(&mut asked)?;
        }
        Ok(())
    }

    /// Seals a chunk not sealed yet (a tree; file chunks are sealed by the
    /// readers), so it can be asked about with its digest. Sealing is
    /// deterministic: every honest machine's copy of a chunk is the same
    /// bytes, and a copy the server holds with other bytes is damaged or
    /// forged, so ours is sent.
    fn seal(&self, chunk: &mut Plain) -> anyhow::Result<()> {
        if chunk.blob.is_none() {
            let blob = encode_named_blob(&self.key, chunk.id, &chunk.data)?;
            chunk.data = Vec::new();
            chunk.permit.shrink_to(blob.stored.len());
            chunk.blob = Some(blob);
        }
        Ok(())
    }
}
