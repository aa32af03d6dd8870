//! What the server and the agents read back from storage: packs with their
//! chunk records, the blobs in them, and snapshot trees.

use prost::Message;

use cairn_core::ChunkId;
use cairn_crypto::DataKey;
use cairn_proto::backup::v1 as backup;

use crate::split;

/// A fixed data key: the harness seals what it lets the decoder open.
pub(crate) fn key() -> DataKey {
    DataKey::from_bytes(&[7; 32]).unwrap_or_else(|_| unreachable!("32 bytes make a key"))
}

/// Selector 0: a pack header (a little-endian `u16` length, then the
/// `PackHeader`) and the pack's bytes: the records are checked as the
/// server checks them, and every record's bytes are opened as a blob.
/// Any other selector: the rest is a blob body (format byte, then the raw
/// or zstd bytes), sealed here so that decompression and the id check are
/// reached, then decoded as a restore decodes it.
pub fn pack(data: &[u8]) {
    let Some((pick, rest)) = split(data) else {
        return;
    };
    let key = key();
    let id_key = key.chunk_id_key();
    if pick == 0 {
        if rest.len() < 2 {
            return;
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let Ok(header) = backup::PackHeader::decode(&rest[2..2 + len]) else {
            return;
        };
        let bytes = &rest[2 + len..];
        if cairn_engine::validate_pack_records(header.size, &header.chunks).is_err()
            || header.size != bytes.len() as u64
        {
            return;
        }
        for record in &header.chunks {
            let Ok(id) = ChunkId::from_slice(&record.id, "id") else {
                continue;
            };
            let start = record.offset as usize;
            let blob = &bytes[start..start + record.length as usize];
            let _ = cairn_engine::decode_blob(&key, &id_key, &id, blob);
        }
    } else {
        let id = id_key.chunk_id(rest);
        let Ok(sealed) = key.seal(id.as_bytes(), rest) else {
            return;
        };
        let _ = cairn_engine::decode_blob(&key, &id_key, &id, &sealed);
    }
}

/// A stored directory, as a restore decodes it.
pub fn tree(data: &[u8]) {
    if let Ok(tree) = cairn_engine::decode_tree(data) {
        let _ = cairn_engine::encode_tree(&tree);
    }
}
