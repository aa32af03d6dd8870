//! Snapshot trees: one protobuf `Tree` per directory, stored as a chunk.
//!
//! A tree may come from another machine of the company, or from a
//! compromised one: decoding checks its limits as it goes, an entry at a
//! time, so a small stored tree cannot claim its way to gigabytes.

use cairn_proto::backup::v1::{Node, Tree};
use prost::Message;
use prost::bytes::Buf;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

use crate::{EngineError, MAX_BLOB_SIZE};

/// Largest tree, in bytes after decompression: the largest chunk the
/// engine stores, so every tree a backup writes can be read back.
pub const MAX_TREE_BYTES: usize = MAX_BLOB_SIZE;
/// Entries in one tree (one directory). A backup's trees stay far below
/// it; a tree of empty entries takes two bytes an entry, so without it
/// 64 MiB of them decoded to gigabytes of entries.
pub const MAX_TREE_NODES: usize = 1 << 20;
/// Content ids of one file: 1 TiB at the usual 1 MiB chunks.
pub const MAX_FILE_CHUNKS: usize = 1 << 20;

/// `Tree.nodes` and `Node.content`, by their field numbers.
const TREE_NODES: u32 = 1;
const NODE_CONTENT: u32 = 7;

/// Sorts a directory's entries by name, so equal directories encode equally.
pub fn sort_tree(tree: &mut Tree) {
    tree.nodes.sort_by(|a, b| a.name.cmp(&b.name));
}

/// Encodes a directory for storage as a chunk. Call `sort_tree` first: the
/// encoding keeps the caller's order.
pub fn encode_tree(tree: &Tree) -> Vec<u8> {
    tree.encode_to_vec()
}

/// Decodes a stored directory whole; malformed bytes or a tree past the
/// limits are an error, not a panic.
pub fn decode_tree(bytes: &[u8]) -> Result<Tree, EngineError> {
    Ok(Tree {
        nodes: tree_nodes(bytes)?.collect::<Result<_, _>>()?,
    })
}

/// The entries of a stored directory, decoded one at a time, so a caller
/// holds the tree's bytes and one entry, not every entry at once. The
/// limits ([`MAX_TREE_BYTES`], [`MAX_TREE_NODES`], [`MAX_FILE_CHUNKS`])
/// are checked before anything past them is decoded; the first error
/// ends the entries.
pub fn tree_nodes(bytes: &[u8]) -> Result<TreeNodes<'_>, EngineError> {
    if bytes.len() > MAX_TREE_BYTES {
        return Err(EngineError::TreeLimit {
            what: "bytes",
            limit: MAX_TREE_BYTES,
        });
    }
    Ok(TreeNodes {
        rest: bytes,
        count: 0,
        failed: false,
    })
}

/// See [`tree_nodes`].
pub struct TreeNodes<'a> {
    rest: &'a [u8],
    count: usize,
    failed: bool,
}

impl Iterator for TreeNodes<'_> {
    type Item = Result<Node, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.failed && !self.rest.is_empty() {
            match self.step() {
                Ok(Some(node)) => return Some(Ok(node)),
                Ok(None) => {}
                Err(err) => {
                    self.failed = true;
                    return Some(Err(err));
                }
            }
        }
        None
    }
}

impl TreeNodes<'_> {
    /// The next field: an entry, or `None` for a field skipped.
    fn step(&mut self) -> Result<Option<Node>, EngineError> {
        let (tag, wire) = decode_key(&mut self.rest).map_err(bad)?;
        if tag != TREE_NODES || wire != WireType::LengthDelimited {
            skip_field(wire, tag, &mut self.rest, DecodeContext::default()).map_err(bad)?;
            return Ok(None);
        }
        let len = decode_varint(&mut self.rest).map_err(bad)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|len| *len <= self.rest.len())
            .ok_or_else(|| EngineError::BadTree("an entry runs past the tree".into()))?;
        let (body, rest) = self.rest.split_at(len);
        self.rest = rest;
        self.count += 1;
        if self.count > MAX_TREE_NODES {
            return Err(EngineError::TreeLimit {
                what: "entries",
                limit: MAX_TREE_NODES,
            });
        }
        if content_ids(body)? > MAX_FILE_CHUNKS {
            return Err(EngineError::TreeLimit {
                what: "content ids in one file",
                limit: MAX_FILE_CHUNKS,
            });
        }
        Node::decode(body).map(Some).map_err(bad)
    }
}

/// How many content ids an encoded entry holds, counted without
/// decoding them.
fn content_ids(mut body: &[u8]) -> Result<usize, EngineError> {
    let mut count = 0;
    while body.has_remaining() {
        let (tag, wire) = decode_key(&mut body).map_err(bad)?;
        count += usize::from(tag == NODE_CONTENT);
        skip_field(wire, tag, &mut body, DecodeContext::default()).map_err(bad)?;
    }
    Ok(count)
}

fn bad(err: prost::DecodeError) -> EngineError {
    EngineError::BadTree(err.to_string())
}

