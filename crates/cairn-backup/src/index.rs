//! The company's chunk index: where the first copy of each chunk is
//! stored, and the shapes its queries take.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

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
    use std::collections::HashSet;

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
