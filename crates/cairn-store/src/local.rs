//! Pack writes to a local-disk bucket.
//!
//! A pack is written once and read rarely (on restore), so it goes to disk
//! with direct I/O where the filesystem allows it: the bytes do not pass
//! through the page cache, which neither fills with backup data nor costs
//! the copy into freshly allocated cache pages. The pack is made durable
//! (`fdatasync`, then the directory) before it is visible, and visible only
//! under its final name: it is written to a staging file in the company's
//! pack folder (`pack#<digits>`, which listings skip), named only once its
//! last byte is hashed, and hard-linked into place, so a second write of the
//! same pack finds the first and never replaces it.
//!
//! A restore reads packs back with direct I/O too ([`read_ranges`]): they
//! were never in the page cache, and reading them through it would again
//! fill freshly allocated cache pages with bytes read once.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::ops::Range;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cairn_core::direct_io::{self, ALIGN, DirectWriter};

/// Bytes gathered into the aligned buffer per write.
const WRITE_SIZE: usize = 1024 * 1024;

/// Wanted ranges at most this far apart are read together: reading the
/// bytes between costs less than another trip to the disk.
const READ_GAP: u64 = 256 * 1024;

/// Ranges read together stop at this many bytes, which bounds one read's
/// buffer (a single range larger than this is read alone, whole).
const READ_SPAN: u64 = 4 * 1024 * 1024;

/// Numbers staging files, with the process id in the high half.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// What a create-only write found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    Created,
    /// A file was already there, of this size.
    Exists(u64),
}

/// Writes `parts` as the file `dest`, create-only and durable.
pub(crate) fn write_create_only(dest: &Path, parts: &[Bytes]) -> io::Result<Written> {
    let mut staging = Staging::create(folder_of(dest)?.to_owned())?;
    for part in parts {
        staging.write(part)?;
    }
    staging.commit(dest)
}

/// A pack being written to its staging file, a part at a time. Dropped
/// before [`Staging::commit`], it removes the staging file.
pub(crate) struct Staging {
    writer: DirectWriter,
    /// `None` once committed.
    path: Option<PathBuf>,
}

impl Staging {
    /// A new staging file in `dir` (created if need be), on the same
    /// filesystem as the pack's final name.
    pub(crate) fn create(dir: PathBuf) -> io::Result<Staging> {
        Self::open(dir, true)
    }

