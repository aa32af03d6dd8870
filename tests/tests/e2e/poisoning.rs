//! Inside a company, one person's machine can neither spoil nor reach
//! another person's backups through the shared chunk store.
//!
//! Dedup poisoning: a member's machine stores garbage under the ids of an
//! admin's file and of an empty directory (ids anyone in the company can
//! compute with the data key) before the admin backs them up. The admin's
//! backup meets the forged copies, stores its own, and restores the right
//! bytes; the admins are told. Reads follow visibility: the member's machine
//! cannot learn that the admin holds a file, read it by id, or commit a
//! snapshot pointing at the admin's tree to restore it.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use cairn_core::{ChunkId, Reason, Region};
use cairn_e2e::{Cluster, backends, noise};
use cairn_entity::regional::outbox;
use cairn_proto::backup::v1::{
    ChunkIds, ChunkRecord, CommitSnapshotRequest, FindMissingChunksRequest, GetSnapshotRequest,
    PackHeader, ReadChunksRequest, SnapshotHeader, Tree, UploadPackRequest,
    commit_snapshot_request, upload_pack_request,
};

const PASSWORD: &str = "correct horse battery";

/// Invites `email` as a member of "Poison", accepts, logs in.
async fn member(cluster: &Cluster, owner: &Path, email: &str) -> PathBuf {
    cluster
        .ctl(owner, &["users", "invite", email, "--role", "member"])
        .await
        .unwrap();
    let code = cluster
        .mailed_code(Region::Us, email, "Poison invites you")
        .await;
    let session = cluster.path(&format!("{email}.session"));
    cluster
        .ctl(
            &session,
            &[
                "invitation",
                "accept",
                "--code",
                &code,
                "--name",
                "Mallory Member",
                "--username",
                "mallory",
                "--password",
                PASSWORD,
                "--i-am-13-or-older",
            ],
        )
        .await
        .unwrap();
    cluster
        .ctl(
            &session,
            &["login", "--email", email, "--password", PASSWORD],
        )
        .await
        .unwrap();
    session
}

/// Uploads one pack holding `garbage` under each of `ids`.
async fn upload_garbage(client: &mut cairn_agent::Backup, ids: &[ChunkId]) {
    let mut ids = ids.to_vec();
    ids.sort();
    let mut body = Vec::new();
    let mut chunks = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let garbage = vec![0xEE ^ n as u8; 60];
        chunks.push(ChunkRecord {
            id: id.0.to_vec(),
            offset: body.len() as u64,
            length: garbage.len() as u32,
            raw_length: 0,
        });
        body.extend(garbage);
    }
    let parts = vec![
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Header(PackHeader {
                pack_id: Vec::new(),
                size: body.len() as u64,
                chunks,
            })),
        },
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Data(body.into())),
        },
    ];
    client
        .upload_pack(futures::stream::iter(parts))
        .await
        .unwrap();
}

/// The ids of `content`'s chunks and of an empty directory's tree, as any
/// machine of the company computes them.
fn ids_of(state: &cairn_agent::AgentState, content: &[u8]) -> (Vec<ChunkId>, ChunkId) {
    let ids = state.data_key().unwrap().chunk_id_key();
    let file = cairn_engine::chunk_slice(content)
        .map(|c| ids.chunk_id(c))
        .collect();
    let empty_dir = ids.chunk_id(&cairn_engine::encode_tree(&Tree::default()));
    (file, empty_dir)
}

