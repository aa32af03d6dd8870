//! Restore reads: chunks the company holds, fetched from their packs with
//! ranged reads and streamed back in bounded batches.

use std::collections::BTreeMap;

use sea_orm::DatabaseConnection;
use tokio::sync::mpsc;

use cairn_core::{ChunkId, EntityKind, Error, PackId};
use cairn_entity::CompanyScope;
use cairn_proto::backup::v1 as pb;
use cairn_store::CellStore;

use crate::index::locate;

/// A chunk id and where its bytes sit in its pack.
type ChunkRange = (Vec<u8>, std::ops::Range<u64>);

/// Bytes per response message, under the 16 MiB message limit.
const RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Looks every chunk up first (a foreign or unknown id is NOT_FOUND before any
/// byte is sent), then streams them pack by pack.
pub(crate) async fn read_chunks(
    db: &DatabaseConnection,
    store: CellStore,
    scope: CompanyScope,
    ids: Vec<ChunkId>,
) -> Result<mpsc::Receiver<Result<pb::ReadChunksResponse, tonic::Status>>, Error> {
    let rows = locate(db, scope, &ids).await?;
    if rows.len() < ids.iter().collect::<std::collections::HashSet<_>>().len() {
        let found: std::collections::HashSet<&[u8]> =
            rows.iter().map(|r| r.id.as_slice()).collect();
        let missing = ids
            .iter()
            .find(|id| !found.contains(id.0.as_slice()))
            .copied();
        return Err(Error::not_found(
            EntityKind::Chunk,
            missing.map(|m| m.to_hex()).unwrap_or_default(),
        ));
    }
    let mut by_pack: BTreeMap<Vec<u8>, Vec<ChunkRange>> = BTreeMap::new();
    for row in rows {
        let start = row.offset as u64;
        by_pack
            .entry(row.pack_id)
            .or_default()
            .push((row.id, start..start + row.length as u64));
    }
    let (tx, rx) = mpsc::channel(2);
    let company = scope.company();
    tokio::spawn(async move {
        let mut batch = pb::ReadChunksResponse::default();
        let mut batch_bytes = 0;
        for (pack, chunks) in by_pack {
            let result = async {
                let pack = PackId::from_slice(&pack, "pack id")?;
                let ranges: Vec<_> = chunks.iter().map(|(_, r)| r.clone()).collect();
                store
                    .read_ranges(&CellStore::pack_key(company, &pack), &ranges)
                    .await
            }
            .await;
            let parts = match result {
                Ok(parts) => parts,
                Err(err) => {
                    let _ = tx.send(Err(err.into())).await;
                    return;
                }
            };
            for ((id, _), data) in chunks.into_iter().zip(parts) {
                batch_bytes += data.len();
                batch.chunks.push(pb::StoredChunk { id, data });
                if batch_bytes >= RESPONSE_BYTES {
                    if tx.send(Ok(std::mem::take(&mut batch))).await.is_err() {
                        return;
                    }
                    batch_bytes = 0;
                }
            }
        }
        if !batch.chunks.is_empty() {
            let _ = tx.send(Ok(batch)).await;
        }
    });
    Ok(rx)
}
