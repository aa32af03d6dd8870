//! Restore reads: chunks of one snapshot the caller may see, each the copy
//! the snapshot's person holds, fetched from their packs with ranged reads
//! and streamed back in bounded batches.

use std::collections::BTreeMap;

use bytes::Bytes;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::mpsc;

use cairn_core::{ChunkId, Error, PackId, SnapshotId};
use cairn_entity::regional::agent;
use cairn_entity::{CompanyScope, db_err};
use cairn_store::CellStore;

use crate::holdings::Holder;
use crate::locate::{Location, locate_for};
use crate::snapshots::{self, Visible};

/// A chunk read back: its id as the index holds it, and its bytes as
/// stored, a view of the buffer the ranged read filled.
#[derive(Clone, Debug)]
pub(crate) struct StoredChunk {
    pub(crate) id: Vec<u8>,
    pub(crate) data: Bytes,
}

/// A batch of chunks of about [`RESPONSE_BYTES`], or why reading stopped.
pub(crate) type ChunkBatch = Result<Vec<StoredChunk>, Error>;

/// A chunk id and where its bytes sit in its pack.
type ChunkRange = (Vec<u8>, std::ops::Range<u64>);

/// Bytes per response message, under the 16 MiB message limit.
const RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// A pack's wanted chunks, in groups of about a response's bytes (at least
/// one chunk each), in the order of their offsets: each group is read only
/// when the one before is sent, so a call holds about a response's worth
/// of a pack rather than all it wants of it.
fn by_bytes(mut chunks: Vec<ChunkRange>) -> Vec<Vec<ChunkRange>> {
    chunks.sort_by_key(|(_, range)| range.start);
    let mut groups: Vec<Vec<ChunkRange>> = Vec::new();
    let mut bytes = 0;
    for chunk in chunks {
        let len = (chunk.1.end - chunk.1.start) as usize;
        match groups.last_mut() {
            Some(group) if bytes + len <= RESPONSE_BYTES => group.push(chunk),
            _ => {
                bytes = 0;
                groups.push(vec![chunk]);
            }
        }
        bytes += len;
    }
    groups
}

/// Looks every chunk up first (a chunk the snapshot neither references
/// nor its person holds, like another company's or an unknown id, is
/// NOT_FOUND before any byte is sent), then streams the copy the
/// snapshot's person holds of each, pack by pack.
pub(crate) async fn read_chunks(
    db: &DatabaseConnection,
    store: CellStore,
    scope: CompanyScope,
    visible: &Visible,
    snapshot: SnapshotId,
    ids: Vec<ChunkId>,
) -> Result<mpsc::Receiver<ChunkBatch>, Error> {
    let row = snapshots::get(db, scope, visible, snapshot).await?;
    let machine = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::Id.eq(row.agent_id))
        .one(db)
        .await
        .map_err(db_err("finding a snapshot's machine"))?;
    let holder = machine.as_ref().map_or(Holder(row.agent_id), Holder::of);
    let rows = locate_for(db, scope, holder, snapshot, ids).await?;
    Ok(stream(store, scope, rows))
}

/// Streams the chunks at `rows`, pack by pack, in batches of about a
/// response.
fn stream(
    store: CellStore,
    scope: CompanyScope,
    rows: Vec<Location>,
) -> mpsc::Receiver<ChunkBatch> {
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
        let mut batch: Vec<StoredChunk> = Vec::new();
        let mut batch_bytes = 0;
        for (pack, chunks) in by_pack {
            let key = match PackId::from_slice(&pack, "pack id") {
                Ok(pack) => CellStore::pack_key(company, &pack),
                Err(err) => {
                    let _ = tx.send(Err(err)).await;
                    return;
                }
            };
            for group in by_bytes(chunks) {
                let ranges: Vec<_> = group.iter().map(|(_, r)| r.clone()).collect();
                let parts = match store.read_ranges(&key, &ranges).await {
                    Ok(parts) => parts,
                    Err(err) => {
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                };
                for ((id, _), data) in group.into_iter().zip(parts) {
                    batch_bytes += data.len();
                    batch.push(StoredChunk { id, data });
                    if batch_bytes >= RESPONSE_BYTES {
                        if tx.send(Ok(std::mem::take(&mut batch))).await.is_err() {
                            return;
                        }
                        batch_bytes = 0;
                    }
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Ok(batch)).await;
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(start: u64, len: usize) -> ChunkRange {
        (start.to_be_bytes().to_vec(), start..start + len as u64)
    }

    #[test]
    fn a_pack_is_read_in_groups_of_about_a_response() {
        let mib = 1024 * 1024;
        let big = RESPONSE_BYTES + 1;
        // Out of order, as the index may give them.
        let chunks = vec![
            chunk(10 * mib as u64, mib),
            chunk(0, 3 * mib),
            chunk(3 * mib as u64, mib),
            chunk(4 * mib as u64, big),
            chunk(20 * mib as u64, 1),
            chunk(30 * mib as u64, 0),
        ];
        let groups = by_bytes(chunks);
        let starts: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| g.iter().map(|(_, r)| r.start / mib as u64).collect())
            .collect();
        // 3 + 1 MiB fill the first; the oversized chunk goes alone; the rest
        // fit together.
        assert_eq!(starts, [vec![0, 3], vec![4], vec![10, 20, 30]]);
        assert!(by_bytes(Vec::new()).is_empty());
    }
}
