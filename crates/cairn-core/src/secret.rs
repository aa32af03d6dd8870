//! Secret material kept in files: read one, or create it on first start.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

use crate::Error;

/// Reads the secret bytes stored hex-encoded in `path`, or creates the file
/// with `len` fresh random bytes (mode 0600) when it does not exist yet.
pub fn load_or_create_hex(path: &Path, len: usize) -> Result<Vec<u8>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| {
                Error::invalid(
                    path.display().to_string(),
                    "secret file must hold hexadecimal",
                )
            })?;
            if bytes.len() != len {
                return Err(Error::invalid(
                    path.display().to_string(),
                    format!("secret must be {len} bytes, found {}", bytes.len()),
                ));
            }
            Ok(bytes)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0u8; len];
            rand::rng().fill_bytes(&mut bytes);
            write_private(path, hex::encode(&bytes).as_bytes())?;
            Ok(bytes)
        }
        Err(err) => Err(Error::internal_with(
            &format!("reading {}", path.display()),
            err,
        )),
    }
}

/// Where a personal-key passphrase comes from: the file given, else the
/// `CAIRN_KEY_PASSPHRASE` environment variable. One trailing newline of a
/// file is not part of it. `None` when neither is given.
pub fn read_passphrase(file: Option<&Path>) -> Result<Option<String>, Error> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(
                "passphrase-file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?,
        None => match std::env::var("CAIRN_KEY_PASSPHRASE") {
            Ok(text) => text,
            Err(_) => return Ok(None),
        },
    };
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    Ok(Some(text.to_owned()))
}

/// Replaces `path` with `contents`, readable only by its owner: written whole
/// to a sibling file, then renamed over, so a crash leaves the old or the new.
pub fn replace_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let partial = path.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    write_private(&partial, contents)?;
    std::fs::rename(&partial, path)
        .map_err(|e| Error::internal_with(&format!("replacing {}", path.display()), e))
}

/// Writes `contents` to a new file readable only by its owner.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let mut file = create_private(path)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::internal_with(&format!("writing {}", path.display()), e))
}

/// Creates a new, empty file readable only by its owner (mode 0600, and its
/// new folders 0700, whatever the umask).
pub fn create_private(path: &Path) -> Result<std::fs::File, Error> {
    if let Some(parent) = path.parent() {
        crate::private::create_dir_all(parent)
            .map_err(|e| Error::internal_with(&format!("creating {}", parent.display()), e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::private::FILE_MODE);
    options
        .open(path)
        .and_then(|file| crate::private::restrict_file(&file).map(|()| file))
        .map_err(|e| Error::internal_with(&format!("creating {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k/master.key");
        let first = load_or_create_hex(&path, 32).unwrap();
        let again = load_or_create_hex(&path, 32).unwrap();
        assert_eq!(first, again);
        assert!(load_or_create_hex(&path, 16).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        std::fs::write(&path, "not hex").unwrap();
        assert!(load_or_create_hex(&path, 32).is_err());
    }
}
