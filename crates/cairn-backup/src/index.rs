//! The company's chunk index: which chunks it holds and where.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use cairn_core::{ChunkId, Error};
use cairn_entity::regional::chunk;
use cairn_entity::{CompanyScope, db_err};

/// Ids per `IN (...)` query and rows per insert: well under every
/// backend's parameter limit, and a power of two (see [`padded`]).
pub(crate) const QUERY_BATCH: usize = 512;

/// `values` (at most [`QUERY_BATCH`] of them) padded to the next power of
/// two by repeating the last, for an `IN (...)` list, where a repeat
/// changes nothing.
///
/// Each connection keeps the statements it prepared, by their text, and a
/// list of every length is a statement of its own: a server that had met
/// lists of hundreds of different lengths kept hundreds of large prepared
/// statements per connection, its memory growing with the data it held.
/// Padded, a query has ten shapes, prepared once each.
pub(crate) fn padded<T: Clone>(values: &[T]) -> Vec<T> {
    let mut list = values.to_vec();
    if let Some(last) = values.last() {
        list.resize(values.len().next_power_of_two(), last.clone());
    }
    list
}

/// `rows` cut into runs of power-of-two lengths, longest first, at most
/// [`QUERY_BATCH`] each: a multi-row insert of each takes one of ten
/// shapes, for the reason [`padded`] gives.
pub(crate) fn pieces<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut rows = rows.into_iter();
    let mut left = rows.len();
    let mut out = Vec::new();
    while left > 0 {
        let take = (1 << left.ilog2()).min(QUERY_BATCH);
        out.push(rows.by_ref().take(take).collect());
        left -= take;
    }
    out
}

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
            .filter(chunk::Column::Id.is_in(padded(batch).iter().map(|id| id.0.to_vec())))
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

/// Index rows one range scan of [`lacking_sorted`] may read per id asked.
const SCAN_ROWS_PER_ID: usize = 4;

/// Which of `ids` (ascending, no repeats) the company lacks, in order.
/// The ids of a snapshot page are hashes spread evenly, so the company's
/// chunks between the first and the last of them are mostly these very ids
/// unless the company holds many times more chunks than the snapshot: one
/// ordered read of that span of the index, merged with the ids, replaces a
/// probe per id (four times faster on a first backup's commit). The read
/// stops after `SCAN_ROWS_PER_ID` rows per id; ids it did not find are
/// probed one by one, so the answer never depends on the shortcut.
pub(crate) async fn lacking_sorted<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    ids: &[ChunkId],
) -> Result<Vec<ChunkId>, Error> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<Vec<u8>> = chunk::Entity::find()
        .select_only()
        .column(chunk::Column::Id)
        .filter(chunk::Column::CompanyId.eq(scope.uuid()))
        .filter(chunk::Column::Id.gte(first.0.to_vec()))
        .filter(chunk::Column::Id.lte(last.0.to_vec()))
        .order_by_asc(chunk::Column::Id)
        .limit((ids.len() * SCAN_ROWS_PER_ID) as u64)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err("looking up chunks"))?;
    let mut rows = rows.iter().map(Vec::as_slice).peekable();
    let mut unfound = Vec::new();
    for id in ids {
        while rows.next_if(|row| *row < &id.0[..]).is_some() {}
        if rows.next_if(|row| *row == &id.0[..]).is_none() {
            unfound.push(*id);
        }
    }
    if !unfound.is_empty() {
        let held = present(db, scope, &unfound).await?;
        unfound.retain(|id| !held.contains(id));
    }
    Ok(unfound)
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
            .filter(chunk::Column::Id.is_in(padded(batch).iter().map(|id| id.0.to_vec())))
            .all(db)
            .await
            .map_err(db_err("locating chunks"))?;
        found.extend(rows);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_few_shapes_and_keep_their_values() {
        let mut shapes = HashSet::new();
        for n in 0..=QUERY_BATCH {
            let values: Vec<usize> = (0..n).collect();
            let list = padded(&values);
            assert_eq!(list[..n], values[..]);
            assert!(list[n..].iter().all(|v| Some(v) == values.last()));
            shapes.insert(list.len());

            let runs = pieces(values.clone());
            assert_eq!(runs.concat(), values);
            for run in &runs {
                assert!(run.len().is_power_of_two() && run.len() <= QUERY_BATCH);
                shapes.insert(run.len());
            }
        }
        // The empty list, and 1, 2, 4, ... 512.
        assert_eq!(shapes.len(), 11);
        assert_eq!(pieces((0..3 * QUERY_BATCH + 5).collect()).len(), 5);
    }
}

#[cfg(test)]
mod span_tests {
    use cairn_core::CompanyId;

    use super::*;
    use crate::testing::{id, store_chunks};

    #[tokio::test]
    async fn lacking_chunks_are_found_whether_or_not_one_scan_covers_the_span() {
        for test_db in cairn_migration::testing::test_databases().await.unwrap() {
            let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
            let scope = CompanyScope::for_tests(CompanyId::new());
            let other = CompanyScope::for_tests(CompanyId::new());
            // The company holds the even ids, another company the odd ones.
            let held: Vec<ChunkId> = (0..2000).map(|n| id(n * 2)).collect();
            let theirs: Vec<ChunkId> = (0..2000).map(|n| id(n * 2 + 1)).collect();
            store_chunks(&db, scope, &held).await;
            store_chunks(&db, other, &theirs).await;

            // Dense, as a snapshot page is: one scan reads the whole span.
            let mut asked: Vec<ChunkId> = held[..1000].to_vec();
            asked.extend([id(2001), id(2003)]);
            assert_eq!(
                lacking_sorted(&db, scope, &asked).await.unwrap(),
                [id(2001), id(2003)],
                "{}",
                test_db.backend
            );
            // Sparse: the span holds far more rows than the scan reads, so
            // the ids past its end are probed instead, and still found.
            let asked = [id(0), id(1999), id(3998)];
            assert_eq!(
                lacking_sorted(&db, scope, &asked).await.unwrap(),
                [id(1999)],
                "{}",
                test_db.backend
            );
            assert!(lacking_sorted(&db, scope, &[]).await.unwrap().is_empty());
            assert_eq!(
                lacking_sorted(&db, other, &[id(0), id(1)]).await.unwrap(),
                [id(0)],
                "{}",
                test_db.backend
            );
        }
    }
}
