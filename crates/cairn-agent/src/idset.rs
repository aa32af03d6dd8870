//! Sets of chunk ids that grow with the size of a backup, kept in bounded
//! memory: the ids a snapshot references (spilled to disk in sorted runs),
//! and the ids met recently in a run (two generations, the older dropped).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use cairn_core::ChunkId;

/// Ids held in memory before a sorted run goes to disk: 4 MiB.
const RUN_IDS: usize = 128 * 1024;

/// Bytes read from a run at a time while the runs are merged.
const RUN_READ: usize = 2048 * ChunkId::LEN;

/// The chunks a snapshot references: gathered in any order, given back in
/// ascending order without repeats, as a snapshot commit wants them.
///
/// Up to [`RUN_IDS`] ids are held in memory. When the buffer fills it is
/// sorted and deduplicated; if it is still more than half full, it is
/// written as a sorted run to an unnamed temporary file (removed by the
/// system when it is closed) in `dir`, and the runs are merged as they are
/// read back. Memory stays flat however many chunks the backup holds.
pub(crate) struct ReferencedIds {
    dir: PathBuf,
    ids: Vec<ChunkId>,
    spill: Option<File>,
    /// Byte offset and id count of each run in `spill`.
    runs: Vec<(u64, u64)>,
    end: u64,
}

impl ReferencedIds {
    pub(crate) fn new(dir: &Path) -> ReferencedIds {
        ReferencedIds {
            dir: dir.to_owned(),
            ids: Vec::new(),
            spill: None,
            runs: Vec::new(),
            end: 0,
        }
    }

    pub(crate) fn insert(&mut self, id: ChunkId) -> anyhow::Result<()> {
        if self.ids.len() == RUN_IDS {
            self.ids.sort_unstable();
            self.ids.dedup();
            if self.ids.len() > RUN_IDS / 2 {
                self.spill_run()?;
            }
        }
        self.ids.push(id);
        Ok(())
    }

    pub(crate) fn extend(&mut self, ids: impl IntoIterator<Item = ChunkId>) -> anyhow::Result<()> {
        ids.into_iter().try_for_each(|id| self.insert(id))
    }

    /// Sorts the buffer and appends it to the spill file as one run.
    fn spill_run(&mut self) -> anyhow::Result<()> {
        self.ids.sort_unstable();
        self.ids.dedup();
        let file = match &mut self.spill {
            Some(file) => file,
            None => self
                .spill
                .insert(tempfile::tempfile_in(&self.dir).with_context(|| {
                    format!(
                        "cannot create a temporary file in {} for the snapshot's chunk list",
                        self.dir.display()
                    )
                })?),
        };
        let mut out = std::io::BufWriter::with_capacity(RUN_READ, &*file);
        for id in &self.ids {
            out.write_all(id.as_bytes())?;
        }
        out.flush().with_context(|| {
            format!(
                "cannot write the snapshot's chunk list to a temporary file in {}",
                self.dir.display()
            )
        })?;
        self.runs.push((self.end, self.ids.len() as u64));
        self.end += (self.ids.len() * ChunkId::LEN) as u64;
        self.ids.clear();
        Ok(())
    }

    /// At most the bytes of the ids given back (repeats not yet dropped
    /// count too), to size the transfer that sends them.
    pub(crate) fn max_bytes(&self) -> u64 {
        self.end + (self.ids.len() * ChunkId::LEN) as u64
    }

    /// Loses what was spilled, as a failing disk would.
    #[cfg(test)]
    pub(crate) fn lose_spilled(&self) {
        if let Some(file) = &self.spill {
            file.set_len(0).unwrap();
        }
    }

    /// The ids in ascending order, each once.
    pub(crate) fn into_sorted(mut self) -> anyhow::Result<SortedIds> {
        if self.spill.is_none() {
            self.ids.sort_unstable();
            self.ids.dedup();
            return Ok(SortedIds::Memory(self.ids.into_iter()));
        }
        if !self.ids.is_empty() {
            self.spill_run()?;
        }
        let file = self.spill.take().context("the spill file is gone")?;
        let mut runs = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::with_capacity(self.runs.len());
        for (index, &(offset, count)) in self.runs.iter().enumerate() {
            let mut run = Run {
                file: file.try_clone()?,
                offset,
                left: count,
                buf: Vec::new(),
                at: 0,
                last: None,
            };
            if let Some(id) = run.next_id()? {
                heap.push(Reverse((id, index)));
            }
            runs.push(run);
        }
        Ok(SortedIds::Merged {
            runs,
            heap,
            last: None,
        })
    }
}

/// One sorted run of the spill file, read a block at a time.
pub(crate) struct Run {
    file: File,
    offset: u64,
    left: u64,
    buf: Vec<u8>,
    at: usize,
    last: Option<ChunkId>,
}

impl Run {
    fn next_id(&mut self) -> anyhow::Result<Option<ChunkId>> {
        if self.at == self.buf.len() {
            if self.left == 0 {
                return Ok(None);
            }
            let take = (self.left as usize).min(RUN_READ / ChunkId::LEN);
            self.buf.resize(take * ChunkId::LEN, 0);
            self.file
                .read_exact_at(&mut self.buf, self.offset)
                .context("cannot read back the snapshot's chunk list")?;
            self.offset += self.buf.len() as u64;
            self.left -= take as u64;
            self.at = 0;
        }
        let id = ChunkId::from_slice(&self.buf[self.at..self.at + ChunkId::LEN], "id")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        self.at += ChunkId::LEN;
        // A run was written in strictly ascending order: anything else read
        // back is damage (a lost or overwritten temporary file), not ids.
        if self.last.is_some_and(|last| id <= last) {
            anyhow::bail!(
                "cannot read back the snapshot's chunk list: its temporary file holds ids out of order"
            );
        }
        self.last = Some(id);
        Ok(Some(id))
    }
}

