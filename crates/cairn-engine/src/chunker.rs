//! Content-defined chunking (FastCDC 2020): an edit moves only the chunks
//! around it, so the rest deduplicates.

use std::io::Read;

use fastcdc::v2020::FastCDC;

use crate::EngineError;

/// Cut sizes. An edit in the middle of a large file costs about one new chunk,
/// so the average sets what a daily backup of edited files stores: on the
/// benchmark's second version (inserts, deletes and appends in about 3,500
/// files), 512 KiB / 1 MiB / 8 MiB stored 217 MiB of new chunks and
/// 256 KiB / 512 KiB / 8 MiB 194 MiB. Most files are smaller than one chunk
/// either way, so the halved average added under 1% to the chunk count of
/// the first backup. The maximum stays at 8 MiB: long runs of zeros or
/// repeats still make few chunks.
pub const CHUNK_MIN: u32 = 256 * 1024;
pub const CHUNK_AVG: u32 = 512 * 1024;
/// The largest chunk the engine makes, file data and trees alike: FastCDC's
/// longest cut, the most [`crate::encode_blob`] seals, and the most
/// plaintext a pack record may claim ([`crate::validate_pack_records`]).
pub const CHUNK_MAX: u32 = 8 * 1024 * 1024;

/// Bytes read ahead by [`chunk_stream`]: the largest chunk and a little more
/// (a refill moves only the last, uncut chunk to the front).
const READ_AHEAD: usize = CHUNK_MAX as usize + 2 * 1024 * 1024;

/// Cuts a reader into chunks, in order, at the same places [`chunk_slice`]
/// cuts the reader's bytes. An empty reader yields nothing; a read error is
/// yielded once and ends the stream. Holds at most `CHUNK_MAX` + 2 MiB
/// of the reader in memory, and only as much as a small file needs.
pub fn chunk_stream<R: Read>(reader: R) -> impl Iterator<Item = Result<Vec<u8>, EngineError>> {
    ChunkStream::new(reader, READ_AHEAD)
}

/// A chunking buffer kept across files, for a thread that reads many: its
/// read-ahead is allocated once instead of once per file.
#[derive(Default)]
pub struct Chunker {
    buf: Vec<u8>,
}

impl Chunker {
    pub fn new() -> Chunker {
        Chunker::default()
    }

    /// Cuts `reader` at the same places as [`chunk_stream`], handing each
    /// chunk to `each` in order. A read error is the outer error; an error
    /// of `each` stops the file and is the inner one.
    pub fn for_each_chunk<R, E, F>(
        &mut self,
        reader: R,
        mut each: F,
    ) -> Result<Result<(), E>, EngineError>
    where
        R: Read,
        F: FnMut(&[u8]) -> Result<(), E>,
    {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut stream = ChunkStream::with_buffer(reader, READ_AHEAD, buf);
        let result = loop {
            match stream.next_slice() {
                None => break Ok(Ok(())),
                Some(Err(err)) => break Err(err),
                Some(Ok(chunk)) => {
                    if let Err(err) = each(chunk) {
                        break Ok(Err(err));
                    }
                }
            }
        };
        self.buf = stream.buf;
        result
    }
}

struct ChunkStream<R> {
    reader: R,
    /// Read but not yet cut: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    capacity: usize,
    eof: bool,
    failed: bool,
}

impl<R: Read> ChunkStream<R> {
    fn new(reader: R, capacity: usize) -> ChunkStream<R> {
        ChunkStream::with_buffer(reader, capacity, Vec::new())
    }

    /// `buf` must be empty; its capacity is reused.
    fn with_buffer(reader: R, capacity: usize, buf: Vec<u8>) -> ChunkStream<R> {
        // A cut depends on at most CHUNK_MAX bytes from its chunk's start.
        debug_assert!(capacity > CHUNK_MAX as usize);
        debug_assert!(buf.is_empty());
        ChunkStream {
            reader,
            buf,
            pos: 0,
            capacity,
            eof: false,
            failed: false,
        }
    }

