//! The stored form of a chunk: one format byte (0 raw, 1 zstd) and the body,
//! sealed with the company's data key and the chunk id as associated data.

use std::io::Read;

use cairn_core::ChunkId;
use cairn_crypto::{ChunkIdKey, DataKey};

use crate::EngineError;

/// Largest plaintext a blob may decode to (trees included).
pub const MAX_BLOB_SIZE: usize = 64 * 1024 * 1024;

const RAW: u8 = 0;
const ZSTD: u8 = 1;

pub struct EncodedBlob {
    pub id: ChunkId,
    pub stored: Vec<u8>,
    pub raw_length: u32,
}

/// Names, compresses (when that helps) and seals a chunk.
pub fn encode_blob(key: &DataKey, id_key: &ChunkIdKey, plaintext: &[u8]) -> Result<EncodedBlob, EngineError> {
    if plaintext.len() > MAX_BLOB_SIZE {
        return Err(EngineError::TooLarge(MAX_BLOB_SIZE));
    }
    let id = id_key.chunk_id(plaintext);
    let compressed = zstd::bulk::compress(plaintext, 3)?;
    let mut body = Vec::with_capacity(1 + plaintext.len().min(compressed.len()));
    if compressed.len() < plaintext.len() {
        body.push(ZSTD);
        body.extend_from_slice(&compressed);
    } else {
        body.push(RAW);
        body.extend_from_slice(plaintext);
    }
    let stored = key.seal(id.as_bytes(), &body)?;
    Ok(EncodedBlob {
        id,
        stored,
        raw_length: plaintext.len() as u32,
    })
}

/// Opens, decompresses (bounded) and checks a stored chunk against its id.
pub fn decode_blob(key: &DataKey, id_key: &ChunkIdKey, id: &ChunkId, stored: &[u8]) -> Result<Vec<u8>, EngineError> {
    let body = key.open(id.as_bytes(), stored)?;
    let plaintext = match body.split_first() {
        Some((&RAW, rest)) => rest.to_vec(),
        Some((&ZSTD, rest)) => {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(rest)
                .map_err(|e| EngineError::Decompress(e.to_string()))?
                .take(MAX_BLOB_SIZE as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| EngineError::Decompress(e.to_string()))?;
            if out.len() > MAX_BLOB_SIZE {
                return Err(EngineError::TooLarge(MAX_BLOB_SIZE));
            }
            out
        }
        Some((&other, _)) => return Err(EngineError::Format(other)),
        None => return Err(EngineError::Format(u8::MAX)),
    };
    if id_key.chunk_id(&plaintext) != *id {
        return Err(EngineError::IdMismatch { id: id.to_hex() });
    }
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_compressible_and_not() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let text = b"log line 42\n".repeat(10_000);
        let blob = encode_blob(&key, &ids, &text).unwrap();
        assert!(blob.stored.len() < text.len() / 10, "compressible data is stored compressed");
        assert_eq!(decode_blob(&key, &ids, &blob.id, &blob.stored).unwrap(), text);
        let noise: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let blob = encode_blob(&key, &ids, &noise).unwrap();
        assert_eq!(decode_blob(&key, &ids, &blob.id, &blob.stored).unwrap(), noise);
        let empty = encode_blob(&key, &ids, b"").unwrap();
        assert_eq!(decode_blob(&key, &ids, &empty.id, &empty.stored).unwrap(), b"");
    }

    #[test]
    fn corruption_and_foreign_keys_are_errors() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let blob = encode_blob(&key, &ids, b"payroll.xlsx contents").unwrap();
        let mut flipped = blob.stored.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(decode_blob(&key, &ids, &blob.id, &flipped).is_err());
        let other = DataKey::generate().unwrap();
        assert!(decode_blob(&other, &other.chunk_id_key(), &blob.id, &blob.stored).is_err());
        assert!(decode_blob(&key, &ids, &ChunkId([0; 32]), &blob.stored).is_err());
        assert!(decode_blob(&key, &ids, &blob.id, &[]).is_err());
    }
}
