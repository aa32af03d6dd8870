//! The company's chunk index: which chunks it holds and where.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use cairn_core::{ChunkId, Error};
use cairn_entity::regional::chunk;
use cairn_entity::{CompanyScope, db_err};

/// Ids per `IN (...)` query; well under every backend's parameter limit.
pub(crate) const QUERY_BATCH: usize = 500;

/// Which of `ids` the company already holds.
pub(crate) async fn present<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    ids: &[ChunkId],
) -> Result<HashSet<ChunkId>, Error> {
    let mut found = HashSet::with_capacity(ids.len());
    for batch in ids.chunks(QUERY_BATCH) {
        let rows: Vec<Vec<u8>> = chunk::Entity::find()
            .select_only()
            .column(chunk::Column::Id)
            .filter(chunk::Column::CompanyId.eq(scope.uuid()))
            .filter(chunk::Column::Id.is_in(batch.iter().map(|id| id.0.to_vec())))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("looking up chunks"))?;
        for row in rows {
            found.insert(ChunkId::from_slice(&row, "chunk id")?);
        }
    }
    Ok(found)
}

/// Locations of `ids` the company holds.
pub(crate) async fn locate<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    ids: &[ChunkId],
) -> Result<Vec<chunk::Model>, Error> {
    let mut found = Vec::with_capacity(ids.len());
    for batch in ids.chunks(QUERY_BATCH) {
        let rows = chunk::Entity::find()
            .filter(chunk::Column::CompanyId.eq(scope.uuid()))
            .filter(chunk::Column::Id.is_in(batch.iter().map(|id| id.0.to_vec())))
            .all(db)
            .await
            .map_err(db_err("locating chunks"))?;
        found.extend(rows);
    }
    Ok(found)
}

/// Reads a repeated bytes field of chunk ids, refusing bad lengths and too many.
pub(crate) fn parse_ids(field: &str, raw: &[Vec<u8>]) -> Result<Vec<ChunkId>, Error> {
    if raw.len() > crate::MAX_IDS_PER_MESSAGE {
        return Err(Error::invalid(
            field,
            format!(
                "at most {} ids per message, got {}",
                crate::MAX_IDS_PER_MESSAGE,
                raw.len()
            ),
        ));
    }
    raw.iter()
        .map(|id| ChunkId::from_slice(id, field))
        .collect()
}
