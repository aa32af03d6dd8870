//! Packs: stored blobs concatenated, about 16 MiB each. The index of a pack
//! (which chunk at which offset) lives in the cell's database.

use cairn_proto::backup::v1::ChunkRecord;

use crate::{EncodedBlob, EngineError};

/// Size, in bytes, at which the agent closes a pack.
pub const PACK_TARGET: usize = 16 * 1024 * 1024;
/// Most chunks one pack may hold; the server refuses more.
pub const MAX_PACK_RECORDS: usize = 100_000;

/// A finished pack, ready to upload. It has no id yet: the server names a
/// pack by the BLAKE3 hash of its bytes ([`cairn_crypto::pack_id`]), which
/// it computes as the bytes arrive, so the agent does not hash them too.
pub struct Pack {
    pub bytes: Vec<u8>,
    /// Where each chunk sits in `bytes`, in order of offset.
    pub chunks: Vec<ChunkRecord>,
}

/// Collects encoded blobs until the pack reaches its target size.
pub struct PackBuilder {
    target: usize,
    bytes: Vec<u8>,
    chunks: Vec<ChunkRecord>,
}

impl PackBuilder {
    /// A builder that reports full at `target` bytes (see `PACK_TARGET`).
    pub fn new(target: usize) -> PackBuilder {
        PackBuilder::with_buffer(target, Vec::new())
    }

    /// A builder that fills `buffer`, emptied first: a caller can give it
    /// the buffer of a pack already sent instead of a new allocation.
    pub fn with_buffer(target: usize, mut buffer: Vec<u8>) -> PackBuilder {
        buffer.clear();
        // Room for the target and one more blob: a pack is never copied
        // to grow. A new buffer's pages are only touched as blobs are added.
        buffer.reserve(target + crate::CHUNK_MAX as usize + 1024);
        PackBuilder {
            target,
            bytes: buffer,
            chunks: Vec::new(),
        }
    }

    /// Appends a blob's stored bytes and records where they sit.
    pub fn add(&mut self, blob: EncodedBlob) {
        self.chunks.push(ChunkRecord {
            id: blob.id.0.to_vec(),
            offset: self.bytes.len() as u64,
            length: blob.stored.len() as u32,
            raw_length: blob.raw_length,
        });
        self.bytes.extend_from_slice(&blob.stored);
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// At or past the target size, or at the most records a pack may hold.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= self.target || self.chunks.len() >= MAX_PACK_RECORDS
    }

    pub fn finish(self) -> Pack {
        Pack {
            bytes: self.bytes,
            chunks: self.chunks,
        }
    }
}

