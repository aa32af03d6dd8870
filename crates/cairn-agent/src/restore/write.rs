//! The workers: write the files from their fetched chunks, small ones
//! together and large ones a window at a time, and set their mode and time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::Context;

use cairn_core::ChunkId;
use cairn_core::direct_io::DirectWriter;
use cairn_engine::CHUNK_MAX;

use super::fetch::{Bounds, chunk};
use super::restorer::{BATCH_IDS, Fetched, FileEntry, Job, Restorer};

/// Bytes of a large file fetched per call, counted at the file's average
/// chunk size: two chunks of the usual 1 MiB, but one at a time where the
/// chunks are large (long runs of zeros or repeats in disk images and
/// databases make chunks of the 8 MiB most). Counting chunks alone, a
/// worker held four such chunks (the window written and the next), and
/// the peak grew with how many such files the snapshot held.
const LARGE_FILE_WINDOW: u64 = 2 * 1024 * 1024;
/// Files from this size up are written with direct I/O (see [`create`]).
const DIRECT_MIN: u64 = 256 * 1024;
/// Bytes a file is written in, with direct I/O.
const DIRECT_WRITE: usize = 1024 * 1024;

/// The bounds of a fetch for files of at most `largest` bytes, `bytes` in
/// all: no chunk longer than the largest file or than the engine makes,
/// and no call holding more than the files claim and one such chunk.
fn bounds(largest: u64, bytes: u64) -> Bounds {
    let chunk = largest.min(u64::from(CHUNK_MAX));
    Bounds {
        chunk: chunk as usize,
        call: bytes.saturating_add(chunk),
    }
}

impl Restorer {
    pub(super) fn work(&self, job: Job) {
        match job {
            Job::Small(files, _held) => self.small_files(files),
            Job::Large(file, _held) => {
                if let Err(err) = self.large_file(&file) {
                    self.fail(&file.path, &format!("{err:#}"));
                }
            }
        }
    }

    fn small_files(&self, files: Vec<FileEntry>) {
        let ids: Vec<ChunkId> = files.iter().flat_map(|f| f.ids.iter().copied()).collect();
        let bytes = files.iter().map(|f| f.size).sum();
        let largest = files.iter().map(|f| f.size).max().unwrap_or(0);
        let chunks = if ids.is_empty() {
            Ok(Fetched::new())
        } else {
            self.fetch(&ids, bytes, bounds(largest, bytes))
        };
        for file in files {
            let result = match &chunks {
                Ok(chunks) => self.write_small(&file, chunks),
                Err(err) => Err(anyhow::anyhow!("{err:#}")),
            };
            if let Err(err) = result {
                self.fail(&file.path, &format!("{err:#}"));
            }
        }
    }

    fn write_small(&self, entry: &FileEntry, chunks: &Fetched) -> anyhow::Result<()> {
        // Check every chunk before creating the file: a damaged one leaves none.
        let parts = entry
            .ids
            .iter()
            .map(|id| chunk(chunks, id))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.write_file(entry, |file| {
            for data in parts {
                write_within(file, entry, data)?;
                self.events.bytes_done(data.len() as u64);
            }
            Ok(())
        })
    }

    fn large_file(&self, entry: &FileEntry) -> anyhow::Result<()> {
        let window = window(entry.size, entry.ids.len());
        let average = entry.size / (entry.ids.len() as u64).max(1);
        self.write_file(entry, |file| self.write_large(file, entry, window, average))
    }

    /// Creates the file, has `fill` write its bytes, and finishes it; a
    /// file that fails is removed: a half-written file must not pass for a
    /// restored one.
    fn write_file(
        &self,
        entry: &FileEntry,
        fill: impl FnOnce(&mut DirectWriter) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let path = &entry.path;
        let mut file = create(path, entry.size)?;
        fill(&mut file)
            .and_then(|()| {
                let written = file.len();
                let done = file
                    .finish()
                    .with_context(|| format!("cannot write {}", path.display()))?;
                self.finish_file(done, entry, written)
            })
            .inspect_err(|_| drop(fs::remove_file(path)))
    }

