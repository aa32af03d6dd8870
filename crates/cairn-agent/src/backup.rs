//! Backup: walk, chunk, name, ask the server what it lacks, pack and upload
//! the rest, then commit the snapshot last. Packs upload while the walk goes
//! on; memory is bounded by one pending batch and two packs in flight.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use cairn_core::ChunkId;
use cairn_core::policy::{PathFilter, Policy};
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_engine::{
    PACK_TARGET, Pack, PackBuilder, chunk_stream, encode_blob, encode_tree, sort_tree,
};
use cairn_proto::backup::v1::{
    ChunkIds, CommitSnapshotRequest, FindMissingChunksRequest, Node, NodeKind, PackHeader,
    SnapshotHeader, SnapshotStats, Tree, UploadPackRequest, commit_snapshot_request,
    upload_pack_request,
};

use crate::client::Backup;
use crate::{AgentClient, AgentState};

/// Chunks asked about in one FindMissingChunks call.
const PENDING_CHUNKS: usize = 512;
/// Plaintext bytes held while waiting for that answer.
const PENDING_BYTES: usize = 32 * 1024 * 1024;
/// Bytes per upload message.
const FRAME: usize = 2 * 1024 * 1024;

#[derive(Debug, Default, Clone)]
pub struct BackupSummary {
    pub snapshot_id: String,
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// Chunks the snapshot references.
    pub chunks: u64,
    /// Chunks this run uploaded (new to the company).
    pub chunks_uploaded: u64,
    /// Bytes this run uploaded (compressed and encrypted).
    pub bytes_uploaded: u64,
}

/// What a running backup reports, and how it is asked to stop early.
pub trait BackupEvents: Send + Sync {
    /// A pack of `bytes` reached the server and is committed there.
    fn pack_uploaded(&self, _bytes: u64) {}
    /// Checked before each file: true stops the backup without a snapshot.
    fn should_stop(&self) -> bool {
        false
    }
}

struct Quiet;

impl BackupEvents for Quiet {}

/// Backs `paths` up and commits a snapshot.
pub async fn backup(state: &AgentState, paths: &[PathBuf]) -> anyhow::Result<BackupSummary> {
    backup_with(state, paths, Arc::new(Quiet)).await
}

/// Backs up the paths of the agent's policy (`~` is `home`).
pub async fn backup_policy_paths(
    state: &AgentState,
    home: Option<&Path>,
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    let client = AgentClient::connect(state).await?;
    let checked = crate::policy::check_in(&client, 0).await?;
    let paths = crate::policy::paths(&checked.policy, home);
    if paths.is_empty() {
        let err = anyhow::anyhow!(
            "none of the policy's paths ({}) exist on this machine",
            checked.policy.include_paths.join(", ")
        );
        crate::policy::report(&client, &Err(anyhow::anyhow!("{err}"))).await;
        return Err(err);
    }
    run_and_report(state, &client, &paths, &checked.policy, events).await
}

/// [`backup`], reporting to `events`. The group's policy is fetched first:
/// its exclusions and upload limit apply to `paths`. A stopped backup commits
/// no snapshot; the packs it uploaded are reused by the next run.
pub async fn backup_with(
    state: &AgentState,
    paths: &[PathBuf],
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    if paths.is_empty() {
        anyhow::bail!("name at least one path to back up");
    }
    let client = AgentClient::connect(state).await?;
    let checked = crate::policy::check_in(&client, 0).await?;
    run_and_report(state, &client, paths, &checked.policy, events).await
}

async fn run_and_report(
    state: &AgentState,
    client: &AgentClient,
    paths: &[PathBuf],
    policy: &Policy,
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    let result = run(state, client, paths, policy, events).await;
    // A completed backup is recorded by its snapshot's commit.
    if let Err(err) = &result {
        crate::policy::report(client, &Err(anyhow::anyhow!("{err:#}"))).await;
    }
    result
}

