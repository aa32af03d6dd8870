//! What the walk hands the assembler: the directories it opens and closes
//! and their entries, done or with the readers.

use std::fs;
use std::path::PathBuf;

use cairn_core::ChunkId;
use cairn_proto::backup::v1::Node;

use crate::cache;

use super::stage::FileRead;

/// What the walk tells the assembler, in walk order.
pub(super) enum Step {
    /// A directory's entries follow, up to its `Close`.
    Open,
    /// One entry of the open directory.
    Entry(Slot),
    /// The open directory is complete. `Some(node)` names it in its parent
    /// (the assembler fills in the subtree); `None` closes the root.
    Close(Option<Node>),
}

/// An entry of a directory: done, or a file with the readers.
pub(super) enum Slot {
    Ready(Node),
    /// Unchanged since the parent snapshot: its chunks are the parent's.
    Unchanged {
        node: Node,
        size: u64,
        ids: Vec<ChunkId>,
        entry: cache::Entry,
    },
    Reading {
        node: Node,
        path: PathBuf,
        before: Box<fs::Metadata>,
        reply: flume::Receiver<anyhow::Result<FileRead>>,
    },
}
