//! Who holds which chunk: the person whose machine uploaded it (the machine
//! itself when it belongs to nobody), with the digest of the copy uploaded.
//! A machine is told a chunk is stored, may commit it and may restore it
//! only through its person's holdings (or, for commits and restores, the
//! snapshots it may see), so a colleague's files can be neither probed nor
//! read by id.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use cairn_core::{ChunkId, Error};
use cairn_entity::regional::{agent, chunk_holding};
use cairn_entity::{CompanyScope, db_err};

use crate::index::{QUERY_BATCH, padded};

/// The digest of a stored copy: BLAKE3 of its bytes.
pub(crate) type Digest = [u8; 32];

/// Whose holdings a machine shares: its owner's, or its own when it belongs
/// to nobody.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Holder(pub(crate) uuid::Uuid);

impl Holder {
    pub(crate) fn of(agent: &agent::Model) -> Holder {
        Holder(agent.owner_user_id.unwrap_or(agent.id))
    }
}

/// What the holder holds of `ids`: each held id with the digest of its
/// copy (none for a chunk stored before digests were taken).
pub(crate) async fn held<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    holder: Holder,
    ids: &[ChunkId],
) -> Result<HashMap<ChunkId, Option<Digest>>, Error> {
    let mut found = HashMap::with_capacity(ids.len());
    for batch in ids.chunks(QUERY_BATCH) {
        let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = chunk_holding::Entity::find()
            .select_only()
            .column(chunk_holding::Column::ChunkId)
            .column(chunk_holding::Column::Digest)
            .filter(chunk_holding::Column::CompanyId.eq(scope.uuid()))
            .filter(chunk_holding::Column::Holder.eq(holder.0))
            .filter(
                chunk_holding::Column::ChunkId.is_in(padded(batch).iter().map(|id| id.0.to_vec())),
            )
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err("looking up chunk holdings"))?;
        for (id, digest) in rows {
            let digest = digest.and_then(|d| Digest::try_from(d.as_slice()).ok());
            found.insert(ChunkId::from_slice(&id, "chunk id")?, digest);
        }
    }
    Ok(found)
}

/// Which of `asked` the holder does not hold with the same stored bytes:
/// a chunk held with another digest is missing (the caller's copy is sent,
/// stored as a further copy and reported), one stored before digests were
/// taken, or asked without a digest, matches any copy. A chunk only a
/// colleague holds is missing too, so a machine learns nothing of what
/// others store; the upload that follows is deduplicated by the server.
pub(crate) async fn missing<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    holder: Holder,
    asked: &[(ChunkId, Option<Digest>)],
) -> Result<Vec<ChunkId>, Error> {
    let ids: Vec<ChunkId> = asked.iter().map(|(id, _)| *id).collect();
    let found = held(db, scope, holder, &ids).await?;
    Ok(asked
        .iter()
        .filter(|(id, digest)| match found.get(id) {
            None => true,
            Some(Some(stored)) => digest.is_some_and(|d| d != *stored),
            Some(None) => false,
        })
        .map(|(id, _)| *id)
        .collect())
}

/// Holding rows one range scan of [`lacking_sorted`] may read per id asked.
const SCAN_ROWS_PER_ID: usize = 4;

/// Which of `ids` (ascending, no repeats) the holder does not hold, in
/// order. The ids of a snapshot page are hashes spread evenly, so the
/// holder's chunks between the first and the last of them are mostly these
/// very ids unless the holder holds many times more chunks than the
/// snapshot: one ordered read of that span, merged with the ids, replaces a
/// probe per id (four times faster on a first backup's commit). The read
/// stops after `SCAN_ROWS_PER_ID` rows per id; ids it did not find are
/// probed in batches, so the answer never depends on the shortcut.
pub(crate) async fn lacking_sorted<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    holder: Holder,
    ids: &[ChunkId],
) -> Result<Vec<ChunkId>, Error> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<Vec<u8>> = chunk_holding::Entity::find()
        .select_only()
        .column(chunk_holding::Column::ChunkId)
        .filter(chunk_holding::Column::CompanyId.eq(scope.uuid()))
        .filter(chunk_holding::Column::Holder.eq(holder.0))
        .filter(chunk_holding::Column::ChunkId.gte(first.0.to_vec()))
        .filter(chunk_holding::Column::ChunkId.lte(last.0.to_vec()))
        .order_by_asc(chunk_holding::Column::ChunkId)
        .limit((ids.len() * SCAN_ROWS_PER_ID) as u64)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("looking up chunk holdings"))?;
    let mut rows = rows.iter().map(Vec::as_slice).peekable();
    let mut unfound = Vec::new();
    for id in ids {
        while rows.next_if(|row| *row < &id.0[..]).is_some() {}
        if rows.next_if(|row| *row == &id.0[..]).is_none() {
            unfound.push(*id);
        }
    }
    if !unfound.is_empty() {
        let found = held(db, scope, holder, &unfound).await?;
        unfound.retain(|id| !found.contains_key(id));
    }
    Ok(unfound)
}

#[cfg(test)]
mod tests {
    use cairn_core::CompanyId;

    use super::*;
    use crate::testing::{id, store_chunks};

    #[tokio::test]
    async fn lacking_chunks_are_found_whether_or_not_one_scan_covers_the_span() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = CompanyScope::for_tests(CompanyId::new());
            let other = CompanyScope::for_tests(CompanyId::new());
            let (me, colleague) = (Holder(uuid::Uuid::now_v7()), Holder(uuid::Uuid::now_v7()));
            // I hold the even ids; a colleague the odd ones; another
            // company's machine of the same id holds both.
            let held: Vec<ChunkId> = (0..2000).map(|n| id(n * 2)).collect();
            let theirs: Vec<ChunkId> = (0..2000).map(|n| id(n * 2 + 1)).collect();
            store_chunks(&db, scope, me, &held).await;
            store_chunks(&db, scope, colleague, &theirs).await;
            store_chunks(&db, other, me, &theirs).await;

            // Dense, as a snapshot page is: one scan reads the whole span.
            let mut asked: Vec<ChunkId> = held[..1000].to_vec();
            asked.extend([id(2001), id(2003)]);
            assert_eq!(
                lacking_sorted(&db, scope, me, &asked).await.unwrap(),
                [id(2001), id(2003)],
                "{}",
                test_db.backend
            );
            // Sparse: the span holds far more rows than the scan reads, so
            // the ids past its end are probed instead, and still found.
            let asked = [id(0), id(1999), id(3998)];
            assert_eq!(
                lacking_sorted(&db, scope, me, &asked).await.unwrap(),
                [id(1999)],
                "{}",
                test_db.backend
            );
            assert!(
                lacking_sorted(&db, scope, me, &[])
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_eq!(
                lacking_sorted(&db, other, me, &[id(0), id(1)])
                    .await
                    .unwrap(),
                [id(0)],
                "{}",
                test_db.backend
            );
        }
    }
}
