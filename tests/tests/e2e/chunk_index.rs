//! The chunk index across uploads: a pack sent again adds nothing, a chunk
//! that arrives again with other bytes is stored as a further copy (and
//! reported) while one with the same bytes is not, the machine restores the
//! copy it sent last, and the counts the server reports say which copies
//! were new.

#![allow(clippy::unwrap_used)]

use cairn_core::Region;
use cairn_e2e::{Cluster, backends};
use cairn_proto::backup::v1::{
    ChunkIds, ChunkRecord, CommitSnapshotRequest, FindMissingChunksRequest, PackHeader,
    ReadChunksRequest, SnapshotHeader, UploadPackRequest, UploadPackResponse,
    commit_snapshot_request, upload_pack_request,
};

/// Commits a snapshot referencing the chunks `ids` (id bytes, the first the
/// root tree) and returns its id.
async fn commit(client: &mut cairn_agent::Backup, ids: &[u8]) -> String {
    let mut sorted: Vec<Vec<u8>> = ids.iter().map(|i| vec![*i; 32]).collect();
    sorted.sort();
    let parts = vec![
        CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::Header(SnapshotHeader {
                tree_id: vec![ids[0]; 32],
                hostname: "index-1".into(),
                paths: vec!["/data".into()],
                ..Default::default()
            })),
        },
        CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds {
                ids: sorted,
            })),
        },
    ];
    client
        .commit_snapshot(futures::stream::iter(parts))
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap()
        .snapshot_id
}

/// The chunks `ids` (id bytes) of `snapshot` as read back, by id byte.
async fn read(client: &mut cairn_agent::Backup, snapshot: &str, ids: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut stream = client
        .read_chunks(ReadChunksRequest {
            chunk_ids: ids.iter().map(|i| vec![*i; 32]).collect(),
            snapshot_id: snapshot.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut read = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        read.extend(
            message
                .chunks
                .into_iter()
                .map(|c| (c.id[0], c.data.to_vec())),
        );
    }
    read.sort();
    read
}

/// A pack of `chunks` (id byte, stored bytes), laid end to end.
fn pack(chunks: &[(u8, &[u8])]) -> (PackHeader, Vec<u8>) {
    let mut body = Vec::new();
    let mut records = Vec::new();
    for (id, data) in chunks {
        records.push(ChunkRecord {
            id: vec![*id; 32],
            offset: body.len() as u64,
            length: data.len() as u32,
            raw_length: data.len() as u32,
        });
        body.extend_from_slice(data);
    }
    let header = PackHeader {
        pack_id: blake3::hash(&body).as_bytes().to_vec(),
        size: body.len() as u64,
        chunks: records,
    };
    (header, body)
}

async fn upload(client: &mut cairn_agent::Backup, chunks: &[(u8, &[u8])]) -> u32 {
    let (header, body) = pack(chunks);
    send(client, header, body).await.chunks_added
}

async fn send(
    client: &mut cairn_agent::Backup,
    header: PackHeader,
    body: Vec<u8>,
) -> UploadPackResponse {
    let parts = vec![
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Header(header)),
        },
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Data(body.into())),
        },
    ];
    client
        .upload_pack(futures::stream::iter(parts))
        .await
        .unwrap()
        .into_inner()
}

/// A pack sent without an id is named by the hash of its bytes, as if the
/// agent had named it: a second upload of it, named or not, is the same pack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnamed_pack_is_named_by_its_hash() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("Unnamed", "US", "u@unnamed.com", 2).await;
        let mut client = cluster.backup_client(&session, "unnamed-1").await;
        let chunks: &[(u8, &[u8])] = &[(7, b"seven"), (8, b"eight, a little longer")];
        let (named, body) = pack(chunks);
        let unnamed = PackHeader {
            pack_id: Vec::new(),
            ..named.clone()
        };

        let first = send(&mut client, unnamed.clone(), body.clone()).await;
        assert_eq!(first.pack_id, named.pack_id, "{backend:?}");
        assert_eq!(first.chunks_added, 2, "{backend:?}");
        for header in [unnamed, named.clone()] {
            let again = send(&mut client, header, body.clone()).await;
            assert_eq!(again.pack_id, named.pack_id, "{backend:?}");
            assert_eq!(again.chunks_added, 0, "{backend:?}");
        }

        let snapshot = commit(&mut client, &[7, 8]).await;
        assert_eq!(
            read(&mut client, &snapshot, &[8]).await,
            vec![(8, b"eight, a little longer".to_vec())],
            "{backend:?}"
        );
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_sent_again_with_other_bytes_is_a_further_copy() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, company) = cluster.signup("Index", "US", "i@index.com", 2).await;
        let mut client = cluster.backup_client(&session, "index-1").await;

        let first: &[(u8, &[u8])] = &[(1, b"first one"), (2, b"second, as first stored")];
        assert_eq!(upload(&mut client, first).await, 2, "{backend:?}");
        // The same pack again, as a resumed backup would send it.
        assert_eq!(upload(&mut client, first).await, 0, "{backend:?}");
        // Chunk 2 again with other bytes in another pack (a further copy),
        // chunk 3 twice within it (the first record counts).
        let second: &[(u8, &[u8])] = &[
            (2, b"second, stored again"),
            (3, b"third"),
            (3, b"third, repeated"),
        ];
        assert_eq!(upload(&mut client, second).await, 2, "{backend:?}");
        // Chunk 1 with the bytes already stored: nothing new.
        assert_eq!(
            upload(&mut client, &[(1, b"first one")]).await,
            0,
            "{backend:?}"
        );

        let missing = client
            .find_missing_chunks(FindMissingChunksRequest {
                chunk_ids: (1..=4).map(|i| vec![i; 32]).collect(),
                digests: Vec::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .missing;
        assert_eq!(missing, vec![vec![4u8; 32]], "{backend:?}");

        // The machine restores the copy it sent last.
        let snapshot = commit(&mut client, &[2, 3]).await;
        assert_eq!(
            read(&mut client, &snapshot, &[2, 3]).await,
            vec![
                (2, b"second, stored again".to_vec()),
                (3, b"third".to_vec())
            ],
            "{backend:?}"
        );
        let conflicts: Vec<_> = cluster
            .audit_log(Region::Us, &company)
            .await
            .into_iter()
            .filter(|e| e.action == "chunk.conflict")
            .collect();
        assert_eq!(conflicts.len(), 1, "{backend:?}");
        assert!(
            conflicts[0]
                .field
                .contains(&cairn_core::ChunkId([2; 32]).to_hex()[..32]),
            "{backend:?}: {}",
            conflicts[0].field
        );
        cluster.stop().await;
    }
}

/// Uploads that arrive at once all land: each pack's index commit waits for
/// the one before it instead of failing with "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_all_land() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("Many", "US", "m@many.com", 2).await;
        let client = cluster.backup_client(&session, "many-1").await;
        let uploads = (0..16u8).map(|n| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let data = vec![n; 64 * 1024];
                upload(&mut client, &[(n, &data[..]), (n + 100, b"small")]).await
            })
        });
        for added in futures::future::join_all(uploads).await {
            assert_eq!(added.unwrap(), 2, "{backend:?}");
        }
        cluster.stop().await;
    }
}
