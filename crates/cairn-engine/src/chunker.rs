//! Content-defined chunking (FastCDC 2020): an edit moves only the chunks
//! around it, so the rest deduplicates.

use std::io::Read;

use fastcdc::v2020::{FastCDC, StreamCDC};

use crate::EngineError;

pub const CHUNK_MIN: u32 = 512 * 1024;
pub const CHUNK_AVG: u32 = 1024 * 1024;
pub const CHUNK_MAX: u32 = 8 * 1024 * 1024;

/// Cuts a reader into chunks, in order. An empty reader yields nothing.
pub fn chunk_stream<R: Read>(reader: R) -> impl Iterator<Item = Result<Vec<u8>, EngineError>> {
    StreamCDC::new(reader, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX).map(|chunk| {
        chunk.map(|c| c.data).map_err(|e| match e {
            fastcdc::v2020::Error::IoError(io) => EngineError::Io(io),
            other => EngineError::Io(std::io::Error::other(other.to_string())),
        })
    })
}

/// Cuts an in-memory buffer into chunks.
pub fn chunk_slice(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    FastCDC::new(data, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX).map(move |c| &data[c.offset..c.offset + c.length])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn chunks_concatenate_to_the_input(len in 0usize..6_000_000, seed in any::<u64>()) {
            let data = pseudo_random(len, seed);
            let streamed: Vec<Vec<u8>> = chunk_stream(&data[..]).collect::<Result<_, _>>().unwrap();
            let sliced: Vec<&[u8]> = chunk_slice(&data).collect();
            prop_assert_eq!(streamed.concat(), data.clone());
            prop_assert_eq!(sliced.concat(), data.clone());
            for chunk in streamed.iter().take(streamed.len().saturating_sub(1)) {
                prop_assert!(chunk.len() >= CHUNK_MIN as usize && chunk.len() <= CHUNK_MAX as usize);
            }
        }
    }

    #[test]
    fn an_insert_in_the_middle_keeps_most_chunks() {
        let data = pseudo_random(24 * 1024 * 1024, 42);
        let mut edited = data.clone();
        edited.splice(12 * 1024 * 1024..12 * 1024 * 1024, b"a few inserted bytes".iter().copied());
        let before: std::collections::HashSet<&[u8]> = chunk_slice(&data).collect();
        let after: Vec<&[u8]> = chunk_slice(&edited).collect();
        let kept = after.iter().filter(|c| before.contains(*c)).count();
        assert!(kept + 3 >= after.len(), "kept {kept} of {}", after.len());
    }
}
