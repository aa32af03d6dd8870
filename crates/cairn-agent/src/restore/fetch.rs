//! Fetching chunks: batched ReadChunks calls, each chunk checked against
//! its id and decrypted.

use std::collections::HashMap;

use bytes::Bytes;
use futures::StreamExt;

use cairn_core::ChunkId;
use cairn_engine::decode_blob;
use cairn_proto::backup::v1::ReadChunksRequest;

use super::restorer::{BATCH_IDS, Fetched, Restorer};

impl Restorer {
    /// Fetches `ids`: transport failures are an error for the whole call; a
    /// damaged chunk is an error for that chunk only.
    pub(super) fn fetch(&self, ids: &[ChunkId]) -> anyhow::Result<Fetched> {
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
}

/// The plaintext of `id` among `chunks`, or why it cannot be had.
pub(super) fn chunk<'a>(chunks: &'a Fetched, id: &ChunkId) -> anyhow::Result<&'a [u8]> {
    match chunks.get(id) {
        Some(Ok(data)) => Ok(data),
        Some(Err(why)) => anyhow::bail!("{why}"),
        None => anyhow::bail!("the server did not return chunk {id}"),
    }
}
