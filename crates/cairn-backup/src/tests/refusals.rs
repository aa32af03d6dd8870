//! Refusals leave nothing behind: a commit referencing a chunk the company
//! lacks is CHUNKS_NOT_STORED with no pages and no snapshot; an upload past
//! the quota stores and indexes nothing.

use bytes::Bytes;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::policy::Policy;
use cairn_core::{AgentId, ChunkId, Error, Reason};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{chunk, pack, snapshot};
use cairn_store::CellStore;

use crate::holdings::Holder;
use crate::ingest::{PackHeader, PackRecord, PackUpload, receive_and_store};
use crate::snapshots;
use crate::testing::{
    KEEP, agent, company, company_pages, databases, group, id, requests, store_chunks,
};

async fn snapshots_of(db: &DatabaseConnection, scope: CompanyScope) -> u64 {
    snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .count(db)
        .await
        .unwrap()
}

async fn indexed(db: &DatabaseConnection, scope: CompanyScope) -> (u64, u64) {
    let packs = pack::Entity::find()
        .filter(pack::Column::CompanyId.eq(scope.uuid()))
        .count(db)
        .await
        .unwrap();
    let chunks = chunk::Entity::find()
        .filter(chunk::Column::CompanyId.eq(scope.uuid()))
        .count(db)
        .await
        .unwrap();
    (packs, chunks)
}

#[tokio::test]
async fn a_commit_naming_a_chunk_the_company_lacks_leaves_no_pages() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let scope = company(&db, None).await;
        let other = company(&db, None).await;
        let machine = AgentId(agent(&db, scope, None, None).await.id);
        // Enough ids for a page to be written before the lacking one: the
        // commit still leaves nothing.
        let ours: Vec<ChunkId> = (0..5000).map(|n| id(n * 2)).collect();
        store_chunks(&db, scope, Holder(machine.0), &ours).await;
        // Held by another company: dedup does not reach across companies.
        let theirs = id(20_001);
        store_chunks(&db, other, Holder(machine.0), &[theirs]).await;
        let mut ids = ours.clone();
        ids.push(theirs);

        let err = snapshots::commit(
            &db,
            scope,
            crate::testing::machine(machine),
            KEEP,
            requests(ours[0], &ids),
        )
        .await
        .unwrap_err();
        assert_eq!(err.reason(), Reason::ChunksNotStored, "{backend}: {err}");
        assert!(
            matches!(err, Error::ChunksNotStored { lacking: 1, first, .. } if first == theirs),
            "{backend}: {err:?}"
        );
        assert_eq!(company_pages(&db, scope).await, 0, "{backend}");
        assert_eq!(snapshots_of(&db, scope).await, 0, "{backend}");

        // The same ids without the foreign one commit.
        snapshots::commit(
            &db,
            scope,
            crate::testing::machine(machine),
            KEEP,
            requests(ours[0], &ours),
        )
        .await
        .unwrap();
        assert_eq!(snapshots_of(&db, scope).await, 1, "{backend}");
    }
}

/// A pack of `size` bytes holding one chunk, as the adapter hands it on.
fn upload(
    size: usize,
    chunk: ChunkId,
) -> PackUpload<impl futures::Stream<Item = Result<Bytes, Error>> + Unpin> {
    let header = PackHeader {
        size: size as u64,
        claimed: None,
        chunks: vec![PackRecord {
            id: chunk,
            offset: 0,
            length: size as u32,
            raw_length: size as u32,
        }],
    };
    let parts = futures::stream::iter(vec![Ok(Bytes::from(vec![9u8; size]))]);
    PackUpload { header, parts }
}

#[tokio::test]
async fn an_upload_past_the_quota_stores_and_indexes_nothing() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let store = CellStore::memory();
        let scope = company(&db, Some(1000)).await;
        let machine = agent(&db, scope, None, None).await;

        // Under the quota, the pack is stored and its chunk indexed.
        let (added, _) = receive_and_store(&db, &store, scope, &machine, "", upload(600, id(1)))
            .await
            .unwrap();
        assert_eq!(added, 1, "{backend}");
        assert_eq!(indexed(&db, scope).await, (1, 1), "{backend}");
        let stored = store.list(None).await.unwrap().len();

        // Past it: refused, and nothing more in the bucket or the index.
        let err = receive_and_store(&db, &store, scope, &machine, "", upload(600, id(2)))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::QuotaExceeded, "{backend}: {err}");
        assert_eq!(indexed(&db, scope).await, (1, 1), "{backend}");
        assert_eq!(store.list(None).await.unwrap().len(), stored, "{backend}");

        // A group's quota refuses the same way, under a roomy company quota.
        let roomy = company(&db, None).await;
        let small = group(&db, roomy, &Policy::default(), Some(100)).await;
        let grouped = agent(&db, roomy, None, Some(&small)).await;
        let err = receive_and_store(&db, &store, roomy, &grouped, "", upload(600, id(3)))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::QuotaExceeded, "{backend}: {err}");
        assert_eq!(indexed(&db, roomy).await, (0, 0), "{backend}");
        assert_eq!(store.list(None).await.unwrap().len(), stored, "{backend}");
    }
}
