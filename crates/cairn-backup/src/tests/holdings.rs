//! Reads follow visibility and no machine spoils another person's chunks:
//! a chunk only a colleague holds is "missing" to FindMissingChunks and
//! cannot be committed or read by id; its upload is deduplicated by the
//! server when its bytes equal the stored copy, and stored as a further
//! copy (reported to the admins) when they differ; each person restores
//! the copy they uploaded.

use bytes::Bytes;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_auth::Role;
use cairn_core::{ChunkId, Error, Reason, SnapshotId};
use cairn_entity::regional::{agent, audit, chunk, chunk_copy, outbox};
use cairn_store::CellStore;

use crate::holdings::{Holder, missing};
use crate::ingest::{PackHeader, PackRecord, PackUpload, receive_and_store};
use crate::read::read_chunks;
use crate::snapshots::{self, Caller, visible};
use crate::testing::{agent, company, databases, id, requests, user};

/// A pack holding each of `chunks` (id, stored bytes), end to end.
fn pack(
    chunks: &[(ChunkId, Vec<u8>)],
) -> PackUpload<impl futures::Stream<Item = Result<Bytes, Error>> + Unpin> {
    let mut body = Vec::new();
    let mut records = Vec::new();
    let mut sorted = chunks.to_vec();
    sorted.sort();
    for (id, data) in &sorted {
        records.push(PackRecord {
            id: *id,
            offset: body.len() as u64,
            length: data.len() as u32,
            raw_length: data.len() as u32,
        });
        body.extend_from_slice(data);
    }
    let header = PackHeader {
        size: body.len() as u64,
        claimed: None,
        chunks: records,
    };
    // In two parts, one cutting a record in half.
    let cut = body.len() / 2 + 1;
    let parts = vec![
        Ok(Bytes::copy_from_slice(&body[..cut])),
        Ok(Bytes::copy_from_slice(&body[cut..])),
    ];
    PackUpload {
        header,
        parts: futures::stream::iter(parts),
    }
}

fn digest(bytes: &[u8]) -> Option<[u8; 32]> {
    Some(cairn_crypto::stored_digest(bytes))
}

async fn read_back(
    db: &sea_orm::DatabaseConnection,
    store: &CellStore,
    scope: cairn_entity::CompanyScope,
    caller: &Caller,
    snapshot: uuid::Uuid,
    ids: &[ChunkId],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
    let seen = visible(db, scope, caller).await?;
    let mut rx = read_chunks(
        db,
        store.clone(),
        scope,
        &seen,
        SnapshotId(snapshot),
        ids.to_vec(),
    )
    .await?;
    let mut out = Vec::new();
    while let Some(batch) = rx.recv().await {
        out.extend(batch?.into_iter().map(|c| (c.id, c.data.to_vec())));
    }
    out.sort();
    Ok(out)
}

