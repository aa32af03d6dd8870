//! The stored form of a chunk: one format byte (0 raw, 1 zstd) and the body,
//! sealed with the company's data key and the chunk id as associated data.

use std::io::Read;

use bytes::Bytes;
use cairn_core::ChunkId;
use cairn_crypto::{ChunkIdKey, DataKey, SEAL_OVERHEAD, SEAL_PREFIX};

use crate::EngineError;

/// Largest plaintext a stored blob holds: file data comes in chunks of at
/// most [`CHUNK_MAX`](crate::CHUNK_MAX), a directory's tree in one blob of
/// up to this size (about 800,000 entries). The server refuses a pack
/// record that claims more (`validate_pack_records`).
pub const MAX_BLOB_SIZE: usize = 64 * 1024 * 1024;

/// The most bytes sealing `raw_length` bytes of plaintext can take: the
/// format byte, zstd's bound for that input (the encoder keeps the smaller
/// of the compressed and the raw form, so this is generous), the nonce and
/// the tag.
pub fn max_stored_len(raw_length: u32) -> u64 {
    (1 + zstd::zstd_safe::compress_bound(raw_length as usize) + SEAL_OVERHEAD) as u64
}

const RAW: u8 = 0;
const ZSTD: u8 = 1;
const ZSTD_LEVEL: i32 = 3;

/// Chunks at least this long are probed before they are compressed whole:
/// media, archives and encrypted files do not compress, and zstd spent a
/// tenth of its time on the benchmark's such chunks finding that out.
const PROBE_MIN: usize = 128 * 1024;
/// Slices taken for the probe, evenly spread over the chunk, and their size.
const PROBE_SLICES: usize = 4;
const PROBE_SLICE: usize = 4096;
/// The probe compressing to more than this share of its size, in percent,
/// says the chunk is not worth compressing.
const PROBE_KEEP_PERCENT: usize = 97;

/// A chunk ready for a pack.
pub struct EncodedBlob {
    /// Keyed BLAKE3 hash of the plaintext.
    pub id: ChunkId,
    /// Format byte and body, sealed: what the store keeps.
    pub stored: Vec<u8>,
    /// Plaintext length, in bytes.
    pub raw_length: u32,
}

/// Names, compresses (zstd level 3, kept only when smaller; a large chunk
/// whose sample does not compress is kept raw without trying the whole) and
/// seals a chunk, with its id as associated data so a blob cannot pass for
/// another, and a nonce derived from the id and the body
/// ([`DataKey::seal_in_place_deterministic`]): the same chunk always
/// encodes to the same bytes.
/// Takes the chunk id key so a caller derives it once, not per chunk.
pub fn encode_blob(
    key: &DataKey,
    id_key: &ChunkIdKey,
    plaintext: &[u8],
) -> Result<EncodedBlob, EngineError> {
    encode_named_blob(key, id_key.chunk_id(plaintext), plaintext)
}

/// [`encode_blob`] for a chunk already named with the company's
/// [`ChunkIdKey`]: the caller vouches that `id` is the chunk's id.
/// Compresses into a buffer kept by the thread, then copies what is kept
/// into a blob of exactly its sealed size, sealed in place: a blob never
/// holds the worst-case room zstd asks for.
pub fn encode_named_blob(
    key: &DataKey,
    id: ChunkId,
    plaintext: &[u8],
) -> Result<EncodedBlob, EngineError> {
    // The server refuses a record of more (see `validate_pack_records`): a
    // directory whose tree would be larger fails here, by name of the limit.
    if plaintext.len() > MAX_BLOB_SIZE {
        return Err(EngineError::TooLarge(MAX_BLOB_SIZE));
    }
    // One compression context and one output buffer per thread, reused for
    // every chunk.
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let seal = |format: u8, body: &[u8]| -> Result<EncodedBlob, EngineError> {
        let mut out = Vec::with_capacity(SEAL_OVERHEAD + 1 + body.len());
        out.resize(SEAL_PREFIX, 0);
        out.push(format);
        out.extend_from_slice(body);
        // Deterministic: every honest upload of this chunk is the same
        // stored copy, which is how the server tells a forged one.
        key.seal_in_place_deterministic(id.as_bytes(), &mut out)?;
        Ok(EncodedBlob {
            id,
            stored: out,
            raw_length: plaintext.len() as u32,
        })
    };
    COMPRESSOR.with(|cell| {
        SCRATCH.with(|scratch| {
            let mut cell = cell.borrow_mut();
            let compressor = match cell.as_mut() {
                Some(c) => c,
                None => cell.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
            };
            let mut scratch = scratch.borrow_mut();
            if !worth_compressing(compressor, &mut scratch, plaintext)? {
                return seal(RAW, plaintext);
            }
            scratch.clear();
            scratch.reserve(zstd::zstd_safe::compress_bound(plaintext.len()));
            // zstd writes into the spare room; nothing needs zeroing first.
            let compressed = compressor.compress_to_buffer(plaintext, &mut *scratch)?;
            // The smaller of the two.
            if compressed < plaintext.len() {
                seal(ZSTD, &scratch[..compressed])
            } else {
                seal(RAW, plaintext)
            }
        })
    })
}

