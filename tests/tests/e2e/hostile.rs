//! Restoring what someone else wrote: snapshots crafted the way a member's
//! or a compromised machine could (trees and chunks sealed with the
//! company's key, uploaded and committed through the real server) cannot
//! hurt the machine that restores them. Each bad entry fails alone, named;
//! the rest restores.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cairn_agent::{AgentState, PartialRestore, RestoreOptions};
use cairn_core::ChunkId;
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_e2e::{Cluster, backends};
use cairn_engine::{MAX_TREE_NODES, encode_blob, encode_tree};
use cairn_proto::backup::v1::{
    ChunkIds, ChunkRecord, CommitSnapshotRequest, Node, NodeKind, PackHeader, SnapshotHeader,
    SnapshotStats, Tree, UploadPackRequest, commit_snapshot_request, upload_pack_request,
};

/// Crafts snapshots as a machine of the company can: any tree, any chunk.
struct Forger {
    key: DataKey,
    ids: ChunkIdKey,
    client: cairn_agent::Backup,
    /// Sealed chunks by id, uploaded with the next commit.
    blobs: BTreeMap<ChunkId, (Vec<u8>, u32)>,
}

impl Forger {
    async fn new(state: &AgentState) -> Forger {
        let key = state.data_key().unwrap();
        Forger {
            ids: key.chunk_id_key(),
            key,
            client: cairn_agent::AgentClient::connect(state)
                .await
                .unwrap()
                .backup,
            blobs: BTreeMap::new(),
        }
    }

    fn chunk(&mut self, plain: &[u8]) -> ChunkId {
        let blob = encode_blob(&self.key, &self.ids, plain).unwrap();
        self.blobs.insert(blob.id, (blob.stored, blob.raw_length));
        blob.id
    }

    fn tree(&mut self, nodes: Vec<Node>) -> ChunkId {
        self.chunk(&encode_tree(&Tree { nodes }))
    }

    /// Uploads the chunks and commits a snapshot of `root` whose header
    /// records `files` and `dirs`.
    async fn commit(&mut self, root: ChunkId, files: u64, dirs: u64) -> String {
        let blobs = std::mem::take(&mut self.blobs);
        let (mut body, mut records) = (Vec::new(), Vec::new());
        for (id, (stored, raw_length)) in &blobs {
            records.push(ChunkRecord {
                id: id.0.to_vec(),
                offset: body.len() as u64,
                length: stored.len() as u32,
                raw_length: *raw_length,
            });
            body.extend_from_slice(stored);
        }
        let mut parts = vec![UploadPackRequest {
            part: Some(upload_pack_request::Part::Header(PackHeader {
                pack_id: Vec::new(),
                size: body.len() as u64,
                chunks: records,
            })),
        }];
        for frame in body.chunks(1 << 20) {
            parts.push(UploadPackRequest {
                part: Some(upload_pack_request::Part::Data(frame.to_vec().into())),
            });
        }
        self.client
            .upload_pack(futures::stream::iter(parts))
            .await
            .unwrap();
        let ids: Vec<Vec<u8>> = blobs.keys().map(|id| id.0.to_vec()).collect();
        let mut commit = vec![CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::Header(SnapshotHeader {
                tree_id: root.0.to_vec(),
                hostname: "laptop-7".into(),
                paths: vec!["/home/mallory".into()],
                started_at: 1,
                finished_at: 2,
                stats: Some(SnapshotStats {
                    files,
                    dirs,
                    bytes: 0,
                }),
            })),
        }];
        for ids in ids.chunks(10_000) {
            commit.push(CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds {
                    ids: ids.to_vec(),
                })),
            });
        }
        self.client
            .commit_snapshot(futures::stream::iter(commit))
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap()
            .snapshot_id
    }
}

fn file(name: &[u8], size: u64, content: &[ChunkId], mode: u32) -> Node {
    Node {
        name: name.to_vec(),
        kind: NodeKind::File as i32,
        mode,
        size,
        content: content.iter().map(|id| id.0.to_vec()).collect(),
        ..Node::default()
    }
}

