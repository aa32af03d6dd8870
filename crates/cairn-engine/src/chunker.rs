//! Content-defined chunking (FastCDC 2020): an edit moves only the chunks
//! around it, so the rest deduplicates.

use std::io::Read;

use fastcdc::v2020::{FastCDC, StreamCDC};

use crate::EngineError;

pub const CHUNK_MIN: u32 = 512 * 1024;
pub const CHUNK_AVG: u32 = 1024 * 1024;
pub const CHUNK_MAX: u32 = 8 * 1024 * 1024;

/// Cuts a reader into chunks, in order. An empty reader yields nothing; a
/// read error is yielded once and ends the stream. Holds at most
/// `CHUNK_MAX` bytes of the reader in memory.
pub fn chunk_stream<R: Read>(reader: R) -> impl Iterator<Item = Result<Vec<u8>, EngineError>> {
    let mut chunks = StreamCDC::new(reader, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match chunks.next()? {
            Ok(chunk) => Some(Ok(chunk.data)),
            Err(err) => {
                failed = true;
                Some(Err(match err {
                    fastcdc::v2020::Error::IoError(io) => EngineError::Io(io),
                    other => EngineError::Io(std::io::Error::other(other.to_string())),
                }))
            }
        }
    })
}

/// Cuts an in-memory buffer into chunks, at the same places `chunk_stream`
/// would.
pub fn chunk_slice(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    FastCDC::new(data, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX)
        .map(move |c| &data[c.offset..c.offset + c.length])
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::{Seek, Write};

    use proptest::prelude::*;

    use super::*;

    const MIB: usize = 1024 * 1024;

    /// Incompressible, reproducible bytes (xorshift).
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

    fn assert_sizes(chunks: &[&[u8]]) {
        for (i, chunk) in chunks
            .iter()
            .enumerate()
            .take(chunks.len().saturating_sub(1))
        {
            let len = chunk.len();
            assert!(
                (CHUNK_MIN as usize..=CHUNK_MAX as usize).contains(&len),
                "chunk {i} is {len} bytes"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn chunks_concatenate_to_the_input(len in 0usize..5 * MIB, seed in any::<u64>()) {
            let data = pseudo_random(len, seed);
            let streamed: Vec<Vec<u8>> = chunk_stream(&data[..]).collect::<Result<_, _>>().unwrap();
            let sliced: Vec<&[u8]> = chunk_slice(&data).collect();
            prop_assert_eq!(streamed.concat(), data.clone());
            prop_assert_eq!(sliced.concat(), data.clone());
            prop_assert_eq!(&streamed, &sliced);
            assert_sizes(&sliced);
        }
    }

    #[test]
    fn empty_input_yields_nothing() {
        assert_eq!(chunk_stream(&[][..]).count(), 0);
        assert_eq!(chunk_slice(&[]).count(), 0);
    }

    #[test]
    fn runs_of_equal_bytes_are_cut_at_the_maximum() {
        let data = vec![0u8; 20 * MIB];
        let chunks: Vec<&[u8]> = chunk_slice(&data).collect();
        assert_sizes(&chunks);
        assert_eq!(chunks.concat(), data);
    }

    #[test]
    fn a_file_streams_into_the_same_chunks_as_its_bytes() {
        let data = pseudo_random(6 * MIB + 123, 7);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        file.rewind().unwrap();
        let streamed: Vec<Vec<u8>> = chunk_stream(file).collect::<Result<_, _>>().unwrap();
        let sliced: Vec<&[u8]> = chunk_slice(&data).collect();
        assert!(sliced.len() > 2);
        assert_eq!(streamed, sliced);
    }

    #[test]
    fn a_read_error_is_yielded_once() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let results: Vec<_> = chunk_stream(Broken).collect();
        assert_eq!(results.len(), 1);
        assert!(
            matches!(&results[0], Err(EngineError::Io(e)) if e.to_string().contains("disk on fire"))
        );
    }

    #[test]
    fn an_edit_in_the_middle_keeps_most_chunks() {
        let data = pseudo_random(16 * MIB, 42);
        let before: HashSet<&[u8]> = chunk_slice(&data).collect();
        for (at, inserted) in [(8 * MIB, 20), (5 * MIB + 77, 1), (11 * MIB + 3, 4096)] {
            let mut edited = data.clone();
            edited.splice(at..at, pseudo_random(inserted, at as u64));
            let after: Vec<&[u8]> = chunk_slice(&edited).collect();
            let kept = after.iter().filter(|c| before.contains(*c)).count();
            assert!(
                kept + 2 >= after.len(),
                "insert at {at}: kept {kept} of {}",
                after.len()
            );
        }
    }
}
