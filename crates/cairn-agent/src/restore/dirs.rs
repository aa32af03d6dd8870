//! Directories' metadata, set once everything in them is restored.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::Context;
use filetime::FileTime;

/// A restored directory's mode and time, set once everything in it is
/// written (writing into a directory changes its time). Only these are kept
/// of its node: a restore holds one for every directory of the snapshot.
pub(super) struct DirMeta {
    pub(super) path: PathBuf,
    pub(super) mode: u32,
    pub(super) mtime: FileTime,
}

impl DirMeta {
    pub(super) fn apply(&self) -> anyhow::Result<()> {
        let path = &self.path;
        fs::set_permissions(path, fs::Permissions::from_mode(self.mode & 0o7777))
            .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        filetime::set_file_mtime(path, self.mtime)
            .with_context(|| format!("cannot set the time of {}", path.display()))
    }
}