    /// Writes the file's chunks to `file`, fetched `window` at a time.
    fn write_large(
        &self,
        file: &mut DirectWriter,
        entry: &FileEntry,
        window: usize,
        average: u64,
    ) -> anyhow::Result<()> {
        let fetch = |w: &[ChunkId]| {
            let bytes = average.saturating_mul(w.len() as u64);
            self.fetch(w, bytes, bounds(entry.size, bytes))
        };
        let mut windows = entry.ids.chunks(window);
        let mut current = windows.next().map(|w| (w, fetch(w)));
        while let Some((window, fetched)) = current {
            // Fetch the next window while this one is written.
            let (next, written) = std::thread::scope(|scope| {
                let next = windows.next().map(|w| scope.spawn(move || (w, fetch(w))));
                let written = fetched.and_then(|chunks| {
                    for id in window {
                        let data = chunk(&chunks, id)?;
                        write_within(file, entry, data)?;
                        self.events.bytes_done(data.len() as u64);
                    }
                    Ok(())
                });
                (next.map(|h| h.join()), written)
            });
            written?;
            current = match next {
                Some(Ok(next)) => Some(next),
                Some(Err(_)) => anyhow::bail!("fetching {} stopped", entry.path.display()),
                None => None,
            };
        }
        Ok(())
    }

    /// Checks the size and sets the mode and time through the open file:
    /// no path lookups, and no second open of the file.
    fn finish_file(&self, file: &fs::File, entry: &FileEntry, written: u64) -> anyhow::Result<()> {
        let path = &entry.path;
        if written != entry.size {
            anyhow::bail!("restored {written} bytes, expected {}", entry.size);
        }
        file.set_permissions(fs::Permissions::from_mode(entry.mode))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        filetime::set_file_handle_times(file, None, Some(entry.mtime))
            .with_context(|| format!("cannot set the time of {}", path.display()))?;
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(written, Ordering::Relaxed);
        self.events.file_done();
        Ok(())
    }
}

/// Appends `data` to `file`, never past the size the snapshot records for
/// it: chunks holding more than that fail the file, and nothing past the
/// size is written.
fn write_within(file: &mut DirectWriter, entry: &FileEntry, data: &[u8]) -> anyhow::Result<()> {
    if file.len().saturating_add(data.len() as u64) > entry.size {
        anyhow::bail!(
            "its chunks hold more than its recorded size of {} bytes",
            entry.size
        );
    }
    file.write(data)
        .with_context(|| format!("cannot write {}", entry.path.display()))
}

/// Chunks fetched per call for a file of `size` bytes in `chunks` chunks:
/// [`LARGE_FILE_WINDOW`] bytes at their average size, at least one and at
/// most a call's worth of ids.
fn window(size: u64, chunks: usize) -> usize {
    let average = size / (chunks as u64).max(1);
    usize::try_from(LARGE_FILE_WINDOW / average.max(1))
        .unwrap_or(BATCH_IDS)
        .clamp(1, BATCH_IDS)
}

/// Creates `path` (never over an existing file) for a file of `size`
/// bytes. From [`DIRECT_MIN`] up, the file is written with direct I/O where
/// the filesystem allows it (see [`cairn_core::direct_io`]): a restore of
/// many gigabytes then neither pays for fresh page-cache pages nor pushes
/// the machine's working set out of the cache. Smaller files go through
/// the cache, which lets the system write many of them out together.
fn create(path: &Path, size: u64) -> anyhow::Result<DirectWriter> {
    let write_size = size.min(DIRECT_WRITE as u64) as usize;
    DirectWriter::create_new(path, size >= DIRECT_MIN, write_size).with_context(|| {
        format!(
            "cannot create {} (restore never overwrites)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_are_fetched_by_bytes_not_chunks() {
        let mib = 1024 * 1024;
        // The usual 1 MiB chunks: two a call.
        assert_eq!(window(300 * mib, 300), 2);
        // Small chunks: more per call, for the same bytes.
        assert_eq!(window(100 * mib, 200), 4);
        // Chunks of 8 MiB, or of 3: one at a time.
        assert_eq!(window(80 * mib, 10), 1);
        assert_eq!(window(30 * mib, 10), 1);
        // Chunks too small to be Cairn's, or none: at most a call's ids.
        assert_eq!(window(5 * mib, 5 * mib as usize), BATCH_IDS);
        assert_eq!(window(0, 0), BATCH_IDS);
    }
}
