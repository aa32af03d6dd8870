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

use std::fs::File;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cairn_core::direct_io::DirectWriter;

/// Bytes gathered into the aligned buffer per write.
const WRITE_SIZE: usize = 1024 * 1024;

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
        std::fs::create_dir_all(&dir)?;
        loop {
            let suffix = u64::from(std::process::id()) << 32 | NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("pack#{suffix}"));
            match DirectWriter::create_new(&path, try_direct, WRITE_SIZE) {
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
        std::fs::create_dir_all(dir)?;
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

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::direct_io::ALIGN;

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
}