async fn run(
    state: &AgentState,
    client: &AgentClient,
    paths: &[PathBuf],
    policy: &Policy,
    events: Arc<dyn BackupEvents>,
) -> anyhow::Result<BackupSummary> {
    let started_at = cairn_core::unix_now();
    let filter = policy
        .filter()
        .map_err(|e| anyhow::anyhow!("the policy's patterns: {e}"))?;
    let key = state.data_key()?;
    let (pack_tx, pack_rx) = mpsc::channel::<Pack>(2);
    let uploader = tokio::spawn(upload_packs(
        client.backup.clone(),
        pack_rx,
        events.clone(),
        policy.bandwidth_kbps,
    ));

    let mut absolute = Vec::new();
    for path in paths {
        absolute.push(
            fs::canonicalize(path).with_context(|| format!("cannot back up {}", path.display()))?,
        );
    }
    let walk_paths = absolute.clone();
    let handle = Handle::current();
    let backup_client = client.backup.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let mut walker = Walker::new(key, backup_client, handle, pack_tx, events, filter);
        let root = walker.root(&walk_paths)?;
        walker.flush()?;
        Ok::<_, anyhow::Error>((root, walker.summary, walker.referenced))
    })
    .await
    .context("the backup walk stopped")?;
    // Every pack must be stored before the snapshot that needs it.
    let uploaded = uploader.await.context("the uploader stopped")?;
    // An upload failure stops the walk too: report the cause, not the symptom.
    let (chunks_uploaded, bytes_uploaded) = uploaded?;
    let (root, mut summary, referenced) = walked?;
    summary.chunks_uploaded = chunks_uploaded;
    summary.bytes_uploaded = bytes_uploaded;
    summary.chunks = referenced.len() as u64;

    let header = SnapshotHeader {
        tree_id: root.0.to_vec(),
        hostname: state.hostname.clone(),
        paths: absolute.iter().map(|p| p.display().to_string()).collect(),
        started_at,
        finished_at: cairn_core::unix_now(),
        stats: Some(SnapshotStats {
            files: summary.files,
            dirs: summary.dirs,
            bytes: summary.bytes,
        }),
    };
    let ids: Vec<Vec<u8>> = referenced.into_iter().map(|id| id.0.to_vec()).collect();
    let mut messages = vec![CommitSnapshotRequest {
        part: Some(commit_snapshot_request::Part::Header(header)),
    }];
    for batch in ids.chunks(10_000) {
        messages.push(CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds {
                ids: batch.to_vec(),
            })),
        });
    }
    let snapshot = client
        .backup
        .clone()
        .commit_snapshot(futures::stream::iter(messages))
        .await
        .map_err(|s| anyhow::anyhow!("the snapshot was not committed: {}", s.message()))?
        .into_inner()
        .snapshot
        .context("the server returned no snapshot")?;
    summary.snapshot_id = snapshot.snapshot_id;
    Ok(summary)
}

async fn upload_packs(
    client: Backup,
    mut packs: mpsc::Receiver<Pack>,
    events: Arc<dyn BackupEvents>,
    bandwidth_kbps: i64,
) -> anyhow::Result<(u64, u64)> {
    let (mut chunks, mut bytes) = (0u64, 0u64);
    let started = tokio::time::Instant::now();
    while let Some(pack) = packs.recv().await {
        // Keep the average upload rate under the policy's limit.
        if bandwidth_kbps > 0 {
            let allowed = Duration::from_secs_f64(bytes as f64 / (bandwidth_kbps as f64 * 1024.0));
            tokio::time::sleep_until(started + allowed).await;
        }
        let size = pack.bytes.len() as u64;
        let mut messages = vec![UploadPackRequest {
            part: Some(upload_pack_request::Part::Header(PackHeader {
                pack_id: pack.id.0.to_vec(),
                size,
                chunks: pack.chunks,
            })),
        }];
        for frame in pack.bytes.chunks(FRAME) {
            messages.push(UploadPackRequest {
                part: Some(upload_pack_request::Part::Data(frame.to_vec())),
            });
        }
        let added = client
            .clone()
            .upload_pack(futures::stream::iter(messages))
            .await
            .map_err(|s| match s.code() {
                tonic::Code::ResourceExhausted => anyhow::anyhow!("{}", s.message()),
                _ => anyhow::anyhow!("pack upload failed: {}", s.message()),
            })?
            .into_inner()
            .chunks_added;
        chunks += u64::from(added);
        bytes += size;
        events.pack_uploaded(size);
    }
    Ok((chunks, bytes))
}

struct Walker {
    key: DataKey,
    ids: ChunkIdKey,
    client: Backup,
    handle: Handle,
    packs: mpsc::Sender<Pack>,
    builder: PackBuilder,
    /// Chunks already handled in this run.
    seen: HashSet<ChunkId>,
    pending: Vec<(ChunkId, Vec<u8>)>,
    pending_bytes: usize,
    referenced: BTreeSet<ChunkId>,
    summary: BackupSummary,
    events: Arc<dyn BackupEvents>,
    filter: PathFilter,
}

impl Walker {
    fn new(
        key: DataKey,
        client: Backup,
        handle: Handle,
        packs: mpsc::Sender<Pack>,
        events: Arc<dyn BackupEvents>,
        filter: PathFilter,
    ) -> Walker {
        Walker {
            ids: key.chunk_id_key(),
            key,
            client,
            handle,
            packs,
            builder: PackBuilder::new(PACK_TARGET),
            seen: HashSet::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            referenced: BTreeSet::new(),
            summary: BackupSummary::default(),
            events,
            filter,
        }
    }

