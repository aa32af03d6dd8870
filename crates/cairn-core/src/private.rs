//! Files and folders only their owner may read: what a server writes (keys,
//! databases, mail, pack objects) is for its own user alone.
//!
//! Modes are set explicitly after creation, so they do not depend on the
//! process's umask (which only ever takes bits away from what `open` and
//! `mkdir` ask for, and may be anything the service manager left).

use std::fs::{File, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The mode of a private file: read and write for the owner.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a private folder: everything for the owner.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` and any missing folder above it, each new one with mode
/// 0700. Folders that exist already are left as they are.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(DIR_MODE).create(path) {
        Ok(()) => std::fs::set_permissions(path, Permissions::from_mode(DIR_MODE)),
        // Another thread made it meanwhile: theirs is private too.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes an existing folder private (0700), as a server does at start with
/// the folders it owns, whatever an older version or the umask left.
pub fn restrict_dir(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(DIR_MODE))
}

/// Makes an open file private (0600).
pub fn restrict_file(file: &File) -> io::Result<()> {
    file.set_permissions(Permissions::from_mode(FILE_MODE))
}

/// Makes the file at `path` private (0600).
pub fn restrict_path(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn new_folders_are_private_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep).unwrap();
        for path in [dir.path().join("a"), dir.path().join("a/b"), deep.clone()] {
            assert_eq!(mode(&path), DIR_MODE, "{}", path.display());
        }
        // Again: nothing to do, no error.
        create_dir_all(&deep).unwrap();
    }

    #[test]
    fn files_are_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o666)).unwrap();
        restrict_file(&file).unwrap();
        assert_eq!(mode(&path), FILE_MODE);
    }
}