    /// Moves the uncut bytes to the front and reads until the buffer is full
    /// or the reader ends.
    fn refill(&mut self) -> std::io::Result<()> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        let want = self.capacity - self.buf.len();
        let read = (&mut self.reader)
            .take(want as u64)
            .read_to_end(&mut self.buf)?;
        if read < want {
            self.eof = true;
        }
        Ok(())
    }
}

impl<R: Read> ChunkStream<R> {
    /// The next chunk, borrowed from the read-ahead buffer.
    fn next_slice(&mut self) -> Option<Result<&[u8], EngineError>> {
        loop {
            if self.failed {
                return None;
            }
            let rest = &self.buf[self.pos..];
            if let Some(cut) = FastCDC::new(rest, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX).next() {
                // A cut at the end of what was read may only be where the
                // read stopped: it stands only at the end of the reader.
                if cut.length < rest.len() || self.eof {
                    let start = self.pos;
                    self.pos += cut.length;
                    return Some(Ok(&self.buf[start..self.pos]));
                }
            } else if self.eof {
                return None;
            }
            if let Err(err) = self.refill() {
                self.failed = true;
                return Some(Err(EngineError::Io(err)));
            }
        }
    }
}

impl<R: Read> Iterator for ChunkStream<R> {
    type Item = Result<Vec<u8>, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_slice().map(|chunk| chunk.map(<[u8]>::to_vec))
    }
}

/// Cuts an in-memory buffer into chunks, at the same places `chunk_stream`
/// would.
pub fn chunk_slice(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    FastCDC::new(data, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX)
        .map(move |c| &data[c.offset..c.offset + c.length])
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;
    use std::io::{Seek, Write};

    use proptest::prelude::*;

    use super::*;

    const MIB: usize = 1024 * 1024;

    /// Incompressible, reproducible bytes (xorshift).
    pub(crate) fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
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

    /// Returns at most `step` bytes per read, like a pipe or a slow disk.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.data.len().min(self.step).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn refills_cut_where_the_whole_buffer_would() {
        // Random data, then a run of zeros (cut at the maximum), then random
        // again: many refills of the smallest buffer allowed, short reads.
        let mut data = pseudo_random(23 * MIB + 5, 3);
        data.extend(vec![0u8; 17 * MIB]);
        data.extend(pseudo_random(9 * MIB + 1, 4));
        let sliced: Vec<&[u8]> = chunk_slice(&data).collect();
        for capacity in [
            CHUNK_MAX as usize + 1,
            READ_AHEAD,
            3 * CHUNK_MAX as usize + 17,
        ] {
            let reader = Trickle {
                data: &data,
                step: 300_001,
            };
            let streamed: Vec<Vec<u8>> = ChunkStream::new(reader, capacity)
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(streamed, sliced, "capacity {capacity}");
        }
    }

    #[test]
    fn a_reused_chunker_cuts_each_file_afresh() {
        let big = pseudo_random(21 * MIB + 7, 8);
        let small = pseudo_random(700 * 1024, 9);
        let mut chunker = Chunker::new();
        for data in [&big, &small, &big, &Vec::new()] {
            let mut got: Vec<Vec<u8>> = Vec::new();
            chunker
                .for_each_chunk(&data[..], |c| {
                    got.push(c.to_vec());
                    Ok::<_, ()>(())
                })
                .unwrap()
                .unwrap();
            let want: Vec<&[u8]> = chunk_slice(data).collect();
            assert_eq!(got, want);
        }
        // A callback's error stops the file and is returned; the next file
        // is cut from its start.
        let mut seen = 0;
        let stopped = chunker.for_each_chunk(&big[..], |_| {
            seen += 1;
            if seen == 2 { Err("stop") } else { Ok(()) }
        });
        assert_eq!(stopped.unwrap(), Err("stop"));
        assert_eq!(seen, 2);
        let mut first = None;
        chunker
            .for_each_chunk(&small[..], |c| {
                first.get_or_insert_with(|| c.to_vec());
                Ok::<_, ()>(())
            })
            .unwrap()
            .unwrap();
        assert_eq!(first.as_deref(), chunk_slice(&small).next());
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