/// Checks an uploaded pack's records against its size: 1 to
/// `MAX_PACK_RECORDS` records, 32-byte ids, lengths of at least 1, sorted by
/// offset, not overlapping, inside the pack; no plaintext above the largest
/// blob the engine makes ([`MAX_BLOB_SIZE`](crate::MAX_BLOB_SIZE), a
/// directory's tree; file data is cut at most `CHUNK_MAX`) and no stored
/// length above what sealing that plaintext can produce
/// ([`max_stored_len`](crate::max_stored_len)). Gaps are allowed. The error
/// names the first bad record by index.
pub fn validate_pack_records(size: u64, records: &[ChunkRecord]) -> Result<(), EngineError> {
    if records.is_empty() || records.len() > MAX_PACK_RECORDS {
        return Err(EngineError::BadPack {
            index: 0,
            reason: format!(
                "a pack holds 1 to {MAX_PACK_RECORDS} chunks, got {}",
                records.len()
            ),
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
        if record.raw_length as usize > crate::MAX_BLOB_SIZE {
            return Err(bad(&format!(
                "raw_length {} is above the largest chunk, {} bytes",
                record.raw_length,
                crate::MAX_BLOB_SIZE
            )));
        }
        if u64::from(record.length) > crate::max_stored_len(record.raw_length) {
            return Err(bad(&format!(
                "length {} is more than sealing {} bytes can produce ({})",
                record.length,
                record.raw_length,
                crate::max_stored_len(record.raw_length)
            )));
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

    fn build(blobs: &[Vec<u8>]) -> (DataKey, Pack) {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let mut builder = PackBuilder::new(PACK_TARGET);
        assert!(builder.is_empty());
        for blob in blobs {
            builder.add(encode_blob(&key, &ids, blob).unwrap());
        }
        assert_eq!(builder.is_empty(), blobs.is_empty());
        assert_eq!(builder.len(), builder.bytes.len());
        (key, builder.finish())
    }

    fn refused_at(pack: &Pack, chunks: &[ChunkRecord]) -> usize {
        match validate_pack_records(pack.bytes.len() as u64, chunks) {
            Err(EngineError::BadPack { index, .. }) => index,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn plaintexts() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let compressible = (any::<u8>(), 0usize..20_000).prop_map(|(b, n)| vec![b; n]);
        let random = prop::collection::vec(any::<u8>(), 0..4096);
        prop::collection::vec(prop_oneof![compressible, random], 1..20)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn every_record_decodes_from_the_pack(blobs in plaintexts()) {
            let (key, pack) = build(&blobs);
            let ids = key.chunk_id_key();
            prop_assert_eq!(pack.chunks.len(), blobs.len());
            validate_pack_records(pack.bytes.len() as u64, &pack.chunks).unwrap();
            for (record, plain) in pack.chunks.iter().zip(&blobs) {
                let stored = &pack.bytes[record.offset as usize..(record.offset + u64::from(record.length)) as usize];
                let id = ChunkId::from_slice(&record.id, "id").unwrap();
                prop_assert_eq!(&decode_blob(&key, &ids, &id, stored).unwrap(), plain);
                prop_assert_eq!(record.raw_length as usize, plain.len());
            }
        }

        #[test]
        fn corrupted_records_are_refused(blobs in plaintexts(), pick in any::<prop::sample::Index>()) {
            let (_, pack) = build(&blobs);
            let i = pick.index(pack.chunks.len());

            let mut chunks = pack.chunks.clone();
            chunks[i].id.pop();
            prop_assert_eq!(refused_at(&pack, &chunks), i);

            let mut chunks = pack.chunks.clone();
            chunks[i].length = 0;
            prop_assert_eq!(refused_at(&pack, &chunks), i);

            let mut chunks = pack.chunks.clone();
            chunks[i].offset = pack.bytes.len() as u64;
            prop_assert_eq!(refused_at(&pack, &chunks), i);

            let last = pack.chunks.len() - 1;
            let mut chunks = pack.chunks.clone();
            chunks[last].length += 1;
            prop_assert_eq!(refused_at(&pack, &chunks), last);

            if i > 0 {
                let mut chunks = pack.chunks.clone();
                chunks[i].offset = chunks[i - 1].offset + u64::from(chunks[i - 1].length) - 1;
                prop_assert_eq!(refused_at(&pack, &chunks), i);
                let mut chunks = pack.chunks.clone();
                chunks.swap(i - 1, i);
                prop_assert_eq!(refused_at(&pack, &chunks), i);
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
        let too_far = record(u64::MAX, 2);
        assert!(validate_pack_records(u64::MAX, &[too_far]).is_err());
        // Larger than any chunk the engine makes, or more stored bytes than
        // sealing its plaintext can produce: refused, by record.
        let mut huge = record(0, 10);
        huge.raw_length = crate::MAX_BLOB_SIZE as u32 + 1;
        let err = validate_pack_records(100, &[record(0, 10), huge]).unwrap_err();
        assert!(err.to_string().contains("record 1"), "{err}");
        assert!(err.to_string().contains("raw_length"), "{err}");
        let mut largest = record(0, 10);
        largest.raw_length = crate::MAX_BLOB_SIZE as u32;
        assert!(validate_pack_records(100, &[largest]).is_ok());
        let padded = record(0, 1 + 1 + cairn_crypto::SEAL_OVERHEAD as u32 + 100);
        let err = validate_pack_records(1000, &[padded]).unwrap_err();
        assert!(err.to_string().contains("sealing 1 bytes"), "{err}");
        let sealed = crate::max_stored_len(1) as u32;
        assert!(validate_pack_records(1000, &[record(0, sealed)]).is_ok());
        assert!(validate_pack_records(1000, &[record(0, sealed + 1)]).is_err());
        let many: Vec<ChunkRecord> = (0..=MAX_PACK_RECORDS as u64)
            .map(|i| record(i, 1))
            .collect();
        assert!(validate_pack_records(many.len() as u64, &many).is_err());
        assert!(validate_pack_records(many.len() as u64, &many[1..]).is_ok());
    }

    #[test]
    fn a_reused_buffer_builds_the_same_pack() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let blobs: Vec<_> = (0..5u8)
            .map(|i| encode_blob(&key, &ids, &[i; 3000]).unwrap())
            .collect();
        let fill = |mut builder: PackBuilder| {
            for blob in &blobs {
                builder.add(EncodedBlob {
                    id: blob.id,
                    stored: blob.stored.clone(),
                    raw_length: blob.raw_length,
                });
            }
            builder.finish()
        };
        let fresh = fill(PackBuilder::new(PACK_TARGET));
        // A used buffer, longer than the new pack and full of other bytes.
        let reused = fill(PackBuilder::with_buffer(PACK_TARGET, vec![0xAB; 100_000]));
        assert_eq!(reused.bytes, fresh.bytes);
        assert_eq!(reused.chunks, fresh.chunks);
    }

    #[test]
    fn a_builder_is_full_at_its_target() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let mut builder = PackBuilder::new(100);
        for i in 0..3u8 {
            assert!(!builder.is_full(), "{} bytes", builder.len());
            builder.add(encode_blob(&key, &ids, &[i; 30]).unwrap());
        }
        assert!(
            builder.len() >= 100 && builder.is_full(),
            "{} bytes",
            builder.len()
        );
    }
}