    /// The root tree: one entry per backed-up path, named by its last component.
    fn root(&mut self, paths: &[PathBuf]) -> anyhow::Result<ChunkId> {
        let mut tree = Tree::default();
        let mut names = HashSet::new();
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.as_bytes().to_vec())
                .unwrap_or_else(|| b"root".to_vec());
            if !names.insert(name.clone()) {
                anyhow::bail!(
                    "two paths share the name {}",
                    String::from_utf8_lossy(&name)
                );
            }
            tree.nodes.push(self.node(path, name)?);
        }
        self.store_tree(tree)
    }

    fn store_tree(&mut self, mut tree: Tree) -> anyhow::Result<ChunkId> {
        sort_tree(&mut tree);
        self.add_chunk(encode_tree(&tree))
    }

    fn dir(&mut self, path: &Path) -> anyhow::Result<ChunkId> {
        let mut entries: Vec<_> = fs::read_dir(path)
            .with_context(|| format!("cannot read directory {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot read directory {}", path.display()))?;
        entries.sort_by_key(|e| e.file_name());
        let mut tree = Tree::default();
        for entry in entries {
            let name = entry.file_name().as_bytes().to_vec();
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let kept = if is_dir {
                self.filter.keeps_dir(&path)
            } else {
                self.filter.keeps_file(&path)
            };
            if !kept {
                continue;
            }
            if let Some(node) = self.node_if_supported(&path, name)? {
                tree.nodes.push(node);
            }
        }
        self.store_tree(tree)
    }

    fn node(&mut self, path: &Path, name: Vec<u8>) -> anyhow::Result<Node> {
        self.node_if_supported(path, name)?
            .with_context(|| format!("{} is not a file, directory or symlink", path.display()))
    }

    /// Files, directories and symlinks; sockets, fifos and devices are skipped.
    fn node_if_supported(&mut self, path: &Path, name: Vec<u8>) -> anyhow::Result<Option<Node>> {
        let meta = fs::symlink_metadata(path)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        let mut node = Node {
            name,
            mode: meta.mode() & 0o7777,
            mtime_secs: meta.mtime(),
            mtime_nanos: meta.mtime_nsec() as u32,
            ..Node::default()
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            node.kind = NodeKind::Dir as i32;
            node.subtree = self.dir(path)?.0.to_vec();
            self.summary.dirs += 1;
        } else if kind.is_file() {
            if self.events.should_stop() {
                anyhow::bail!(
                    "backup interrupted before {}; no snapshot was saved",
                    path.display()
                );
            }
            node.kind = NodeKind::File as i32;
            let file =
                fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            let mut size = 0u64;
            for chunk in chunk_stream(std::io::BufReader::with_capacity(1 << 20, file)) {
                let chunk = chunk.with_context(|| format!("cannot read {}", path.display()))?;
                size += chunk.len() as u64;
                node.content.push(self.add_chunk(chunk)?.0.to_vec());
            }
            node.size = size;
            self.summary.files += 1;
            self.summary.bytes += size;
        } else if kind.is_symlink() {
            node.kind = NodeKind::Symlink as i32;
            node.link_target = fs::read_link(path)
                .with_context(|| format!("cannot read link {}", path.display()))?
                .as_os_str()
                .as_bytes()
                .to_vec();
        } else {
            return Ok(None);
        }
        Ok(Some(node))
    }

    fn add_chunk(&mut self, data: Vec<u8>) -> anyhow::Result<ChunkId> {
        let id = self.ids.chunk_id(&data);
        self.referenced.insert(id);
        if self.seen.insert(id) {
            self.pending_bytes += data.len();
            self.pending.push((id, data));
            if self.pending.len() >= PENDING_CHUNKS || self.pending_bytes >= PENDING_BYTES {
                self.resolve_pending()?;
            }
        }
        Ok(id)
    }

    /// Asks which pending chunks the company lacks and packs those.
    fn resolve_pending(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let request = FindMissingChunksRequest {
            chunk_ids: self.pending.iter().map(|(id, _)| id.0.to_vec()).collect(),
        };
        let mut client = self.client.clone();
        let missing: HashSet<Vec<u8>> = self
            .handle
            .block_on(client.find_missing_chunks(request))
            .map_err(|s| {
                anyhow::anyhow!("cannot ask the server for missing chunks: {}", s.message())
            })?
            .into_inner()
            .missing
            .into_iter()
            .collect();
        for (id, data) in std::mem::take(&mut self.pending) {
            if missing.contains(id.0.as_slice()) {
                self.builder.add(encode_blob(&self.key, &self.ids, &data)?);
                if self.builder.is_full() {
                    self.send_pack()?;
                }
            }
        }
        self.pending_bytes = 0;
        Ok(())
    }

    fn send_pack(&mut self) -> anyhow::Result<()> {
        let pack = std::mem::replace(&mut self.builder, PackBuilder::new(PACK_TARGET)).finish();
        self.packs
            .blocking_send(pack)
            .map_err(|_| anyhow::anyhow!("the uploader stopped"))
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.resolve_pending()?;
        if !self.builder.is_empty() {
            self.send_pack()?;
        }
        Ok(())
    }
}
