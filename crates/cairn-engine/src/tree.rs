//! Snapshot trees: one protobuf `Tree` per directory, stored as a chunk.

use cairn_proto::backup::v1::Tree;
use prost::Message;

use crate::EngineError;

/// Sorts a directory's entries by name, so equal directories encode equally.
pub fn sort_tree(tree: &mut Tree) {
    tree.nodes.sort_by(|a, b| a.name.cmp(&b.name));
}

/// Encodes a directory for storage as a chunk. Call `sort_tree` first: the
/// encoding keeps the caller's order.
pub fn encode_tree(tree: &Tree) -> Vec<u8> {
    tree.encode_to_vec()
}

/// Decodes a stored directory; malformed bytes are an error, not a panic.
pub fn decode_tree(bytes: &[u8]) -> Result<Tree, EngineError> {
    Tree::decode(bytes).map_err(|e| EngineError::BadTree(e.to_string()))
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