/// The admin's data: a ledger of a few chunks, a note and an empty directory.
fn admins_data(cluster: &Cluster) -> (PathBuf, Vec<u8>) {
    let data = cluster.path("admin-data");
    fs::create_dir_all(data.join("archive/empty")).unwrap();
    let ledger = noise(3 << 20, 26);
    fs::write(data.join("ledger.xlsx"), &ledger).unwrap();
    fs::write(data.join("archive/note.txt"), b"board meeting on friday\n").unwrap();
    (data, ledger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_chunks_of_a_colleague_spoil_no_backup() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (owner, company) = cluster.signup("Poison", "US", "a@poison.example", 3).await;
        let mallory = member(&cluster, &owner, "m@poison.example").await;
        let admin_state = cluster.enroll(&owner, "admin-laptop").await;
        let admin_state = cairn_agent::AgentState::load(&admin_state).unwrap();
        let mallory_state = cluster.enroll(&mallory, "mallory-laptop").await;
        let mallory_state = cairn_agent::AgentState::load(&mallory_state).unwrap();
        let (data, ledger) = admins_data(&cluster);

        // The member's machine stores garbage under the ids first.
        let (file_ids, empty_dir) = ids_of(&mallory_state, &ledger);
        assert!(file_ids.len() > 1, "the ledger is a few chunks");
        let mut forged = file_ids.clone();
        forged.push(empty_dir);
        let mut mallory_client = cairn_agent::AgentClient::connect(&mallory_state)
            .await
            .unwrap()
            .backup;
        upload_garbage(&mut mallory_client, &forged).await;

        // The admin's backup succeeds and its restore is right.
        let backed_up = cairn_agent::backup(&admin_state, std::slice::from_ref(&data))
            .await
            .unwrap();
        let target = cluster.path("restored");
        cairn_agent::restore(&admin_state, &backed_up.snapshot_id, &target)
            .await
            .unwrap();
        assert_eq!(
            fs::read(target.join("admin-data/ledger.xlsx")).unwrap(),
            ledger,
            "{backend:?}"
        );
        assert_eq!(
            fs::read(target.join("admin-data/archive/note.txt")).unwrap(),
            b"board meeting on friday\n",
            "{backend:?}"
        );
        assert!(
            target.join("admin-data/archive/empty").is_dir(),
            "{backend:?}"
        );
        // A later backup (nothing changed) commits, and restores as well.
        let again = cairn_agent::backup(&admin_state, std::slice::from_ref(&data))
            .await
            .unwrap();
        let target = cluster.path("restored-again");
        cairn_agent::restore(&admin_state, &again.snapshot_id, &target)
            .await
            .unwrap();
        assert_eq!(
            fs::read(target.join("admin-data/ledger.xlsx")).unwrap(),
            ledger,
            "{backend:?}"
        );

        // The admins were told: an audit entry naming the uploading machine,
        // and a mail to the owner.
        let conflicts: Vec<_> = cluster
            .audit_log(Region::Us, &company)
            .await
            .into_iter()
            .filter(|e| e.action == "chunk.conflict")
            .collect();
        assert!(!conflicts.is_empty(), "{backend:?}");
        let mut reported = 0;
        for entry in &conflicts {
            assert_eq!(
                entry.actor,
                format!("agent:{}", admin_state.agent_id),
                "{backend:?}"
            );
            let count = entry.field.split_whitespace().next().unwrap();
            reported += count
                .strip_prefix("chunks:")
                .unwrap()
                .parse::<usize>()
                .unwrap();
        }
        assert_eq!(reported, forged.len(), "{backend:?}: {conflicts:?}");
        let db = cluster.cell_db(Region::Us).await;
        let mails = outbox::Entity::find()
            .filter(outbox::Column::CompanyId.eq(uuid::Uuid::parse_str(&company).unwrap()))
            .filter(outbox::Column::Subject.starts_with("A machine uploaded chunks"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(mails.len(), conflicts.len(), "{backend:?}");
        assert_eq!(mails[0].to_address, "a@poison.example", "{backend:?}");
        assert!(
            mails[0].body.contains("mallory-laptop"),
            "{}",
            mails[0].body
        );
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleagues_chunks_can_be_neither_probed_read_nor_committed() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (owner, _) = cluster.signup("Poison", "US", "a@poison.example", 3).await;
        let mallory = member(&cluster, &owner, "m@poison.example").await;
        let admin_state = cluster.enroll(&owner, "admin-laptop").await;
        let admin_state = cairn_agent::AgentState::load(&admin_state).unwrap();
        let mallory_state = cluster.enroll(&mallory, "mallory-laptop").await;
        let mallory_state = cairn_agent::AgentState::load(&mallory_state).unwrap();
        let (data, ledger) = admins_data(&cluster);
        let admins = cairn_agent::backup(&admin_state, std::slice::from_ref(&data))
            .await
            .unwrap();
        let mut admin_client = cairn_agent::AgentClient::connect(&admin_state)
            .await
            .unwrap()
            .backup;
        let tree = admin_client
            .get_snapshot(GetSnapshotRequest {
                snapshot_id: admins.snapshot_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap()
            .tree_id;
        let mut client = cairn_agent::AgentClient::connect(&mallory_state)
            .await
            .unwrap()
            .backup;
        let (file_ids, _) = ids_of(&mallory_state, &ledger);
        let asked: Vec<Vec<u8>> = file_ids.iter().map(|id| id.0.to_vec()).collect();

        // Probing: the admin's chunks are "missing" to the member's machine.
        let missing = client
            .find_missing_chunks(FindMissingChunksRequest {
                chunk_ids: asked.clone(),
                digests: Vec::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .missing;
        assert_eq!(missing, asked, "{backend:?}");

        // Reading by id: refused without a snapshot, and through the
        // admin's snapshot, which the member cannot see.
        let read = |snapshot_id: String| {
            let mut client = client.clone();
            let chunk_ids = asked.clone();
            async move {
                client
                    .read_chunks(ReadChunksRequest {
                        chunk_ids,
                        snapshot_id,
                    })
                    .await
                    .map(|_| ())
            }
        };
        let refused = read(String::new()).await.unwrap_err();
        assert_eq!(
            Reason::of(&refused),
            Some(Reason::InvalidArgument),
            "{refused:?}"
        );
        let refused = read(admins.snapshot_id.clone()).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::NotFound, "{refused:?}");

        // Committing a snapshot that points at the admin's tree, to restore
        // it with the normal agent: refused as chunks not stored.
        let mut ids = asked.clone();
        ids.push(tree.clone());
        ids.sort();
        let parts = vec![
            CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::Header(SnapshotHeader {
                    tree_id: tree.clone(),
                    hostname: "mallory-laptop".into(),
                    paths: vec!["/home/mallory".into()],
                    ..Default::default()
                })),
            },
            CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds { ids })),
            },
        ];
        let refused = client
            .commit_snapshot(futures::stream::iter(parts))
            .await
            .unwrap_err();
        assert_eq!(
            Reason::of(&refused),
            Some(Reason::ChunksNotStored),
            "{refused:?}"
        );

        // The member's own backup of the same file stores it for the member
        // (the server deduplicates it) and restores.
        let own = cluster.path("mallory-data");
        fs::create_dir_all(&own).unwrap();
        fs::write(own.join("ledger-copy.xlsx"), &ledger).unwrap();
        let mine = cairn_agent::backup(&mallory_state, std::slice::from_ref(&own))
            .await
            .unwrap();
        let target = cluster.path("mallory-restored");
        cairn_agent::restore(&mallory_state, &mine.snapshot_id, &target)
            .await
            .unwrap();
        assert_eq!(
            fs::read(target.join("mallory-data/ledger-copy.xlsx")).unwrap(),
            ledger,
            "{backend:?}"
        );
        cluster.stop().await;
    }
}