#[cfg(test)]
mod tests {
    use cairn_proto::backup::v1::{Node, NodeKind};
    use proptest::prelude::*;

    use super::*;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(any::<u8>(), 0..max)
    }

    fn kind() -> impl Strategy<Value = i32> {
        prop_oneof![
            Just(NodeKind::Unspecified),
            Just(NodeKind::File),
            Just(NodeKind::Dir),
            Just(NodeKind::Symlink),
        ]
        .prop_map(i32::from)
    }

    fn node() -> impl Strategy<Value = Node> {
        (
            (
                prop::collection::vec(any::<u8>(), 1..40),
                kind(),
                any::<u32>(),
            ),
            (any::<i64>(), 0u32..1_000_000_000, any::<u64>()),
            (
                prop::collection::vec(prop::collection::vec(any::<u8>(), 32), 0..4),
                bytes(33),
                bytes(64),
            ),
        )
            .prop_map(
                |(
                    (name, kind, mode),
                    (mtime_secs, mtime_nanos, size),
                    (content, subtree, link_target),
                )| {
                    Node {
                        name,
                        kind,
                        mode,
                        mtime_secs,
                        mtime_nanos,
                        size,
                        content,
                        subtree,
                        link_target,
                    }
                },
            )
    }

    /// A directory cannot hold two entries of the same name.
    fn uniquely_named() -> impl Strategy<Value = Vec<Node>> {
        prop::collection::vec(node(), 0..12).prop_map(|nodes| {
            let mut seen = std::collections::HashSet::new();
            nodes
                .into_iter()
                .filter(|n| seen.insert(n.name.clone()))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn trees_round_trip(nodes in prop::collection::vec(node(), 0..30)) {
            let mut tree = Tree { nodes };
            sort_tree(&mut tree);
            prop_assert!(tree.nodes.windows(2).all(|w| w[0].name <= w[1].name));
            let decoded = decode_tree(&encode_tree(&tree)).unwrap();
            prop_assert_eq!(decoded, tree);
        }

        #[test]
        fn sorted_trees_encode_the_same_whatever_the_input_order((nodes, shuffled) in uniquely_named().prop_flat_map(|nodes| (Just(nodes.clone()), Just(nodes).prop_shuffle()))) {
            let mut a = Tree { nodes };
            let mut b = Tree { nodes: shuffled };
            sort_tree(&mut a);
            sort_tree(&mut b);
            prop_assert_eq!(encode_tree(&a), encode_tree(&b));
        }
    }

    /// `n` entries of two bytes each: an empty `Node`.
    fn empty_entries(n: usize) -> Vec<u8> {
        [0x0a, 0x00].repeat(n)
    }

    #[test]
    fn a_tree_past_its_entry_limit_stops_there() {
        let at_limit = empty_entries(MAX_TREE_NODES);
        assert_eq!(tree_nodes(&at_limit).unwrap().count(), MAX_TREE_NODES);
        let past = empty_entries(MAX_TREE_NODES + 1);
        let mut nodes = tree_nodes(&past).unwrap();
        let err = nodes.by_ref().find_map(Result::err).unwrap();
        assert!(
            matches!(
                err,
                EngineError::TreeLimit {
                    what: "entries",
                    limit: MAX_TREE_NODES
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("1048576 entries"), "{err}");
        // Nothing after the error.
        assert!(nodes.next().is_none());
        assert!(decode_tree(&past).is_err());
    }

    #[test]
    fn a_file_past_its_content_limit_is_refused_before_its_ids_are_decoded() {
        let node = Node {
            content: vec![Vec::new(); MAX_FILE_CHUNKS + 1],
            ..Node::default()
        };
        let tree = encode_tree(&Tree { nodes: vec![node] });
        let err = decode_tree(&tree).unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::TreeLimit {
                    what: "content ids in one file",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_tree_larger_than_a_chunk_is_refused() {
        let huge = vec![0u8; MAX_TREE_BYTES + 1];
        assert!(matches!(
            tree_nodes(&huge),
            Err(EngineError::TreeLimit { what: "bytes", .. })
        ));
    }

    #[test]
    fn unknown_fields_are_skipped_and_a_cut_entry_is_an_error() {
        let node = Node {
            name: b"a".to_vec(),
            ..Node::default()
        };
        let mut bytes = vec![0x10, 0x05]; // field 2, a varint
        bytes.extend(encode_tree(&Tree {
            nodes: vec![node.clone()],
        }));
        assert_eq!(decode_tree(&bytes).unwrap().nodes, vec![node]);
        bytes.pop();
        assert!(matches!(decode_tree(&bytes), Err(EngineError::BadTree(_))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode_tree(&[0xff, 0xff, 0xff]),
            Err(EngineError::BadTree(_))
        ));
        assert!(decode_tree(&[0x0a, 0x05, 0x01]).is_err());
        assert_eq!(decode_tree(&[]).unwrap(), Tree::default());
    }
}
