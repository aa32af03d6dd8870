//! Snapshot trees: one protobuf `Tree` per directory, stored as a chunk.

use cairn_proto::backup::v1::Tree;
use prost::Message;

use crate::EngineError;

/// Sorts a directory's entries by name, so equal directories encode equally.
pub fn sort_tree(tree: &mut Tree) {
    tree.nodes.sort_by(|a, b| a.name.cmp(&b.name));
}

pub fn encode_tree(tree: &Tree) -> Vec<u8> {
    tree.encode_to_vec()
}

pub fn decode_tree(bytes: &[u8]) -> Result<Tree, EngineError> {
    Tree::decode(bytes).map_err(|e| EngineError::BadTree(e.to_string()))
}

#[cfg(test)]
mod tests {
    use cairn_proto::backup::v1::{Node, NodeKind};
    use proptest::prelude::*;

    use super::*;

    fn node() -> impl Strategy<Value = Node> {
        (
            prop::collection::vec(any::<u8>(), 1..40),
            0i32..4,
            any::<u32>(),
            any::<i64>(),
            0u32..1_000_000_000,
            any::<u64>(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 32), 0..4),
        )
            .prop_map(|(name, kind, mode, secs, nanos, size, content)| Node {
                name,
                kind,
                mode,
                mtime_secs: secs,
                mtime_nanos: nanos,
                size,
                content,
                subtree: Vec::new(),
                link_target: Vec::new(),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn trees_round_trip(nodes in prop::collection::vec(node(), 0..30)) {
            let mut tree = Tree { nodes };
            sort_tree(&mut tree);
            let decoded = decode_tree(&encode_tree(&tree)).unwrap();
            prop_assert_eq!(decoded, tree);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode_tree(&[0xff, 0xff, 0xff]).is_err());
        let _ = NodeKind::Dir;
    }
}