#[tokio::test]
async fn a_colleagues_copy_is_neither_seen_nor_used_and_a_forged_one_is_reported() {
    for (db, test_db) in databases().await {
        let backend = test_db.backend;
        let store = CellStore::memory();
        let scope = company(&db, None).await;
        let admin = user(&db, scope, Role::Admin).await;
        let member = user(&db, scope, Role::Member).await;
        let admins: agent::Model = agent(&db, scope, Some(admin.user.id), None).await;
        let members = agent(&db, scope, Some(member.user.id), None).await;
        let (file, tree) = (id(1), id(2));
        let honest = [
            (file, b"sealed file".to_vec()),
            (tree, b"sealed tree".to_vec()),
        ];
        let forged = [
            (file, b"garbage one".to_vec()),
            (tree, b"garbage two".to_vec()),
        ];

        // The member's machine stores garbage under both ids first.
        let (added, _) = receive_and_store(&db, &store, scope, &members, "", pack(&forged))
            .await
            .unwrap();
        assert_eq!(added, 2, "{backend}");
        // To the admin's machine they are missing, with or without digests.
        let ask = |d: bool| {
            honest
                .iter()
                .map(|(id, bytes)| (*id, if d { digest(bytes) } else { None }))
                .collect::<Vec<_>>()
        };
        for with_digests in [true, false] {
            let lacking = missing(&db, scope, Holder::of(&admins), &ask(with_digests))
                .await
                .unwrap();
            assert_eq!(lacking, [file, tree], "{backend}");
        }
        // The admin cannot commit them yet.
        let err = snapshots::commit_for_agent(&db, scope, &admins, requests(tree, &[file]))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::ChunksNotStored, "{backend}: {err}");

        // The admin's upload: further copies, reported.
        let (added, _) = receive_and_store(&db, &store, scope, &admins, "10.0.0.5", pack(&honest))
            .await
            .unwrap();
        assert_eq!(added, 2, "{backend}");
        let copies = chunk_copy::Entity::find()
            .filter(chunk_copy::Column::CompanyId.eq(scope.uuid()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(copies, 2, "{backend}");
        assert!(
            missing(&db, scope, Holder::of(&admins), &ask(true))
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
        let reported = audit::Entity::find()
            .filter(audit::Column::CompanyId.eq(scope.uuid()))
            .filter(audit::Column::Action.eq("chunk.conflict"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(reported.len(), 1, "{backend}");
        assert_eq!(reported[0].actor, format!("agent:{}", admins.id));
        assert_eq!(reported[0].ip, "10.0.0.5");
        let mails = outbox::Entity::find()
            .filter(outbox::Column::CompanyId.eq(scope.uuid()))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(mails.len(), 1, "only the admin: {backend}");
        assert_eq!(mails[0].to_address, admin.user.email, "{backend}");
        assert!(mails[0].body.contains(&members.hostname), "{backend}");

        // Each person commits and restores the copy they uploaded.
        let ours = snapshots::commit_for_agent(&db, scope, &admins, requests(tree, &[file]))
            .await
            .unwrap();
        let theirs = snapshots::commit_for_agent(&db, scope, &members, requests(tree, &[file]))
            .await
            .unwrap();
        let as_admin = Caller::Agent(admins.clone());
        let got = read_back(&db, &store, scope, &as_admin, ours.id, &[file, tree])
            .await
            .unwrap();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = {
            let mut v: Vec<_> = honest
                .iter()
                .map(|(i, b)| (i.0.to_vec(), b.clone()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(got, expected, "{backend}");
        let as_member = Caller::Agent(members.clone());
        let got = read_back(&db, &store, scope, &as_member, theirs.id, &[file])
            .await
            .unwrap();
        assert_eq!(
            got,
            [(file.0.to_vec(), b"garbage one".to_vec())],
            "{backend}"
        );
        // The admin (who sees every machine) restoring the member's
        // snapshot gets the member's copy too: it is what that snapshot holds.
        let as_admin_user = Caller::User(admin.clone());
        let got = read_back(&db, &store, scope, &as_admin_user, theirs.id, &[file])
            .await
            .unwrap();
        assert_eq!(
            got,
            [(file.0.to_vec(), b"garbage one".to_vec())],
            "{backend}"
        );

        // The member's machine cannot read the admin's snapshot, nor through
        // its own snapshot a chunk it neither holds nor references.
        let err = read_back(&db, &store, scope, &as_member, ours.id, &[file])
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::NotFound, "{backend}: {err}");
        let admins_only = id(3);
        receive_and_store(
            &db,
            &store,
            scope,
            &admins,
            "",
            pack(&[(admins_only, b"private".to_vec())]),
        )
        .await
        .unwrap();
        let err = read_back(&db, &store, scope, &as_member, theirs.id, &[admins_only])
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::NotFound, "{backend}: {err}");
        assert!(err.to_string().contains(&admins_only.to_hex()), "{err}");

        // The same bytes uploaded by someone else are not stored again: a
        // machine of nobody holds them through the server's dedup.
        let server = agent(&db, scope, None, None).await;
        let before = chunk::Entity::find()
            .filter(chunk::Column::CompanyId.eq(scope.uuid()))
            .count(&db)
            .await
            .unwrap();
        let (added, _) = receive_and_store(
            &db,
            &store,
            scope,
            &server,
            "",
            pack(&[(admins_only, b"private".to_vec())]),
        )
        .await
        .unwrap();
        assert_eq!(added, 0, "{backend}");
        let after = chunk::Entity::find()
            .filter(chunk::Column::CompanyId.eq(scope.uuid()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(before, after, "{backend}");
        let asked = [(admins_only, digest(b"private"))];
        assert!(
            missing(&db, scope, Holder::of(&server), &asked)
                .await
                .unwrap()
                .is_empty(),
            "{backend}"
        );
    }
}