    /// `create`, with direct I/O only if `try_direct` (and possible).
    fn open(dir: PathBuf, try_direct: bool) -> io::Result<Staging> {
        cairn_core::private::create_dir_all(&dir)?;
        loop {
            let suffix = u64::from(std::process::id()) << 32 | NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("pack#{suffix}"));
            match DirectWriter::create_private(&path, try_direct, WRITE_SIZE) {
                Ok(writer) => {
                    return Ok(Staging {
                        writer,
                        path: Some(path),
                    });
                }
                // Left over from a process that stopped mid-write: try another name.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn write(&mut self, part: &[u8]) -> io::Result<()> {
        self.writer.write(part)
    }

    /// Makes the bytes durable and links them in as `dest` (on the staging
    /// file's filesystem), unless something is there already.
    pub(crate) fn commit(mut self, dest: &Path) -> io::Result<Written> {
        let path = self.path.take().expect("a staging file is committed once");
        let written = self.writer.finish().and_then(File::sync_data);
        let linked = written.and_then(|()| link_durably(&path, dest));
        // The staging name goes either way; the pack, if linked, stays.
        let _ = std::fs::remove_file(&path);
        linked
    }
}

/// Hard-links `from` as `dest`, create-only, and makes the new name durable:
/// its folder, and the folder above if that one was new.
fn link_durably(from: &Path, dest: &Path) -> io::Result<Written> {
    let dir = folder_of(dest)?;
    let new_dir = !dir.is_dir();
    if new_dir {
        cairn_core::private::create_dir_all(dir)?;
    }
    match std::fs::hard_link(from, dest) {
        Ok(()) => {
            sync_dir(dir)?;
            if new_dir && let Some(above) = dir.parent() {
                sync_dir(above)?;
            }
            Ok(Written::Created)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            std::fs::metadata(dest).map(|meta| Written::Exists(meta.len()))
        }
        Err(e) => Err(e),
    }
}

/// The folder a pack's path names it in.
fn folder_of(dest: &Path) -> io::Result<&Path> {
    dest.parent()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "a pack path has a directory"))
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether `name` is a staging file's: `<name>#<digits>` (`pack#<digits>` now;
/// `<pack id>#<digits>` from servers that named packs before the upload).
fn is_staging(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(pack, digits)| {
        !pack.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Removes staging files under `root` last modified more than `age` ago.
pub(crate) fn sweep_staging(root: &Path, age: std::time::Duration) -> io::Result<usize> {
    let cutoff = std::time::SystemTime::now()
        .checked_sub(age)
        .unwrap_or(std::time::UNIX_EPOCH);
    let (mut removed, mut dirs) = (0, vec![root.to_path_buf()]);
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file()
                && entry.file_name().to_str().is_some_and(is_staging)
                && entry.metadata()?.modified()? < cutoff
            {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    // Finished or removed meanwhile.
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(removed)
}

/// Reads `ranges` of the file at `path`, given back in the order asked.
/// Ranges close together are read at once, each range being a view of
/// that read's buffer.
pub(crate) fn read_ranges(path: &Path, ranges: &[Range<u64>]) -> io::Result<Vec<Bytes>> {
    read_ranges_with(ranges, |flags| {
        OpenOptions::new().read(true).custom_flags(flags).open(path)
    })
}

/// [`read_ranges`] of the file `open` opens with the extra `open(2)` flags
/// it is given: [`direct_io::O_DIRECT`] first, none once the filesystem
/// refuses it.
fn read_ranges_with(
    ranges: &[Range<u64>],
    mut open: impl FnMut(i32) -> io::Result<File>,
) -> io::Result<Vec<Bytes>> {
    if let Some(bad) = ranges.iter().find(|r| r.start > r.end) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("range {}..{} ends before it starts", bad.start, bad.end),
        ));
    }
    let (mut file, mut direct) = direct_io::open_direct(true, &mut open)?;
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_unstable_by_key(|&i| (ranges[i].start, ranges[i].end));
    let mut out = vec![Bytes::new(); ranges.len()];
    let mut first = 0;
    while first < order.len() {
        let start = ranges[order[first]].start;
        let mut end = ranges[order[first]].end;
        let mut next = first + 1;
        while let Some(range) = order.get(next).map(|&i| &ranges[i]) {
            if range.start > end.saturating_add(READ_GAP) || range.end.max(end) - start > READ_SPAN
            {
                break;
            }
            end = end.max(range.end);
            next += 1;
        }
        let span = match read_span(&file, direct, start..end) {
            // Some filesystems take the open but not the transfer.
            Err(e) if direct && direct_io::refused(&e) => {
                (file, direct) = (open(0)?, false);
                read_span(&file, false, start..end)?
            }
            read => read?,
        };
        for &i in &order[first..next] {
            let range = &ranges[i];
            if range.end - start > span.len() as u64 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!(
                        "the file ends at byte {}, before the end of the range {}..{}",
                        start + span.len() as u64,
                        range.start,
                        range.end
                    ),
                ));
            }
            out[i] = span.slice((range.start - start) as usize..(range.end - start) as usize);
        }
        first = next;
    }
    Ok(out)
}

