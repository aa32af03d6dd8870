//! Writing a new file with direct I/O where the filesystem allows it.
//!
//! Bytes written through the page cache are first copied into freshly
//! allocated cache pages, and on a machine whose memory is handed out lazily
//! (most virtual machines) touching those pages for the first time costs far
//! more than the copy: on a 2-core virtual machine, writing 1.5 GB took
//! 1.3 to 5 s of kernel time that way, against 0.25 s with `O_DIRECT`. Packs (written once, read
//! rarely) and the large files of a restore (which would also push the
//! machine's working set out of the cache) are written directly; a
//! filesystem that refuses `O_DIRECT` gets plain writes.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Direct I/O needs buffers, offsets and lengths aligned to the device's
/// logical block size; 4 KiB covers every common device.
pub const ALIGN: usize = 4096;

/// The `open(2)` flag of direct I/O.
pub const O_DIRECT: i32 = libc::O_DIRECT;

/// Whether `err` is a filesystem refusing direct I/O (`EINVAL`, on open or
/// on a transfer it cannot take): the caller then goes through the cache.
pub fn refused(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::EINVAL)
}

/// Opens a file with `open`, which is given the extra `open(2)` flags to
/// use: [`O_DIRECT`] first when `try_direct`, none if the filesystem
/// refuses it. Returns the file and whether it takes direct I/O.
pub fn open_direct(
    try_direct: bool,
    mut open: impl FnMut(i32) -> io::Result<File>,
) -> io::Result<(File, bool)> {
    if try_direct {
        match open(O_DIRECT) {
            Ok(file) => return Ok((file, true)),
            Err(e) if refused(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((open(0)?, false))
}

/// A zeroed buffer with room for `len` bytes from an [`ALIGN`]-aligned
/// offset, and that offset; `None` where no aligned window can be had
/// (`align_offset` may give up): the caller then goes through the cache.
pub fn aligned_buffer(len: usize) -> Option<(Vec<u8>, usize)> {
    let raw = vec![0u8; len.checked_add(ALIGN)?];
    let start = raw.as_ptr().align_offset(ALIGN);
    (start < ALIGN).then_some((raw, start))
}

/// A file being written from its start, through an aligned buffer when it
/// was opened with [`O_DIRECT`]. [`DirectWriter::finish`] writes the tail.
pub struct DirectWriter {
    file: File,
    direct: bool,
    /// The buffer; the aligned window starts at `start`.
    raw: Vec<u8>,
    start: usize,
    size: usize,
    filled: usize,
    len: u64,
}

impl DirectWriter {
    /// Opens a file with `open`, which is given the extra `open(2)` flags to
    /// use ([`O_DIRECT`] or 0): direct I/O first when `try_direct`, plain
    /// if the filesystem refuses it (`EINVAL`). Direct writes go out
    /// `write_size` bytes at a time (rounded up to [`ALIGN`]).
    pub fn open(
        try_direct: bool,
        write_size: usize,
        open: impl FnMut(i32) -> io::Result<File>,
    ) -> io::Result<DirectWriter> {
        let size = write_size.max(1).next_multiple_of(ALIGN);
        // The aligned window is found before the file is opened: without
        // one, the file is written plainly.
        let window = if try_direct {
            aligned_buffer(size)
        } else {
            None
        };
        let (file, direct) = open_direct(window.is_some(), open)?;
        let (raw, start) = match window {
            Some(window) if direct => window,
            _ => (Vec::new(), 0),
        };
        Ok(DirectWriter {
            file,
            direct,
            raw,
            start,
            size,
            filled: 0,
            len: 0,
        })
    }

    /// [`DirectWriter::open`] of a new file at `path`, never over an
    /// existing one (`AlreadyExists`).
    pub fn create_new(
        path: &Path,
        try_direct: bool,
        write_size: usize,
    ) -> io::Result<DirectWriter> {
        DirectWriter::open(try_direct, write_size, |flags| {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(flags)
                .open(path)
        })
    }

    /// [`DirectWriter::create_new`] of a file only its owner may read
    /// (mode 0600, whatever the umask): what a server stores for a tenant.
    pub fn create_private(
        path: &Path,
        try_direct: bool,
        write_size: usize,
    ) -> io::Result<DirectWriter> {
        DirectWriter::open(try_direct, write_size, |flags| {
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(crate::private::FILE_MODE)
                .custom_flags(flags)
                .open(path)?;
            crate::private::restrict_file(&file)?;
            Ok(file)
        })
    }

    /// Whether the file takes direct I/O.
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `part`.
    pub fn write(&mut self, mut part: &[u8]) -> io::Result<()> {
        self.len += part.len() as u64;
        if !self.direct {
            return self.file.write_all(part);
        }
        let size = self.size;
        let buf = &mut self.raw[self.start..self.start + size];
        while !part.is_empty() {
            let n = part.len().min(size - self.filled);
            buf[self.filled..self.filled + n].copy_from_slice(&part[..n]);
            (self.filled, part) = (self.filled + n, &part[n..]);
            if self.filled == size {
                self.file.write_all(buf)?;
                self.filled = 0;
            }
        }
        Ok(())
    }

    /// Writes what is left (as whole blocks, then cut to the length) and
    /// gives the file, still open, for what is done through it last.
    pub fn finish(&mut self) -> io::Result<&File> {
        if self.filled > 0 {
            let padded = self.filled.next_multiple_of(ALIGN);
            let buf = &mut self.raw[self.start..self.start + padded];
            buf[self.filled..].fill(0);
            self.file.write_all(buf)?;
            self.filled = 0;
            self.file.set_len(self.len)?;
        }
        Ok(&self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ 0x5a).collect()
    }

    #[test]
    fn unaligned_parts_are_written_whole_and_exact() {
        let dir = tempfile::tempdir().unwrap();
        let size = 4 * ALIGN;
        // Parts that straddle the buffer, tails that are not whole blocks,
        // empty parts and an empty file.
        for (n, sizes) in [
            &[][..],
            &[1],
            &[ALIGN],
            &[size],
            &[size - 1, 3, 0, ALIGN + 7],
            &[2 * size + 5, 100],
        ]
        .into_iter()
        .enumerate()
        {
            for try_direct in [true, false] {
                let path = dir.path().join(format!("{n}-{try_direct}"));
                let mut writer = DirectWriter::create_new(&path, try_direct, size).unwrap();
                if !try_direct {
                    assert!(!writer.is_direct());
                }
                let mut all = Vec::new();
                for &len in sizes {
                    let part = pattern(len);
                    writer.write(&part).unwrap();
                    all.extend_from_slice(&part);
                }
                assert_eq!(writer.len(), all.len() as u64);
                let file = writer.finish().unwrap();
                assert_eq!(file.metadata().unwrap().len(), all.len() as u64);
                drop(writer);
                assert_eq!(std::fs::read(&path).unwrap(), all, "sizes {sizes:?}");
            }
        }
    }

    #[test]
    fn a_filesystem_without_direct_io_gets_plain_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain");
        let mut asked = Vec::new();
        let mut writer = DirectWriter::open(true, ALIGN, |flags| {
            asked.push(flags);
            if flags & O_DIRECT != 0 {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            OpenOptions::new().write(true).create_new(true).open(&path)
        })
        .unwrap();
        assert_eq!(asked, [O_DIRECT, 0]);
        assert!(!writer.is_direct());
        writer.write(&pattern(ALIGN + 3)).unwrap();
        writer.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), pattern(ALIGN + 3));
    }

    #[test]
    fn a_refused_open_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        std::fs::write(&path, b"kept").unwrap();
        for try_direct in [true, false] {
            let err = DirectWriter::create_new(&path, try_direct, ALIGN)
                .err()
                .expect("create_new over an existing file");
            assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    }
}
