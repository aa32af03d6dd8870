//! The parent-snapshot cache: for every file of the last committed backup,
//! its identity on disk (size, mtime, ctime, inode) and its chunk ids. A file
//! that still matches is not read again; its chunks are the parent's.
//!
//! `format` is the file's layout, `records` reads it a field at a time,
//! `parent` is the last backup's cache as the walk reads it and `writer`
//! the next backup's, written as the backup goes.

mod format;
mod parent;
mod records;
mod writer;

#[cfg(test)]
mod tests;

pub(crate) use format::{Entry, settled};
pub(crate) use parent::ParentCache;
pub(crate) use writer::NextCache;