/// Whether `plaintext` is worth compressing whole: always for a small chunk;
/// for a large one, when a sample of slices spread over it compresses by
/// more than a few percent. The sample costs about 2% of compressing a
/// 1 MiB chunk that does compress, and saves nearly all of the work on one
/// that does not. `scratch` is the thread's buffer, used for the sample.
fn worth_compressing(
    compressor: &mut zstd::bulk::Compressor<'static>,
    scratch: &mut Vec<u8>,
    plaintext: &[u8],
) -> Result<bool, EngineError> {
    if plaintext.len() < PROBE_MIN {
        return Ok(true);
    }
    let mut sample = [0u8; PROBE_SLICES * PROBE_SLICE];
    let step = (plaintext.len() - PROBE_SLICE) / (PROBE_SLICES - 1);
    for (slice, to) in sample.chunks_exact_mut(PROBE_SLICE).enumerate() {
        let at = slice * step;
        to.copy_from_slice(&plaintext[at..at + PROBE_SLICE]);
    }
    scratch.clear();
    scratch.reserve(zstd::zstd_safe::compress_bound(sample.len()));
    let compressed = compressor.compress_to_buffer(&sample, scratch)?;
    Ok(compressed * 100 <= sample.len() * PROBE_KEEP_PERCENT)
}

/// Opens, decompresses (bounded) and checks a stored chunk against its id.
/// Hostile or corrupted input is an error, and never makes this allocate
/// more than about twice `MAX_BLOB_SIZE`.
///
/// The chunk is decrypted straight out of `stored` (no copy of it is made
/// first), and a compressed one is inflated into a buffer of exactly the
/// size its frame names. A chunk stored uncompressed is returned in the
/// buffer it was decrypted into, past its one-byte header, not shifted.
pub fn decode_blob(
    key: &DataKey,
    id_key: &ChunkIdKey,
    id: &ChunkId,
    stored: &[u8],
) -> Result<Bytes, EngineError> {
    decode_blob_within(key, id_key, id, stored, MAX_BLOB_SIZE)
}

/// [`decode_blob`] for a chunk whose plaintext cannot be longer than `max`
/// bytes (a file's data is never more than `CHUNK_MAX` a chunk, nor more
/// than the file's size): a longer one is [`EngineError::TooLarge`],
/// found before its plaintext is allocated, so a restore of a snapshot
/// someone else wrote never holds more than it expects.
pub fn decode_blob_within(
    key: &DataKey,
    id_key: &ChunkIdKey,
    id: &ChunkId,
    stored: &[u8],
    max: usize,
) -> Result<Bytes, EngineError> {
    let max = max.min(MAX_BLOB_SIZE);
    // Compressed is kept only when smaller, so no honest blob is longer
    // than its plaintext's limit, the format byte and the seal.
    if stored.len() > max.saturating_add(1 + SEAL_OVERHEAD) {
        return Err(EngineError::TooLarge(max));
    }
    let body = key.open(id.as_bytes(), stored)?;
    let plaintext = match body.first().copied() {
        Some(RAW) => Bytes::from(body).slice(1..),
        Some(ZSTD) => Bytes::from(decompress(&body[1..], max)?),
        Some(other) => return Err(EngineError::Format(other)),
        None => return Err(EngineError::EmptyBlob),
    };
    if id_key.chunk_id(&plaintext) != *id {
        return Err(EngineError::IdMismatch { id: id.to_hex() });
    }
    Ok(plaintext)
}

