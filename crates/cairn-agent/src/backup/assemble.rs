//! The assembler: builds and stores the trees from the walk's steps, taking
//! each file's chunk list as the readers hand it back, and writes the next
//! backup's cache.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

use anyhow::Context;

use cairn_core::ChunkId;
use cairn_engine::{encode_tree, sort_tree};
use cairn_proto::backup::v1::{Node, Tree};

use crate::cache;
use crate::idset::ReferencedIds;

use super::events::BackupSummary;
use super::stage::{NextState, Pipeline, Plain, Stopped};
use super::steps::{Slot, Step};

/// Builds the trees from the walk's steps, waiting for each file's chunks
/// in turn, and stores them.
pub(super) struct Assembler<'a> {
    pub(super) pipeline: &'a Pipeline,
    /// Trees of the last snapshot: on the server already.
    pub(super) parent_trees: HashSet<ChunkId>,
    pub(super) plain: flume::Sender<Vec<Plain>>,
    /// The open directories, innermost last.
    pub(super) stack: Vec<Tree>,
    pub(super) referenced: ReferencedIds,
    /// The cache for the next backup, written as files are done.
    pub(super) next_cache: Option<NextState>,
    pub(super) summary: BackupSummary,
    pub(super) now_secs: i64,
}

impl Assembler<'_> {
    /// The root tree's id, once the walk closed it.
    pub(super) fn run(&mut self, steps: flume::Receiver<Step>) -> anyhow::Result<ChunkId> {
        for step in steps.iter() {
            match step {
                Step::Open => self.stack.push(Tree::default()),
                Step::Entry(slot) => {
                    let node = self.finish(slot)?;
                    self.open()?.nodes.push(node);
                }
                Step::Close(node) => {
                    let tree = self.stack.pop().context("the walk closed no directory")?;
                    let id = self.store_tree(tree)?;
                    let Some(mut node) = node else {
                        return Ok(id);
                    };
                    node.subtree = id.0.to_vec();
                    self.summary.dirs += 1;
                    self.open()?.nodes.push(node);
                }
            }
        }
        // The walk stopped; it recorded why.
        Err(Stopped.into())
    }

    fn open(&mut self) -> anyhow::Result<&mut Tree> {
        self.stack
            .last_mut()
            .context("the walk opened no directory")
    }

    fn store_tree(&mut self, mut tree: Tree) -> anyhow::Result<ChunkId> {
        sort_tree(&mut tree);
        let data = encode_tree(&tree);
        let id = self.pipeline.ids.chunk_id(&data);
        self.referenced.insert(id)?;
        if let Some(Ok(next)) = self.next_cache.as_mut()
            && let Err(err) = next.add_tree(&id)
        {
            self.give_up_cache(err);
        }
        // A tree of the last snapshot is on the server: no need to ask.
        if !self.parent_trees.contains(&id) && self.pipeline.first_sight(id) {
            let permit = self.pipeline.room(data.len())?;
            self.plain
                .send(vec![Plain {
                    id,
                    data,
                    permit,
                    blob: None,
                }])
                .map_err(|_| Stopped)?;
        }
        Ok(id)
    }

    fn finish(&mut self, slot: Slot) -> anyhow::Result<Node> {
        let (node, path, before, reply) = match slot {
            Slot::Ready(node) => return Ok(node),
            Slot::Unchanged {
                node,
                size,
                ids,
                entry,
            } => {
                self.keep(entry);
                self.summary.files_unchanged += 1;
                return self.file_node(node, size, ids);
            }
            Slot::Reading {
                node,
                path,
                before,
                reply,
            } => (node, path, before, reply),
        };
        let read = reply.recv().map_err(|_| Stopped)??;
        self.summary.bytes_read += read.size;
        // Trusted next time only if it did not change while being read.
        let steady = read.after.size() == read.size
            && read.after.mtime() == before.mtime()
            && read.after.mtime_nsec() == before.mtime_nsec()
            && read.after.ctime() == before.ctime()
            && read.after.ctime_nsec() == before.ctime_nsec();
        if steady && cache::settled(&read.after, self.now_secs) {
            self.keep(cache::Entry::new(&path, &read.after, &read.ids));
        }
        self.file_node(node, read.size, read.ids)
    }

    /// Records `entry` in the next backup's cache; after a write error,
    /// that cache is given up (the next backup reads every file).
    fn keep(&mut self, entry: cache::Entry) {
        if let Some(Ok(next)) = self.next_cache.as_mut()
            && let Err(err) = next.add(entry)
        {
            self.give_up_cache(err);
        }
    }

    /// Drops the partial cache; the first error is the one reported.
    fn give_up_cache(&mut self, err: anyhow::Error) {
        self.next_cache = Some(Err(format!("{err:#}")));
    }

    fn file_node(&mut self, mut node: Node, size: u64, ids: Vec<ChunkId>) -> anyhow::Result<Node> {
        node.size = size;
        node.content = ids.iter().map(|id| id.0.to_vec()).collect();
        self.referenced.extend(ids)?;
        self.summary.files += 1;
        self.summary.bytes += size;
        self.pipeline.events.file_done();
        Ok(node)
    }
}
