//! Fixtures the crate's tests share: sortable chunk ids, chunks in the
//! index, a commit as the adapter hands it on, and the pages a snapshot left.

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use cairn_core::{ChunkId, Error};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{chunk, snapshot_ref_page};

use crate::snapshots::{Retention, SnapshotCommit, SnapshotHeader, SnapshotStats};

/// Sortable ids: `n` big-endian first.
pub(crate) fn id(n: u32) -> ChunkId {
    let mut bytes = [7u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    ChunkId(bytes)
}

/// Indexes `ids` for the company, in a pack that is not there.
pub(crate) async fn store_chunks(db: &DatabaseConnection, scope: CompanyScope, ids: &[ChunkId]) {
    for batch in ids.chunks(500) {
        chunk::Entity::insert_many(batch.iter().map(|id| chunk::ActiveModel {
            company_id: Set(scope.uuid()),
            id: Set(id.0.to_vec()),
            pack_id: Set(vec![1; 32]),
            offset: Set(0),
            length: Set(1),
            raw_length: Set(1),
        }))
        .exec(db)
        .await
        .unwrap();
    }
}

pub(crate) type Ids = futures::stream::Iter<std::vec::IntoIter<Result<Vec<ChunkId>, Error>>>;

/// A commit's header and its ids, a thousand per batch, as the adapter
/// hands them on.
pub(crate) fn requests(tree: ChunkId, ids: &[ChunkId]) -> SnapshotCommit<Ids> {
    let header = SnapshotHeader::new(
        tree,
        "ledger-1".into(),
        vec!["/data".into()],
        0,
        0,
        SnapshotStats::default(),
    )
    .unwrap();
    let batches: Vec<_> = ids.chunks(1000).map(|batch| Ok(batch.to_vec())).collect();
    SnapshotCommit {
        header,
        ids: futures::stream::iter(batches),
    }
}

/// The ids a snapshot's pages hold, in page order.
pub(crate) async fn pages_of(db: &DatabaseConnection, snapshot: uuid::Uuid) -> Vec<u8> {
    snapshot_ref_page::Entity::find()
        .filter(snapshot_ref_page::Column::SnapshotId.eq(snapshot))
        .order_by_asc(snapshot_ref_page::Column::Page)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|p| p.chunk_ids)
        .collect()
}

/// How many pages the company's snapshots have.
pub(crate) async fn company_pages(db: &DatabaseConnection, scope: CompanyScope) -> u64 {
    snapshot_ref_page::Entity::find()
        .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
        .count(db)
        .await
        .unwrap()
}

/// A retention that forgets nothing in a test.
pub(crate) const KEEP: Retention = Retention {
    keep_last: 100,
    keep_within_days: 30,
};