/// [`ReferencedIds`] read back in order.
pub(crate) enum SortedIds {
    Memory(std::vec::IntoIter<ChunkId>),
    Merged {
        runs: Vec<Run>,
        heap: BinaryHeap<Reverse<(ChunkId, usize)>>,
        last: Option<ChunkId>,
    },
}

impl Iterator for SortedIds {
    type Item = anyhow::Result<ChunkId>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            SortedIds::Memory(ids) => ids.next().map(Ok),
            SortedIds::Merged { runs, heap, last } => loop {
                let Reverse((id, index)) = heap.pop()?;
                match runs[index].next_id() {
                    Ok(Some(next)) => heap.push(Reverse((next, index))),
                    Ok(None) => {}
                    Err(err) => {
                        heap.clear();
                        return Some(Err(err));
                    }
                }
                if *last != Some(id) {
                    *last = Some(id);
                    return Some(Ok(id));
                }
            },
        }
    }
}

/// Ids met in one generation before it is retired.
const SEEN_GENERATION: usize = 100_000;

/// The chunks a run has met lately, so each goes out once: the current
/// generation and the one before it, at most [`SEEN_GENERATION`] ids each.
/// When the current one fills, the older is dropped. A chunk met that long
/// ago has had time to reach the server, whose answer to the missing-chunk
/// question then stands in for this set; if it is somehow still on its way,
/// it is sent twice, which costs its bytes and nothing else (the server
/// keeps the first copy).
#[derive(Default)]
pub(crate) struct RecentIds {
    current: HashSet<ChunkId>,
    older: HashSet<ChunkId>,
}

impl RecentIds {
    /// True if `id` was not met lately; it is remembered from now on.
    pub(crate) fn insert(&mut self, id: ChunkId) -> bool {
        if self.older.contains(&id) || self.current.contains(&id) {
            return false;
        }
        if self.current.len() == SEEN_GENERATION {
            self.older = std::mem::take(&mut self.current);
        }
        self.current.insert(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ChunkId {
        let mut bytes = [0u8; 32];
        // Spread over the first bytes so the order is not the insert order.
        bytes[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        bytes[8..16].copy_from_slice(&n.to_be_bytes());
        ChunkId(bytes)
    }

    fn collect(set: ReferencedIds) -> Vec<ChunkId> {
        set.into_sorted()
            .unwrap()
            .collect::<anyhow::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_small_set_comes_back_sorted_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = ReferencedIds::new(dir.path());
        set.extend([id(3), id(1), id(2), id(3), id(1)]).unwrap();
        let mut want = vec![id(1), id(2), id(3)];
        want.sort();
        assert_eq!(collect(set), want);
    }

    #[test]
    fn a_set_larger_than_memory_is_spilled_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = ReferencedIds::new(dir.path());
        let n = (RUN_IDS * 3 + RUN_IDS / 3) as u64;
        // Every id twice, the repeats far apart: in different runs.
        for round in 0..2 {
            for i in 0..n {
                let i = if round == 0 { i } else { n - 1 - i };
                set.insert(id(i)).unwrap();
            }
        }
        assert!(set.runs.len() >= 4, "{} runs", set.runs.len());
        let got = collect(set);
        let mut want: Vec<ChunkId> = (0..n).map(id).collect();
        want.sort();
        assert_eq!(got.len(), want.len());
        assert!(got == want);
    }

    #[test]
    fn a_spilled_run_that_cannot_be_read_back_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = ReferencedIds::new(dir.path());
        set.extend((0..RUN_IDS as u64 * 2).map(id)).unwrap();
        set.lose_spilled();
        let message = match set.into_sorted() {
            Err(err) => format!("{err:#}"),
            Ok(ids) => format!("{:#}", ids.filter_map(Result::err).next().unwrap()),
        };
        assert!(message.contains("cannot read back"), "{message}");
    }

    #[test]
    fn repeats_within_a_buffer_do_not_spill() {
        let dir = tempfile::tempdir().unwrap();
        let mut set = ReferencedIds::new(dir.path());
        for i in 0..(RUN_IDS as u64 * 4) {
            set.insert(id(i % 1000)).unwrap();
        }
        assert!(set.runs.is_empty());
        assert_eq!(collect(set).len(), 1000);
    }

    #[test]
    fn a_spill_folder_that_does_not_exist_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let mut set = ReferencedIds::new(&missing);
        let err = (0..=RUN_IDS as u64)
            .try_for_each(|i| set.insert(id(i)))
            .unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("cannot create a temporary file"),
            "{message}"
        );
        assert!(message.contains("gone"), "{message}");
    }

    #[test]
    fn recent_ids_forget_only_two_generations_back() {
        let mut seen = RecentIds::default();
        assert!(seen.insert(id(0)));
        assert!(!seen.insert(id(0)));
        for i in 1..SEEN_GENERATION as u64 {
            assert!(seen.insert(id(i)));
        }
        // The first generation is full: the next id starts the second, and
        // the first is still remembered.
        assert!(seen.insert(id(u64::MAX)));
        assert!(!seen.insert(id(0)));
        for i in 0..SEEN_GENERATION as u64 - 1 {
            assert!(seen.insert(id(1_000_000 + i)));
        }
        // A third generation begins: the first is forgotten.
        assert!(seen.insert(id(2_000_000)));
        assert!(seen.insert(id(0)));
        assert!(!seen.insert(id(u64::MAX)));
    }
}
