//! Request streams that fail: a client that cancels its call, or whose
//! connection breaks, is not taken for one that sent bad input, and leaves
//! nothing half done.

use futures::stream;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::{AgentId, ChunkId, CompanyId, Error};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{agent, snapshot, snapshot_ref_page};
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request::Part};
use cairn_store::CellStore;

use crate::{ingest, snapshots};

fn cancelled() -> tonic::Status {
    tonic::Status::cancelled("stream reset by the client")
}

/// What tonic makes of a connection that went away under a request body.
fn broken() -> tonic::Status {
    let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
    tonic::Status::from_error(Box::new(reset))
}

fn header(tree: ChunkId) -> pb::CommitSnapshotRequest {
    pb::CommitSnapshotRequest {
        part: Some(Part::Header(pb::SnapshotHeader {
            tree_id: tree.0.to_vec(),
            hostname: "ledger-1".into(),
            paths: vec!["/data".into()],
            ..pb::SnapshotHeader::default()
        })),
    }
}

#[tokio::test]
async fn a_commit_whose_stream_fails_before_its_header_is_not_bad_input() {
    let mut failed = stream::iter(vec![Err(cancelled())]);
    let err = snapshots::receive_header(&mut failed).await.unwrap_err();
    assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
    let mut failed = stream::iter(vec![Err(broken())]);
    let err = snapshots::receive_header(&mut failed).await.unwrap_err();
    assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
    // What the client did send wrong is still named.
    let mut empty = stream::iter(Vec::<Result<pb::CommitSnapshotRequest, _>>::new());
    let err = snapshots::receive_header(&mut empty).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { field, .. } if field == "header"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_commit_whose_stream_fails_midway_commits_nothing() {
    for test_db in cairn_migration::testing::test_databases().await.unwrap() {
        let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
        let scope = CompanyScope::for_tests(CompanyId::new());
        let agent = AgentId(uuid::Uuid::now_v7());
        let retention = snapshots::Retention {
            keep_last: 10,
            keep_within_days: 30,
        };
        for (failure, cancel) in [(cancelled(), true), (broken(), false)] {
            let mut messages = stream::iter(vec![
                Ok(header(ChunkId([7; 32]))),
                Ok(pb::CommitSnapshotRequest {
                    part: Some(Part::ChunkIds(pb::ChunkIds {
                        ids: vec![vec![5; 32]],
                    })),
                }),
                Err(failure),
            ]);
            let header = snapshots::receive_header(&mut messages).await.unwrap();
            let err = snapshots::commit(&db, scope, agent, retention, header, messages)
                .await
                .unwrap_err();
            if cancel {
                assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
            } else {
                assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
            }
        }
        let committed = snapshot::Entity::find()
            .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
            .count(&db)
            .await
            .unwrap();
        let pages = snapshot_ref_page::Entity::find()
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!((committed, pages), (0, 0), "{}", test_db.backend);
    }
}

#[tokio::test]
async fn an_upload_whose_stream_fails_is_not_bad_input() {
    for test_db in cairn_migration::testing::test_databases().await.unwrap() {
        let db = cairn_migration::open_regional(&test_db.url).await.unwrap();
        let store = CellStore::memory();
        let scope = CompanyScope::for_tests(CompanyId::new());
        let machine = agent::Model {
            id: uuid::Uuid::now_v7(),
            company_id: scope.uuid(),
            hostname: "ledger-1".into(),
            credential_hash: vec![0; 32],
            enrolled_at: chrono::Utc::now(),
            revoked_at: None,
            owner_user_id: None,
            group_id: None,
            last_seen_at: None,
            last_attempt_at: None,
            last_backup_at: None,
            last_result: String::new(),
            last_error: String::new(),
            bytes_protected: 0,
            policy_version_seen: 0,
            idle_alert_at: None,
        };
        for (failure, cancel) in [(cancelled(), true), (broken(), false)] {
            let failed = stream::iter(vec![Err(failure)]);
            let err = ingest::receive_and_store(&db, &store, scope, &machine, failed)
                .await
                .unwrap_err();
            if cancel {
                assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
            } else {
                assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
            }
        }
        assert!(store.list(None).await.unwrap().is_empty());
    }
}
