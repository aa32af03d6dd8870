//! Which stored copy a restore of one snapshot reads for each chunk: only
//! chunks the snapshot's person holds or the snapshot references are
//! served, and of a chunk stored more than once (a forged or damaged copy
//! and an honest one), the copy that person uploaded.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use cairn_core::{ChunkId, EntityKind, Error, SnapshotId};
use cairn_entity::regional::{chunk_copy, snapshot_ref_page};
use cairn_entity::{CompanyScope, db_err};

use crate::holdings::{Digest, Holder, held};
use crate::index::{QUERY_BATCH, locate, padded};

/// Where one chunk's copy sits.
#[derive(Clone, Debug)]
pub(crate) struct Location {
    pub(crate) id: Vec<u8>,
    pub(crate) pack_id: Vec<u8>,
    pub(crate) offset: i64,
    pub(crate) length: i64,
}

/// The copies to read of `ids` for a restore of `snapshot`, whose machine's
/// person is `holder`. An id neither held by that person nor referenced by
/// the snapshot is NOT_FOUND, named, as an unknown one is.
pub(crate) async fn locate_for<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    holder: Holder,
    snapshot: SnapshotId,
    mut ids: Vec<ChunkId>,
) -> Result<Vec<Location>, Error> {
    ids.sort();
    ids.dedup();
    let holdings = held(db, scope, holder, &ids).await?;
    let not_held: Vec<ChunkId> = ids
        .iter()
        .filter(|id| !holdings.contains_key(id))
        .copied()
        .collect();
    if let Some(first) = unreferenced(db, scope, snapshot, &not_held).await? {
        return Err(Error::not_found(EntityKind::Chunk, first.to_hex()));
    }
    let primary: HashMap<Vec<u8>, _> = locate(db, scope, &ids)
        .await?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();
    // The person's copy is not the first one the company stored: read it
    // from the further copies.
    let other: Vec<(ChunkId, Digest)> = ids
        .iter()
        .filter_map(|id| {
            let mine = holdings.get(id).copied().flatten()?;
            let first = primary.get(id.0.as_slice())?.digest.as_deref()?;
            (first != mine.as_slice()).then_some((*id, mine))
        })
        .collect();
    let copies = copies_of(db, scope, &other).await?;
    ids.iter()
        .map(|id| {
            if let Some(copy) = copies.get(id) {
                return Ok(Location {
                    id: id.0.to_vec(),
                    pack_id: copy.pack_id.clone(),
                    offset: copy.offset,
                    length: copy.length,
                });
            }
            let row = primary
                .get(id.0.as_slice())
                .ok_or_else(|| Error::not_found(EntityKind::Chunk, id.to_hex()))?;
            Ok(Location {
                id: row.id.clone(),
                pack_id: row.pack_id.clone(),
                offset: row.offset,
                length: row.length,
            })
        })
        .collect()
}

/// The further copies `wanted` names, by id.
async fn copies_of<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    wanted: &[(ChunkId, Digest)],
) -> Result<HashMap<ChunkId, chunk_copy::Model>, Error> {
    let digests: HashMap<ChunkId, Digest> = wanted.iter().copied().collect();
    let mut found = HashMap::new();
    for batch in wanted.chunks(QUERY_BATCH) {
        let ids: Vec<Vec<u8>> = batch.iter().map(|(id, _)| id.0.to_vec()).collect();
        let rows = chunk_copy::Entity::find()
            .filter(chunk_copy::Column::CompanyId.eq(scope.uuid()))
            .filter(chunk_copy::Column::ChunkId.is_in(padded(&ids)))
            .all(db)
            .await
            .map_err(db_err("locating chunk copies"))?;
        for row in rows {
            let id = ChunkId::from_slice(&row.chunk_id, "chunk id")?;
            if digests.get(&id).is_some_and(|d| d.as_slice() == row.digest) {
                found.insert(id, row);
            }
        }
    }
    Ok(found)
}

/// The first of `ids` (ascending) that the snapshot does not reference,
/// walking its pages in order only as far as the last id asked.
async fn unreferenced<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    snapshot: SnapshotId,
    ids: &[ChunkId],
) -> Result<Option<ChunkId>, Error> {
    let mut left = ids.iter().peekable();
    let mut number = 0;
    while left.peek().is_some() {
        let Some(page) = snapshot_ref_page::Entity::find_by_id((snapshot.0, number))
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .one(db)
            .await
            .map_err(db_err("reading a snapshot's chunks"))?
        else {
            break;
        };
        number += 1;
        let refs: Vec<&[u8]> = page.chunk_ids.chunks_exact(32).collect();
        let Some(last) = refs.last().copied() else {
            continue;
        };
        while let Some(id) = left.next_if(|id| id.0.as_slice() <= last) {
            if refs.binary_search(&id.0.as_slice()).is_err() {
                return Ok(Some(*id));
            }
        }
    }
    Ok(left.next().copied())
}
