//! Fixtures the crate's tests share: sortable chunk ids, chunks in the
//! index, a commit's header and ids, and the pages a snapshot left.

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use cairn_core::ChunkId;
use cairn_entity::CompanyScope;
use cairn_entity::regional::{chunk, snapshot_ref_page};
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request::Part};

use crate::snapshots::Retention;

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

pub(crate) type Requests =
    futures::stream::Iter<std::vec::IntoIter<Result<pb::CommitSnapshotRequest, tonic::Status>>>;

/// A commit's header and its ids, a thousand per message.
pub(crate) fn requests(
    tree: ChunkId,
    ids: &[ChunkId],
) -> ((pb::SnapshotHeader, ChunkId), Requests) {
    let header = pb::SnapshotHeader {
        tree_id: tree.0.to_vec(),
        hostname: "ledger-1".into(),
        paths: vec!["/data".into()],
        ..pb::SnapshotHeader::default()
    };
    let messages: Vec<_> = ids
        .chunks(1000)
        .map(|batch| {
            Ok(pb::CommitSnapshotRequest {
                part: Some(Part::ChunkIds(pb::ChunkIds {
                    ids: batch.iter().map(|id| id.0.to_vec()).collect(),
                })),
            })
        })
        .collect();
    ((header, tree), futures::stream::iter(messages))
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
