//! Fetching chunks: batched ReadChunks calls, each chunk checked against
//! its id and decrypted.

use std::collections::HashMap;

use bytes::Bytes;
use futures::StreamExt;

use cairn_client::ClientError;
use cairn_core::ChunkId;
use cairn_engine::decode_blob;
use cairn_proto::backup::v1::ReadChunksRequest;

use crate::client::BackupRpc;

use super::restorer::{BATCH_IDS, Fetched, Restorer};

impl Restorer {
    /// Fetches `ids`, about `bytes` of plaintext in all (it sizes the
    /// calls' deadlines): transport failures are an error for the whole
    /// call; a damaged chunk is an error for that chunk only.
    pub(super) fn fetch(&self, ids: &[ChunkId], bytes: u64) -> anyhow::Result<Fetched> {
        let mut unique: Vec<ChunkId> = ids.to_vec();
        unique.sort();
        unique.dedup();
        let per_id = bytes / (ids.len() as u64).max(1);
        let mut out = HashMap::with_capacity(unique.len());
        for batch in unique.chunks(BATCH_IDS) {
            let stored = self.read_chunks(batch, per_id.saturating_mul(batch.len() as u64))?;
            for (id, data) in stored {
                if !batch.contains(&id) {
                    anyhow::bail!("the server sent chunk {id}, which was not asked for");
                }
                // The server sends the copy the snapshot's person uploaded;
                // one that does not open, or opens to other bytes, was
                // damaged in storage or forged by another machine.
                let plain = decode_blob(&self.key, &self.ids, &id, &data).map_err(|e| {
                    format!(
                        "chunk {id} is damaged or forged (its stored copy does not decrypt \
                         to the chunk its id names): {e}"
                    )
                });
                out.insert(id, plain);
            }
        }
        for id in unique {
            out.entry(id)
                .or_insert_with(|| Err(format!("the server did not return chunk {id}")));
        }
        Ok(out)
    }

    fn read_chunks(&self, batch: &[ChunkId], bytes: u64) -> anyhow::Result<Vec<(ChunkId, Bytes)>> {
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
                    while let Some(message) = stream.next().await {
                        stored.extend(message?.chunks);
                    }
                    Ok::<_, ClientError>(stored)
                }),
            )
            .map_err(|e| anyhow::Error::new(e).context("cannot read chunks"))?;
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

/// The plaintext of `id` among `chunks`, or why it cannot be had.
pub(super) fn chunk<'a>(chunks: &'a Fetched, id: &ChunkId) -> anyhow::Result<&'a [u8]> {
    match chunks.get(id) {
        Some(Ok(data)) => Ok(data),
        Some(Err(why)) => anyhow::bail!("{why}"),
        None => anyhow::bail!("the server did not return chunk {id}"),
    }
}