fn dir(name: &str, subtree: ChunkId, mode: u32) -> Node {
    Node {
        name: name.as_bytes().to_vec(),
        kind: NodeKind::Dir as i32,
        mode,
        subtree: subtree.0.to_vec(),
        ..Node::default()
    }
}

/// A restore that must end partial: its message, which must name no raw
/// control character.
async fn partial(state: &AgentState, snapshot: &str, target: &Path) -> String {
    partial_with(state, snapshot, target, &RestoreOptions::default()).await
}

async fn partial_with(
    state: &AgentState,
    snapshot: &str,
    target: &Path,
    options: &RestoreOptions,
) -> String {
    let err = cairn_agent::restore_with(
        state,
        snapshot,
        target,
        options,
        std::sync::Arc::new(cairn_agent::Quiet),
    )
    .await
    .unwrap_err();
    assert!(err.is::<PartialRestore>(), "{err:#}");
    let message = format!("{err:#}");
    assert!(
        !message.chars().any(|c| c.is_control() && c != '\n'),
        "{message:?}"
    );
    message
}

fn count_dirs(root: &Path) -> usize {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_dir())
        .count()
        - 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_snapshot_cannot_hurt_the_restoring_machine() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("Hotel", "US", "h@hotel.example", 2).await;
        let state_dir = cluster.enroll(&session, "hotel-1").await;
        let state = AgentState::load(&state_dir).unwrap();
        let mut forger = Forger::new(&state).await;
        let ok = forger.chunk(b"the honest file\n");
        let honest = || file(b"ok.txt", 16, &[ok], 0o644);

        // A tree of a million and more empty entries: two bytes each.
        let bomb = forger.chunk(&[0x0a, 0x00].repeat(MAX_TREE_NODES + 10));
        let root = forger.tree(vec![dir("bomb", bomb, 0o755), honest()]);
        let snapshot = forger.commit(root, 1, 1).await;
        let target = cluster.path("bomb");
        let message = partial(&state, &snapshot, &target).await;
        assert!(message.contains("more than 1048576 entries"), "{message}");
        assert!(message.contains("unsafe entry name"), "{message}");
        assert_eq!(
            fs::read(target.join("ok.txt")).unwrap(),
            b"the honest file\n"
        );

        // One subtree named thirty times a level: 931 directories from a
        // few hundred bytes, where the header records two.
        let empty = forger.tree(Vec::new());
        let fan = |f: &mut Forger, below: ChunkId| {
            f.tree(
                (0..30)
                    .map(|i| dir(&format!("d{i:02}"), below, 0o755))
                    .collect(),
            )
        };
        let level2 = fan(&mut forger, empty);
        let level1 = fan(&mut forger, level2);
        let root = forger.tree(vec![dir("fan", level1, 0o755), honest()]);
        let snapshot = forger.commit(root, 1, 2).await;
        let target = cluster.path("fan");
        let message = partial(&state, &snapshot, &target).await;
        assert!(
            message.contains("more directories than the 2 its header records"),
            "{message}"
        );
        assert!(
            count_dirs(&target) <= 2,
            "{} directories",
            count_dirs(&target)
        );
        assert_eq!(
            fs::read(target.join("ok.txt")).unwrap(),
            b"the honest file\n"
        );

        // 300 levels deep: the levels past the limit are not restored.
        let mut below = forger.tree(Vec::new());
        for _ in 0..300 {
            below = forger.tree(vec![dir("d", below, 0o755)]);
        }
        let root = forger.tree(vec![dir("deep", below, 0o755), honest()]);
        let snapshot = forger.commit(root, 1, 301).await;
        let target = cluster.path("deep");
        let message = partial(&state, &snapshot, &target).await;
        let limit = cairn_agent::MAX_DEPTH;
        assert!(
            message.contains(&format!("deeper than {limit} levels")),
            "{message}"
        );
        assert_eq!(count_dirs(&target), limit);

        // Files whose chunks hold more than their recorded size, a size no
        // chunk count can make, bad names, and a name that would drive the
        // terminal: each fails alone, named and escaped.
        let eight: Vec<ChunkId> = [b"aaaaaaaa", b"bbbbbbbb", b"cccccccc"]
            .iter()
            .map(|part| forger.chunk(*part))
            .collect();
        let mib = forger.chunk(&vec![b'x'; 1 << 20]);
        let root = forger.tree(vec![
            file(b"claims-10.txt", 10, &eight, 0o644),
            file(b"claims-10.bin", 10, &[mib], 0o644),
            file(b"claims-1tb.bin", 1 << 40, &[ok], 0o644),
            file(b"..", 16, &[ok], 0o644),
            file(b"a/b", 16, &[ok], 0o644),
            file(b"evil\x1b]0;pwned\x07\x1b[2J\nok", 16, &[ok, ok], 0o644),
            honest(),
        ]);
        let snapshot = forger.commit(root, 7, 0).await;
        let target = cluster.path("sizes");
        let message = partial(&state, &snapshot, &target).await;
        assert!(
            message.starts_with("6 items could not be restored"),
            "{message}"
        );
        assert!(
            message
                .contains("claims-10.txt: its chunks hold more than its recorded size of 10 bytes"),
            "{message}"
        );
        assert!(message.contains("claims-10.bin: chunk"), "{message}");
        assert!(
            message.contains("bytes, the most its place allows (its file's recorded size"),
            "{message}"
        );
        assert!(
            message.contains(
                "claims-1tb.bin: its recorded size (1099511627776 bytes) does not fit its 1 chunks"
            ),
            "{message}"
        );
        assert!(
            message.contains(r"evil\x1b]0;pwned\x07\x1b[2J\x0aok"),
            "{message}"
        );
        for gone in ["claims-10.txt", "claims-10.bin", "claims-1tb.bin"] {
            assert!(!target.join(gone).exists(), "{gone}");
        }
        assert_eq!(
            fs::read(target.join("ok.txt")).unwrap(),
            b"the honest file\n"
        );

        // Setuid, setgid, sticky and world-writable bits only when asked for.
        let sub = forger.tree(Vec::new());
        let root = forger.tree(vec![
            file(b"suid", 16, &[ok], 0o4755),
            file(b"sgid", 16, &[ok], 0o2711),
            file(b"open", 16, &[ok], 0o666),
            dir("tmp", sub, 0o1777),
        ]);
        let snapshot = forger.commit(root, 3, 1).await;
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o7777;
        let target = cluster.path("modes");
        cairn_agent::restore(&state, &snapshot, &target)
            .await
            .unwrap();
        let restored: Vec<u32> = ["suid", "sgid", "open", "tmp"]
            .iter()
            .map(|name| mode(&target.join(name)))
            .collect();
        assert_eq!(restored, [0o755, 0o711, 0o664, 0o775]);
        let target = cluster.path("modes-kept");
        let keep = RestoreOptions {
            keep_special_modes: true,
            ..RestoreOptions::default()
        };
        cairn_agent::restore_with(
            &state,
            &snapshot,
            &target,
            &keep,
            std::sync::Arc::new(cairn_agent::Quiet),
        )
        .await
        .unwrap();
        let kept: Vec<u32> = ["suid", "sgid", "open", "tmp"]
            .iter()
            .map(|name| mode(&target.join(name)))
            .collect();
        assert_eq!(kept, [0o4755, 0o2711, 0o666, 0o1777]);

        // The command line: the same message, and the exit status of a
        // partial restore.
        let again = cluster.path("sizes-cli");
        let root = forger.tree(vec![file(b"claims-10.txt", 10, &eight, 0o644), honest()]);
        let snapshot = forger.commit(root, 2, 0).await;
        let err = cluster
            .agent(
                &state_dir,
                &["restore", &snapshot, "--target", again.to_str().unwrap()],
            )
            .await
            .unwrap_err();
        assert!(err.is::<PartialRestore>(), "{err:#}");
        assert_eq!(PartialRestore::EXIT_CODE, 3);
        let _ = partial_with;
        cluster.stop().await;
    }
}
