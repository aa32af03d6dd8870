//! Restore: fetch trees and chunks with ranged reads on the server, verify
//! every chunk against its id after decrypting, and recreate files, modes,
//! mtimes, symlinks and empty directories. Existing files are never
//! overwritten.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use filetime::FileTime;
use futures::StreamExt;
use tokio::runtime::Handle;

use cairn_core::{ChunkId, SnapshotId};
use cairn_crypto::{ChunkIdKey, DataKey};
use cairn_engine::{decode_blob, decode_tree};
use cairn_proto::backup::v1::{GetSnapshotRequest, Node, NodeKind, ReadChunksRequest};

use crate::client::Backup;
use crate::{AgentClient, AgentState};

/// Plaintext bytes of small files fetched together.
const BATCH_BYTES: u64 = 32 * 1024 * 1024;
/// Chunk ids per read request.
const BATCH_IDS: usize = 1000;
/// Chunks of one large file fetched per request.
const LARGE_FILE_WINDOW: usize = 8;

#[derive(Debug, Default, Clone)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
}

/// Restores snapshot `snapshot_id` into `target` (created if missing).
pub async fn restore(
    state: &AgentState,
    snapshot_id: &str,
    target: &Path,
) -> anyhow::Result<RestoreSummary> {
    let id = SnapshotId::parse(snapshot_id, "snapshot").map_err(|e| anyhow::anyhow!("{e}"))?;
    let client = AgentClient::connect(state).await?;
    let snapshot = client
        .backup
        .clone()
        .get_snapshot(GetSnapshotRequest {
            snapshot_id: id.to_string(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("snapshot {id}: {}", s.message()))?
        .into_inner()
        .snapshot
        .context("the server returned no snapshot")?;
    let root =
        ChunkId::from_slice(&snapshot.tree_id, "tree_id").map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = state.data_key()?;
    let target = target.to_owned();
    let handle = Handle::current();
    let backup = client.backup.clone();
    tokio::task::spawn_blocking(move || {
        fs::create_dir_all(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        let mut restorer = Restorer {
            ids: key.chunk_id_key(),
            key,
            client: backup,
            handle,
            summary: RestoreSummary::default(),
        };
        restorer.dir(&root, &target)?;
        Ok(restorer.summary)
    })
    .await
    .context("the restore stopped")?
}

struct Restorer {
    key: DataKey,
    ids: ChunkIdKey,
    client: Backup,
    handle: Handle,
    summary: RestoreSummary,
}

fn chunk_ids(node: &Node) -> anyhow::Result<Vec<ChunkId>> {
    node.content
        .iter()
        .map(|id| ChunkId::from_slice(id, "content").map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

impl Restorer {
    /// Fetches and verifies chunks; every id comes back or it is an error.
    fn fetch(&mut self, ids: &[ChunkId]) -> anyhow::Result<HashMap<ChunkId, Vec<u8>>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut unique: Vec<ChunkId> = ids.to_vec();
        unique.sort();
        unique.dedup();
        for batch in unique.chunks(BATCH_IDS) {
            let request = ReadChunksRequest {
                chunk_ids: batch.iter().map(|id| id.0.to_vec()).collect(),
            };
            let mut client = self.client.clone();
            let stored = self.handle.block_on(async move {
                let mut stream = client
                    .read_chunks(request)
                    .await
                    .map_err(|s| anyhow::anyhow!("cannot read chunks: {}", s.message()))?
                    .into_inner();
                let mut stored = Vec::new();
                while let Some(message) = stream.next().await {
                    let message = message
                        .map_err(|s| anyhow::anyhow!("cannot read chunks: {}", s.message()))?;
                    stored.extend(message.chunks);
                }
                Ok::<_, anyhow::Error>(stored)
            })?;
            for chunk in stored {
                let id =
                    ChunkId::from_slice(&chunk.id, "id").map_err(|e| anyhow::anyhow!("{e}"))?;
                if !batch.contains(&id) {
                    anyhow::bail!("the server sent chunk {id}, which was not asked for");
                }
                let plain = decode_blob(&self.key, &self.ids, &id, &chunk.data)
                    .with_context(|| format!("chunk {id} is damaged"))?;
                out.insert(id, plain);
            }
        }
        if let Some(missing) = unique.iter().find(|id| !out.contains_key(*id)) {
            anyhow::bail!("the server did not return chunk {missing}");
        }
        Ok(out)
    }

    fn dir(&mut self, tree_id: &ChunkId, path: &Path) -> anyhow::Result<()> {
        let bytes = self
            .fetch(std::slice::from_ref(tree_id))?
            .remove(tree_id)
            .context("tree chunk missing")?;
        let tree = decode_tree(&bytes)?;
        // Small files first, fetched in batches; then the rest one by one.
        let mut batch: Vec<&Node> = Vec::new();
        let mut batch_bytes = 0u64;
        let mut batch_ids = 0usize;
        for node in tree
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::File as i32 && n.size <= BATCH_BYTES)
        {
            if !batch.is_empty()
                && (batch_bytes + node.size > BATCH_BYTES
                    || batch_ids + node.content.len() > BATCH_IDS)
            {
                self.small_files(&batch, path)?;
                batch.clear();
                batch_bytes = 0;
                batch_ids = 0;
            }
            batch_bytes += node.size;
            batch_ids += node.content.len();
            batch.push(node);
        }
        self.small_files(&batch, path)?;
        for node in &tree.nodes {
            let child = child_path(path, &node.name)?;
            match NodeKind::try_from(node.kind) {
                Ok(NodeKind::File) if node.size > BATCH_BYTES => self.large_file(node, &child)?,
                Ok(NodeKind::File) => {}
                Ok(NodeKind::Dir) => {
                    let subtree = ChunkId::from_slice(&node.subtree, "subtree")
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    fs::create_dir(&child)
                        .with_context(|| format!("cannot create {}", child.display()))?;
                    self.dir(&subtree, &child)?;
                    set_meta(&child, node)?;
                    self.summary.dirs += 1;
                }
                Ok(NodeKind::Symlink) => {
                    std::os::unix::fs::symlink(OsStr::from_bytes(&node.link_target), &child)
                        .with_context(|| format!("cannot create link {}", child.display()))?;
                    let mtime = FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos);
                    filetime::set_symlink_file_times(&child, mtime, mtime)
                        .with_context(|| format!("cannot set the time of {}", child.display()))?;
                }
                _ => anyhow::bail!(
                    "{} has an unknown entry kind {}",
                    child.display(),
                    node.kind
                ),
            }
        }
        Ok(())
    }

    fn small_files(&mut self, nodes: &[&Node], dir: &Path) -> anyhow::Result<()> {
        if nodes.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::new();
        for node in nodes {
            ids.extend(chunk_ids(node)?);
        }
        let chunks = self.fetch(&ids)?;
        for node in nodes {
            let path = child_path(dir, &node.name)?;
            let mut file = create(&path)?;
            for id in chunk_ids(node)? {
                file.write_all(&chunks[&id])
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            self.finish_file(file, &path, node)?;
        }
        Ok(())
    }

    fn large_file(&mut self, node: &Node, path: &Path) -> anyhow::Result<()> {
        let mut file = create(path)?;
        let ids = chunk_ids(node)?;
        for window in ids.chunks(LARGE_FILE_WINDOW) {
            let chunks = self
                .fetch(window)
                .with_context(|| format!("cannot restore {}", path.display()))?;
            for id in window {
                file.write_all(&chunks[id])
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
        self.finish_file(file, path, node)
    }

    fn finish_file(&mut self, file: fs::File, path: &Path, node: &Node) -> anyhow::Result<()> {
        let written = file.metadata()?.len();
        if written != node.size {
            anyhow::bail!(
                "{} restored {written} bytes, expected {}",
                path.display(),
                node.size
            );
        }
        drop(file);
        set_meta(path, node)?;
        self.summary.files += 1;
        self.summary.bytes += written;
        Ok(())
    }
}

/// A tree entry's path under `dir`; names that could escape it are refused.
fn child_path(dir: &Path, name: &[u8]) -> anyhow::Result<PathBuf> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        anyhow::bail!(
            "the snapshot holds an unsafe entry name {:?}",
            String::from_utf8_lossy(name)
        );
    }
    Ok(dir.join(OsStr::from_bytes(name)))
}

fn create(path: &Path) -> anyhow::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            format!(
                "cannot create {} (restore never overwrites)",
                path.display()
            )
        })
}

fn set_meta(path: &Path, node: &Node) -> anyhow::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(node.mode & 0o7777))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    let mtime = FileTime::from_unix_time(node.mtime_secs, node.mtime_nanos);
    filetime::set_file_mtime(path, mtime)
        .with_context(|| format!("cannot set the time of {}", path.display()))
}
