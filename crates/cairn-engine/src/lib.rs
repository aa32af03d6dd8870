//! The backup engine: FastCDC chunking, zstd compression, the stored blob
//! format (compress, then seal with the company's data key), packs of blobs,
//! and the encoding of snapshot trees.
//!
//! Pure data transformations: no network, no database, no file walking.

mod blob;
mod chunker;
mod error;
mod pack;
mod tree;

pub use blob::{
    EncodedBlob, MAX_BLOB_SIZE, decode_blob, decode_blob_within, encode_blob, encode_named_blob,
    max_stored_len,
};
pub use chunker::{CHUNK_AVG, CHUNK_MAX, CHUNK_MIN, Chunker, chunk_slice, chunk_stream};
pub use error::EngineError;
pub use pack::{MAX_PACK_RECORDS, PACK_TARGET, Pack, PackBuilder, validate_pack_records};
pub use tree::{
    MAX_FILE_CHUNKS, MAX_TREE_BYTES, MAX_TREE_NODES, TreeNodes, decode_tree, encode_tree,
    sort_tree, tree_nodes,
};