/// The bytes `range` of `file`, fewer if the file ends first; with direct
/// I/O, read as whole aligned blocks into an aligned buffer.
fn read_span(file: &File, direct: bool, range: Range<u64>) -> io::Result<Bytes> {
    let align = ALIGN as u64;
    let (from, to) = if direct {
        (
            range.start / align * align,
            range.end.next_multiple_of(align),
        )
    } else {
        (range.start, range.end)
    };
    let len = usize::try_from(to - from)
        .ok()
        .filter(|len| {
            len.checked_add(ALIGN)
                .is_some_and(|n| n <= isize::MAX as usize)
        })
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "a read too large for memory"))?;
    let (mut raw, lead) = if direct {
        // No aligned window: the caller reads through the cache.
        direct_io::aligned_buffer(len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?
    } else {
        (vec![0u8; len], 0)
    };
    let buf = &mut raw[lead..lead + len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buf[filled..], from + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Short at the end of the file: the caller says which range it cut.
    let skip = (range.start - from) as usize;
    let end = filled.clamp(skip, skip + (range.end - range.start) as usize);
    Ok(Bytes::from(raw).slice(lead + skip..lead + end))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::direct_io::{ALIGN, O_DIRECT};

    fn parts_of(sizes: &[usize]) -> (Vec<Bytes>, Vec<u8>) {
        let mut all = Vec::new();
        let parts = sizes
            .iter()
            .map(|&n| {
                let part: Vec<u8> = (0..n).map(|i| (all.len() + i) as u8 ^ 0x5a).collect();
                all.extend_from_slice(&part);
                Bytes::from(part)
            })
            .collect();
        (parts, all)
    }

    #[test]
    fn unaligned_parts_are_written_whole_and_exact() {
        let dir = tempfile::tempdir().unwrap();
        // Parts that straddle the aligned buffer, a tail that is not a
        // whole block, and an empty part.
        for sizes in [
            &[1][..],
            &[ALIGN],
            &[WRITE_SIZE - 1, 3, 0, ALIGN + 7],
            &[2 * WRITE_SIZE + 5, 100],
        ] {
            let (parts, all) = parts_of(sizes);
            let dest = dir.path().join(format!("packs/ab/{}", all.len()));
            assert_eq!(write_create_only(&dest, &parts).unwrap(), Written::Created);
            assert_eq!(std::fs::read(&dest).unwrap(), all, "sizes {sizes:?}");
        }
        // Nothing staged is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("packs/ab"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.contains('#'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn plain_writes_where_direct_io_is_not_to_be_had() {
        // The path taken on filesystems that refuse O_DIRECT.
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("ab/pack");
        let mut staging = Staging::open(dir.path().to_owned(), false).unwrap();
        assert!(!staging.writer.is_direct());
        let (parts, all) = parts_of(&[ALIGN + 3, 10]);
        for part in &parts {
            staging.write(part).unwrap();
        }
        assert_eq!(staging.commit(&dest).unwrap(), Written::Created);
        assert_eq!(std::fs::read(&dest).unwrap(), all);
    }

    #[test]
    fn a_write_dropped_before_its_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let packs = dir.path().join("packs");
        let mut staging = Staging::create(packs.clone()).unwrap();
        staging.write(&[7; 3 * ALIGN + 1]).unwrap();
        drop(staging);
        assert_eq!(std::fs::read_dir(&packs).unwrap().count(), 0);
    }

    #[test]
    fn a_second_write_finds_the_first_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("pack");
        let (first, all) = parts_of(&[5000]);
        assert_eq!(write_create_only(&dest, &first).unwrap(), Written::Created);
        let (second, _) = parts_of(&[10]);
        assert_eq!(
            write_create_only(&dest, &second).unwrap(),
            Written::Exists(5000)
        );
        assert_eq!(std::fs::read(&dest).unwrap(), all);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_staging_name_left_by_a_stopped_write_is_stepped_over() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("pack");
        // Occupy the staging names this process picks next (other tests
        // running at the same time take a few of them, never a thousand).
        let pid = u64::from(std::process::id()) << 32;
        let next = NEXT.load(Ordering::Relaxed);
        let occupied: Vec<PathBuf> = (next..next + 1000)
            .map(|n| dir.path().join(format!("pack#{}", pid | n)))
            .collect();
        for path in &occupied {
            std::fs::write(path, b"junk").unwrap();
        }
        let (parts, all) = parts_of(&[300]);
        assert_eq!(write_create_only(&dest, &parts).unwrap(), Written::Created);
        assert_eq!(std::fs::read(&dest).unwrap(), all);
        for path in &occupied {
            assert_eq!(std::fs::read(path).unwrap(), b"junk");
        }
    }

    #[test]
    fn only_old_staging_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let packs = dir.path().join("companies/c1/packs/ab");
        std::fs::create_dir_all(&packs).unwrap();
        let day = std::time::Duration::from_secs(86_400);
        let two_days_ago = std::time::SystemTime::now() - 2 * day;
        for (name, old) in [
            ("abcd", true),
            ("abcd#4294967296", true),
            ("abcd#4294967297", false),
            ("notes#draft", true),
            ("#12", true),
        ] {
            let file = File::create(packs.join(name)).unwrap();
            if old {
                file.set_modified(two_days_ago).unwrap();
            }
        }
        assert_eq!(sweep_staging(dir.path(), day).unwrap(), 1);
        let mut left: Vec<String> = std::fs::read_dir(&packs)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["#12", "abcd", "abcd#4294967297", "notes#draft"]);
    }

    /// A file of `len` bytes that differ from block to block.
    fn sample_file(dir: &Path, len: usize) -> (PathBuf, Vec<u8>) {
        let all: Vec<u8> = (0..len)
            .map(|i| (i % 251) as u8 ^ (i / ALIGN) as u8)
            .collect();
        let path = dir.join("pack");
        std::fs::write(&path, &all).unwrap();
        (path, all)
    }

    /// Reads `ranges` of `path`, direct where the filesystem allows it or,
    /// with `plain`, as on one that refuses it. Returns the flags asked for.
    fn read_as(
        path: &Path,
        ranges: &[Range<u64>],
        plain: bool,
    ) -> (io::Result<Vec<Bytes>>, Vec<i32>) {
        let mut asked = Vec::new();
        let read = read_ranges_with(ranges, |flags| {
            asked.push(flags);
            if plain && flags & O_DIRECT != 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            OpenOptions::new().read(true).custom_flags(flags).open(path)
        });
        (read, asked)
    }

    #[test]
    fn ranges_are_read_exactly_and_in_the_order_asked() {
        let dir = tempfile::tempdir().unwrap();
        let len = 2 * READ_SPAN + 12_345;
        let (path, all) = sample_file(dir.path(), len as usize);
        let block = ALIGN as u64;
        let ranges = [
            len - 10..len,
            0..1,
            1..block + 1,
            5..5,
            0..1,
            100..200,
            READ_GAP + 1000..READ_GAP + 5000,
            3 * READ_GAP..3 * READ_GAP + 1,
            1_000_000..1_000_000 + READ_SPAN + 3,
            len..len,
        ];
        for plain in [false, true] {
            let (read, asked) = read_as(&path, &ranges, plain);
            let read = read.unwrap();
            assert_eq!(read.len(), ranges.len());
            for (range, got) in ranges.iter().zip(&read) {
                assert_eq!(
                    &got[..],
                    &all[range.start as usize..range.end as usize],
                    "{range:?}, plain {plain}"
                );
            }
            assert_eq!(
                asked,
                if plain {
                    vec![O_DIRECT, 0]
                } else {
                    vec![O_DIRECT]
                }
            );
        }
        assert!(read_ranges(&path, &[]).unwrap().is_empty());
    }

    #[test]
    fn any_ranges_read_back_exactly() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestRunner};

        let dir = tempfile::tempdir().unwrap();
        let len = READ_SPAN + 3 * READ_GAP + 77;
        let (path, all) = sample_file(dir.path(), len as usize);
        let block = ALIGN as u64;
        let range = (
            0..=len,
            prop_oneof![4 => 0..3 * block, 1 => 0..READ_SPAN + block],
        )
            .prop_map(move |(start, size)| start..(start + size).min(len));
        let mut runner = TestRunner::new(Config {
            cases: 48,
            ..Config::default()
        });
        runner
            .run(
                &(proptest::collection::vec(range, 0..10), any::<bool>()),
                |(ranges, plain)| {
                    let (read, _) = read_as(&path, &ranges, plain);
                    let read = read.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(read.len(), ranges.len());
                    for (range, got) in ranges.iter().zip(&read) {
                        prop_assert!(got[..] == all[range.start as usize..range.end as usize]);
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn a_range_past_the_end_backwards_or_of_no_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = sample_file(dir.path(), 3 * ALIGN + 5);
        let len = 3 * ALIGN as u64 + 5;
        for plain in [false, true] {
            let err = read_as(&path, &[0..1, len - 2..len + 1], plain)
                .0
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
            assert!(
                err.to_string()
                    .contains(&format!("range {}..{}", len - 2, len + 1)),
                "{err}"
            );
            let err = read_as(&path, &[0..0, len + 10..len + 20], plain)
                .0
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
            #[allow(clippy::reversed_empty_ranges)]
            let err = read_as(&path, &[0..1, 9..8], plain).0.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains("9..8"), "{err}");
        }
        let err = read_ranges(&dir.path().join("gone"), &[0..1, 2..3]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }
}