/// Inflates a frame into a buffer of the size its header names (at most
/// `max`); a frame that names none, or lies about it, is
/// streamed through a reader capped one byte past the limit instead, so a
/// decompression bomb stops at the cap rather than exhausting memory.
fn decompress(compressed: &[u8], max: usize) -> Result<Vec<u8>, EngineError> {
    let named = zstd::zstd_safe::get_frame_content_size(compressed)
        .ok()
        .flatten();
    if let Some(size) = named {
        if size > max as u64 {
            return Err(EngineError::TooLarge(max));
        }
        // One context per thread, reused: creating one costs a CPUID, which
        // traps to the hypervisor in a virtual machine.
        thread_local! {
            static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                const { std::cell::RefCell::new(None) };
        }
        let mut out = Vec::with_capacity(size as usize);
        let inflated = DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            let decompressor = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(zstd::bulk::Decompressor::new()?),
            };
            decompressor.decompress_to_buffer(compressed, &mut out)
        });
        if matches!(inflated, Ok(n) if n as u64 == size) {
            return Ok(out);
        }
    }
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(compressed)
        .map_err(|e| EngineError::Decompress(e.to_string()))?
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| EngineError::Decompress(e.to_string()))?;
    if out.len() > max {
        return Err(EngineError::TooLarge(max));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(key: &DataKey, blob: &EncodedBlob) -> u8 {
        key.open(blob.id.as_bytes(), &blob.stored).unwrap()[0]
    }

    /// Seals a hand-made body the way `encode_blob` would, for hostile cases.
    fn forge(key: &DataKey, id: &ChunkId, body: &[u8]) -> Vec<u8> {
        key.seal(id.as_bytes(), body).unwrap()
    }

    #[test]
    fn round_trips_compressible_incompressible_and_empty() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let noise: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        for plain in [b"log line 42\n".repeat(10_000), noise, Vec::new()] {
            let blob = encode_blob(&key, &ids, &plain).unwrap();
            assert_eq!(blob.id, ids.chunk_id(&plain));
            assert_eq!(blob.raw_length as usize, plain.len());
            assert_eq!(
                decode_blob(&key, &ids, &blob.id, &blob.stored).unwrap(),
                plain
            );
        }
    }

    #[test]
    fn a_chunk_always_encodes_to_the_same_bytes() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        for plain in [
            b"log line 42\n".repeat(10_000),
            noise(300 * 1024),
            Vec::new(),
        ] {
            let once = encode_blob(&key, &ids, &plain).unwrap();
            let again = encode_blob(&key, &ids, &plain).unwrap();
            assert_eq!(once.stored, again.stored);
        }
    }

    #[test]
    fn compressible_data_is_stored_compressed() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let text = b"log line 42\n".repeat(10_000);
        let blob = encode_blob(&key, &ids, &text).unwrap();
        assert_eq!(format_of(&key, &blob), ZSTD);
        assert!(
            blob.stored.len() < text.len() / 10,
            "stored {} bytes",
            blob.stored.len()
        );
    }

    #[test]
    fn incompressible_data_is_stored_raw() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let blob = encode_blob(&key, &ids, b"x").unwrap();
        assert_eq!(format_of(&key, &blob), RAW);
        assert_eq!(blob.stored.len(), 1 + 1 + cairn_crypto::SEAL_OVERHEAD);
    }

    /// Bytes no compressor can shorten, `len` of them.
    fn noise(len: usize) -> Vec<u8> {
        crate::chunker::tests::pseudo_random(len, 0x9e37_79b9_7f4a_7c15)
    }

    #[test]
    fn a_large_chunk_that_does_not_compress_is_stored_raw() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let plain = noise(1024 * 1024);
        let blob = encode_blob(&key, &ids, &plain).unwrap();
        assert_eq!(format_of(&key, &blob), RAW);
        assert_eq!(blob.stored.len(), plain.len() + 1 + SEAL_OVERHEAD);
        assert_eq!(
            decode_blob(&key, &ids, &blob.id, &blob.stored).unwrap(),
            plain
        );
    }

    #[test]
    fn a_large_chunk_that_compresses_only_in_part_is_compressed() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        // Noise for the first three quarters: only the sample's last slice
        // falls in the text, which is enough to try the whole chunk.
        let mut plain = noise(768 * 1024);
        plain.extend(b"2026-11-30T08:00:00Z INFO backup[42]: pack stored\n".repeat(5200));
        let blob = encode_blob(&key, &ids, &plain).unwrap();
        assert_eq!(format_of(&key, &blob), ZSTD);
        assert!(
            blob.stored.len() < 800 * 1024,
            "stored {} of {} bytes",
            blob.stored.len(),
            plain.len()
        );
        assert_eq!(
            decode_blob(&key, &ids, &blob.id, &blob.stored).unwrap(),
            plain
        );
    }

    #[test]
    fn a_flipped_byte_is_an_error() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let blob = encode_blob(&key, &ids, b"payroll.xlsx contents").unwrap();
        for i in 0..blob.stored.len() {
            let mut flipped = blob.stored.clone();
            flipped[i] ^= 0x40;
            assert!(
                decode_blob(&key, &ids, &blob.id, &flipped).is_err(),
                "byte {i}"
            );
        }
        assert!(decode_blob(&key, &ids, &blob.id, &[]).is_err());
        assert!(decode_blob(&key, &ids, &blob.id, &blob.stored[..20]).is_err());
    }

    #[test]
    fn another_companys_key_or_another_id_is_an_error() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let blob = encode_blob(&key, &ids, b"payroll.xlsx contents").unwrap();
        let other = DataKey::generate().unwrap();
        assert!(decode_blob(&other, &other.chunk_id_key(), &blob.id, &blob.stored).is_err());
        assert!(decode_blob(&key, &ids, &ChunkId([0; 32]), &blob.stored).is_err());
    }

    #[test]
    fn a_body_that_does_not_hash_to_its_id_is_refused() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let id = ids.chunk_id(b"what the id promises");
        let stored = forge(&key, &id, b"\0something else");
        assert!(matches!(
            decode_blob(&key, &ids, &id, &stored),
            Err(EngineError::IdMismatch { .. })
        ));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let id = ChunkId([5; 32]);
        let decode = |body: &[u8]| decode_blob(&key, &ids, &id, &forge(&key, &id, body));
        assert!(matches!(decode(b""), Err(EngineError::EmptyBlob)));
        assert!(matches!(decode(b"\x07abc"), Err(EngineError::Format(7))));
        assert!(matches!(
            decode(b"\x01not zstd"),
            Err(EngineError::Decompress(_))
        ));
        assert!(matches!(decode(b"\x01"), Err(EngineError::Decompress(_))));
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_limit() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let id = ChunkId([9; 32]);
        let mut body = vec![ZSTD];
        body.extend(zstd::bulk::compress(&vec![0u8; MAX_BLOB_SIZE + 4096], ZSTD_LEVEL).unwrap());
        assert!(body.len() < 64 * 1024, "bomb is {} bytes", body.len());
        let result = decode_blob(&key, &ids, &id, &forge(&key, &id, &body));
        assert!(
            matches!(result, Err(EngineError::TooLarge(MAX_BLOB_SIZE))),
            "{result:?}"
        );
    }

    #[test]
    fn a_frame_that_names_no_size_is_inflated_all_the_same() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let plain = b"invoice 2026-0042 paid\n".repeat(5000);
        let id = ids.chunk_id(&plain);
        // A streamed frame: its header does not carry the content size.
        let mut body = vec![ZSTD];
        body.extend(zstd::stream::encode_all(&plain[..], ZSTD_LEVEL).unwrap());
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&body[1..]).unwrap(),
            None
        );
        let stored = forge(&key, &id, &body);
        assert_eq!(decode_blob(&key, &ids, &id, &stored).unwrap(), plain);
    }

    #[test]
    fn a_bomb_that_names_no_size_stops_at_the_limit() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let id = ChunkId([8; 32]);
        let zeros = std::io::repeat(0).take(MAX_BLOB_SIZE as u64 + 4096);
        let mut body = vec![ZSTD];
        body.extend(zstd::stream::encode_all(zeros, ZSTD_LEVEL).unwrap());
        let result = decode_blob(&key, &ids, &id, &forge(&key, &id, &body));
        assert!(
            matches!(result, Err(EngineError::TooLarge(MAX_BLOB_SIZE))),
            "{result:?}"
        );
    }

    #[test]
    fn a_chunk_past_the_callers_limit_is_refused_before_it_is_inflated() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let limit = 4096;
        // A bomb naming its size, a streamed one, and a raw chunk.
        let zeros = vec![0u8; limit + 1];
        let named = encode_blob(&key, &ids, &zeros).unwrap();
        let mut streamed = vec![ZSTD];
        streamed.extend(zstd::stream::encode_all(&zeros[..], ZSTD_LEVEL).unwrap());
        let streamed = forge(&key, &named.id, &streamed);
        let raw = encode_blob(&key, &ids, &noise(limit + 1)).unwrap();
        for (id, stored) in [
            (named.id, &named.stored),
            (named.id, &streamed),
            (raw.id, &raw.stored),
        ] {
            let result = decode_blob_within(&key, &ids, &id, stored, limit);
            assert!(
                matches!(result, Err(EngineError::TooLarge(4096))),
                "{result:?}"
            );
        }
        let fits = decode_blob_within(&key, &ids, &named.id, &named.stored, limit + 1);
        assert_eq!(fits.unwrap(), zeros);
    }

    #[test]
    fn oversized_plaintext_is_refused() {
        let key = DataKey::generate().unwrap();
        let ids = key.chunk_id_key();
        let huge = vec![0u8; MAX_BLOB_SIZE + 1];
        assert!(matches!(
            encode_blob(&key, &ids, &huge),
            Err(EngineError::TooLarge(n)) if n == MAX_BLOB_SIZE
        ));
        let largest = vec![0u8; MAX_BLOB_SIZE];
        assert!(encode_blob(&key, &ids, &largest).is_ok());
    }
}
