//! Fetching chunks: batched ReadChunks calls, each chunk checked against
//! its id and decrypted, within the bounds its caller expects.

use std::collections::HashMap;

use bytes::Bytes;
use futures::StreamExt;

use cairn_client::ClientError;
use cairn_core::ChunkId;
use cairn_crypto::SEAL_OVERHEAD;
use cairn_engine::{EngineError, decode_blob_within};
use cairn_proto::backup::v1::ReadChunksRequest;

use crate::client::BackupRpc;

use super::restorer::{BATCH_IDS, Fetched, Restorer};

/// What a fetch may hold: no chunk's plaintext past `chunk`, and no more
/// than `call` bytes (stored, and again decoded) for a call of several
/// chunks. A call past it is split in two and asked again, down to one
/// chunk, which is allowed `chunk` bytes: a snapshot that claims small
/// chunks and holds large ones costs a restore more calls, never more
/// memory.
#[derive(Clone, Copy)]
pub(super) struct Bounds {
    pub(super) chunk: usize,
    pub(super) call: u64,
}

/// A call's answer went past its bounds.
#[derive(Debug, thiserror::Error)]
#[error("the chunks hold more than the snapshot says")]
struct PastBounds;

impl Restorer {
    /// Fetches `ids`, about `bytes` of plaintext in all (it sizes the
    /// calls' deadlines), within `bounds`: transport failures are an error
    /// for the whole call; a damaged chunk, or one past the bounds, is an
    /// error for that chunk only.
    pub(super) fn fetch(
        &self,
        ids: &[ChunkId],
        bytes: u64,
        bounds: Bounds,
    ) -> anyhow::Result<Fetched> {
        let mut unique: Vec<ChunkId> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let per_id = bytes / (ids.len() as u64).max(1);
        let mut out = HashMap::with_capacity(unique.len());
        for batch in unique.chunks(BATCH_IDS) {
            self.fetch_within(batch, per_id, bounds, &mut out)?;
        }
        for id in unique {
            out.entry(id)
                .or_insert_with(|| Err(format!("the server did not return chunk {id}")));
        }
        Ok(out)
    }

    fn fetch_within(
        &self,
        batch: &[ChunkId],
        per_id: u64,
        bounds: Bounds,
        out: &mut Fetched,
    ) -> anyhow::Result<()> {
        // Every stored chunk carries its format byte and its seal.
        let sealed = (1 + SEAL_OVERHEAD) as u64;
        let limit = if batch.len() == 1 {
            bounds.chunk as u64 + sealed
        } else {
            bounds.call.saturating_add(batch.len() as u64 * sealed)
        };
        let decoded = self
            .read_chunks(batch, per_id.saturating_mul(batch.len() as u64), limit)
            .and_then(|stored| self.open(batch, stored, bounds.chunk, limit));
        match decoded {
            Ok(decoded) => out.extend(decoded),
            Err(err) if err.is::<PastBounds>() => {
                if let [id] = batch {
                    out.insert(*id, Err(too_large(id, bounds.chunk)));
                } else {
                    let (first, second) = batch.split_at(batch.len() / 2);
                    self.fetch_within(first, per_id, bounds, out)?;
                    self.fetch_within(second, per_id, bounds, out)?;
                }
            }
            Err(err) => return Err(err),
        }
        Ok(())
    }

    /// Decrypts and checks the chunks of one call; their plaintexts past
    /// `limit` in all are [`PastBounds`].
    fn open(
        &self,
        batch: &[ChunkId],
        stored: Vec<(ChunkId, Bytes)>,
        max: usize,
        limit: u64,
    ) -> anyhow::Result<Fetched> {
        let mut out = HashMap::with_capacity(stored.len());
        let mut total = 0u64;
        for (id, data) in stored {
            if !batch.contains(&id) {
                anyhow::bail!("the server sent chunk {id}, which was not asked for");
            }
            let plain = decode_blob_within(&self.key, &self.ids, &id, &data, max);
            if let Ok(plain) = &plain {
                total += plain.len() as u64;
                if total > limit && batch.len() > 1 {
                    return Err(PastBounds.into());
                }
            }
            out.insert(
                id,
                plain.map_err(|e| match e {
                    EngineError::TooLarge(_) => too_large(&id, max),
                    // The server sends the copy the snapshot's person
                    // uploaded; one that does not open, or opens to other
                    // bytes, was damaged in storage or forged by another
                    // machine.
                    e => format!(
                        "chunk {id} is damaged or forged (its stored copy does not decrypt \
                         to the chunk its id names): {e}"
                    ),
                }),
            );
        }
        Ok(out)
    }

    /// The stored chunks of `batch`; more than `limit` bytes of them is
    /// [`PastBounds`], found as they arrive.
    fn read_chunks(
        &self,
        batch: &[ChunkId],
        bytes: u64,
        limit: u64,
    ) -> anyhow::Result<Vec<(ChunkId, Bytes)>> {
        let request = ReadChunksRequest {
            chunk_ids: batch.iter().map(|id| id.0.to_vec()).collect(),
            snapshot_id: self.snapshot.to_string(),
        };
        // The answer is read whole within a deadline sized to the chunks
        // asked for, so a stalled cell cannot hold the restore.
        let deadline = self.client.transfer_deadline(bytes, 0);
        let connection = self.client.connection.clone();
        let stored = self
            .handle
            .block_on(
                connection.stream(deadline, request, |mut c: BackupRpc, r| async move {
                    let mut stream = c.read_chunks(r).await?.into_inner();
                    let mut stored = Vec::new();
                    let mut held = 0u64;
                    while let Some(message) = stream.next().await {
                        let chunks = message?.chunks;
                        held += chunks.iter().map(|c| c.data.len() as u64).sum::<u64>();
                        stored.extend(chunks);
                        if held > limit {
                            return Ok(None);
                        }
                    }
                    Ok::<_, ClientError>(Some(stored))
                }),
            )
            .map_err(|e| anyhow::Error::new(e).context("cannot read chunks"))?
            .ok_or(PastBounds)?;
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
}

/// Why `id` was refused: its plaintext passed `max`, the most its place
/// allows (a file's recorded size, the largest chunk, or the largest tree).
fn too_large(id: &ChunkId, max: usize) -> String {
    format!(
        "chunk {id} is larger than {max} bytes, the most its place allows (its file's \
         recorded size, the largest chunk or the largest tree)"
    )
}

/// The plaintext of `id` among `chunks`, or why it cannot be had.
pub(super) fn chunk<'a>(chunks: &'a Fetched, id: &ChunkId) -> anyhow::Result<&'a [u8]> {
    match chunks.get(id) {
        Some(Ok(data)) => Ok(data),
        Some(Err(why)) => anyhow::bail!("{why}"),
        None => anyhow::bail!("the server did not return chunk {id}"),
    }
}
