//! Request streams that fail: a client that cancels its call, or whose
//! connection breaks, is not taken for one that sent bad input, and leaves
//! nothing half done.

use futures::{StreamExt, stream};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::{AgentId, ChunkId, CompanyId, Error};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{snapshot, snapshot_ref_page};
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request::Part};

use super::convert::{pack_upload, snapshot_commit};
use crate::snapshots;

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
    let failed = stream::iter(vec![Err(cancelled())]);
    let err = snapshot_commit(failed).await.err().unwrap();
    assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
    let failed = stream::iter(vec![Err(broken())]);
    let err = snapshot_commit(failed).await.err().unwrap();
    assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
    // What the client did send wrong is still named.
    let empty = stream::iter(Vec::<Result<pb::CommitSnapshotRequest, _>>::new());
    let err = snapshot_commit(empty).await.err().unwrap();
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
            let messages = stream::iter(vec![
                Ok(header(ChunkId([7; 32]))),
                Ok(pb::CommitSnapshotRequest {
                    part: Some(Part::ChunkIds(pb::ChunkIds {
                        ids: vec![vec![5; 32]],
                    })),
                }),
                Err(failure),
            ]);
            let commit = snapshot_commit(messages).await.ok().unwrap();
            let err = snapshots::commit(
                &db,
                scope,
                crate::testing::machine(agent),
                retention,
                commit,
            )
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
    for (failure, cancel) in [(cancelled(), true), (broken(), false)] {
        let failed = stream::iter(vec![Err(failure)]);
        let err = pack_upload(failed).await.err().unwrap();
        if cancel {
            assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
        } else {
            assert!(matches!(err, Error::StreamBroken(_)), "{err:?}");
        }
    }
    // A part that fails after the header fails the upload the same way.
    let header = pb::UploadPackRequest {
        part: Some(pb::upload_pack_request::Part::Header(pb::PackHeader {
            pack_id: Vec::new(),
            size: 3,
            chunks: vec![pb::ChunkRecord {
                id: vec![5; 32],
                offset: 0,
                length: 3,
                raw_length: 3,
            }],
        })),
    };
    let upload = pack_upload(stream::iter(vec![Ok(header), Err(cancelled())]))
        .await
        .ok()
        .unwrap();
    let mut parts = upload.parts;
    let err = parts.next().await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Cancelled(_)), "{err:?}");
}
