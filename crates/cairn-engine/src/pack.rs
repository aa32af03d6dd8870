//! Packs: stored blobs concatenated, about 16 MiB each. The index of a pack
//! (which chunk at which offset) lives in the cell's database.

use cairn_core::PackId;
use cairn_proto::backup::v1::ChunkRecord;

use crate::{EncodedBlob, EngineError};

pub const PACK_TARGET: usize = 16 * 1024 * 1024;
pub const MAX_PACK_RECORDS: usize = 100_000;

pub struct Pack {
    pub id: PackId,
    pub bytes: Vec<u8>,
    pub chunks: Vec<ChunkRecord>,
}

pub struct PackBuilder {
    target: usize,
    bytes: Vec<u8>,
    chunks: Vec<ChunkRecord>,
}

impl PackBuilder {
    pub fn new(target: usize) -> PackBuilder {
        PackBuilder {
            target,
            bytes: Vec::new(),
            chunks: Vec::new(),
        }
    }

    pub fn add(&mut self, blob: EncodedBlob) {
        self.chunks.push(ChunkRecord {
            id: blob.id.0.to_vec(),
            offset: self.bytes.len() as u64,
            length: blob.stored.len() as u32,
            raw_length: blob.raw_length,
        });
        self.bytes.extend_from_slice(&blob.stored);
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.bytes.len() >= self.target || self.chunks.len() >= MAX_PACK_RECORDS
    }

    pub fn finish(self) -> Pack {
        Pack {
            id: cairn_crypto::pack_id(&self.bytes),
            bytes: self.bytes,
            chunks: self.chunks,
        }
    }
}

/// Checks an uploaded pack's records: well-formed ids, non-empty, sorted,
/// not overlapping, inside the pack.
pub fn validate_pack_records(size: u64, records: &[ChunkRecord]) -> Result<(), EngineError> {
    if records.is_empty() || records.len() > MAX_PACK_RECORDS {
        return Err(EngineError::BadPack {
            index: 0,
            reason: format!("a pack holds 1 to {MAX_PACK_RECORDS} chunks, got {}", records.len()),
        });
    }
    let mut end = 0u64;
    for (index, record) in records.iter().enumerate() {
        let bad = |reason: &str| EngineError::BadPack {
            index,
            reason: reason.to_owned(),
        };
        if record.id.len() != 32 {
            return Err(bad("id must be 32 bytes"));
        }
        if record.length == 0 {
            return Err(bad("length must be at least 1"));
        }
        if record.offset < end {
            return Err(bad("overlaps the previous chunk or is out of order"));
        }
        end = record
            .offset
            .checked_add(u64::from(record.length))
            .ok_or_else(|| bad("offset overflows"))?;
        if end > size {
            return Err(bad("ends past the end of the pack"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{decode_blob, encode_blob};
    use cairn_core::ChunkId;
    use cairn_crypto::DataKey;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn every_record_decodes_from_the_pack(blobs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..4096), 1..20)) {
            let key = DataKey::generate().unwrap();
            let ids = key.chunk_id_key();
            let mut builder = PackBuilder::new(PACK_TARGET);
            for blob in &blobs {
                builder.add(encode_blob(&key, &ids, blob).unwrap());
            }
            let pack = builder.finish();
            prop_assert_eq!(pack.id, cairn_crypto::pack_id(&pack.bytes));
            validate_pack_records(pack.bytes.len() as u64, &pack.chunks).unwrap();
            for (record, plain) in pack.chunks.iter().zip(&blobs) {
                let stored = &pack.bytes[record.offset as usize..(record.offset + u64::from(record.length)) as usize];
                let id = ChunkId::from_slice(&record.id, "id").unwrap();
                prop_assert_eq!(&decode_blob(&key, &ids, &id, stored).unwrap(), plain);
                prop_assert_eq!(record.raw_length as usize, plain.len());
            }
        }
    }

    fn record(offset: u64, length: u32) -> ChunkRecord {
        ChunkRecord {
            id: vec![1; 32],
            offset,
            length,
            raw_length: 1,
        }
    }

    #[test]
    fn bad_records_are_refused_and_named() {
        assert!(validate_pack_records(100, &[record(0, 10), record(10, 90)]).is_ok());
        let overlap = validate_pack_records(100, &[record(0, 10), record(5, 10)]).unwrap_err();
        assert!(overlap.to_string().contains("record 1"), "{overlap}");
        assert!(validate_pack_records(100, &[record(95, 10)]).is_err());
        assert!(validate_pack_records(100, &[record(0, 0)]).is_err());
        assert!(validate_pack_records(100, &[]).is_err());
        let mut short = record(0, 1);
        short.id = vec![1; 31];
        assert!(validate_pack_records(100, &[short]).is_err());
    }
}
