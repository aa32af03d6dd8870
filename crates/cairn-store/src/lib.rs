//! A region cell's bucket. Objects are laid out per company
//! (`companies/<company>/packs/<xx>/<pack id>`), packs are written with
//! create-only puts so nothing stored is ever overwritten, and every company's
//! objects can be listed for the residency report.
//!
//! This crate knows object keys and bytes; it never decrypts and never touches
//! the database.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use cairn_core::{CompanyId, Error, PackId};

mod local;

/// What a create-only pack write found.
#[derive(Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    /// An object of the same size was already there (a retried upload).
    AlreadyPresent,
}

#[derive(Clone, Debug)]
pub struct CellStore {
    inner: Arc<dyn ObjectStore>,
    /// A local-disk bucket: packs are written by [`local`], not through
    /// `inner`, so they bypass the page cache and are durable when stored.
    local: Option<Arc<LocalFileSystem>>,
    /// The local bucket's directory.
    root: Option<std::path::PathBuf>,
}

fn store_err(what: &str, err: object_store::Error) -> Error {
    Error::internal_with(what, err)
}

/// A pack already stored under `key`: a retry if it has the size expected.
fn same_size(key: &Path, found: u64, size: u64) -> Result<PutOutcome, Error> {
    if found == size {
        Ok(PutOutcome::AlreadyPresent)
    } else {
        Err(Error::internal(format!(
            "pack {key} exists with size {found} instead of {size}"
        )))
    }
}

/// A pack being stored as its parts arrive (see [`CellStore::begin_pack`]).
pub struct PackWriter {
    store: CellStore,
    company: CompanyId,
    len: u64,
    to: Sink,
}

enum Sink {
    Local {
        fs: Arc<LocalFileSystem>,
        /// Where the staging file goes: the company's pack folder.
        dir: std::path::PathBuf,
        staging: Option<local::Staging>,
        /// The part being written: the next waits for it, so parts land in
        /// order while the caller receives the next one.
        writing: Option<tokio::task::JoinHandle<std::io::Result<local::Staging>>>,
    },
    Gather(Vec<Bytes>),
}

fn write_err(err: impl std::fmt::Display) -> Error {
    Error::internal_with("writing a pack", err)
}

/// The staging file once its last part is written, created on first use.
async fn ready(
    dir: &std::path::Path,
    staging: Option<local::Staging>,
    writing: Option<tokio::task::JoinHandle<std::io::Result<local::Staging>>>,
) -> Result<local::Staging, Error> {
    let pending = match (writing, staging) {
        (Some(pending), _) => pending,
        (None, Some(file)) => return Ok(file),
        (None, None) => {
            let dir = dir.to_owned();
            tokio::task::spawn_blocking(move || local::Staging::create(dir))
        }
    };
    pending.await.map_err(write_err)?.map_err(write_err)
}

impl PackWriter {
    pub async fn write(&mut self, part: Bytes) -> Result<(), Error> {
        self.len += part.len() as u64;
        match &mut self.to {
            Sink::Gather(parts) => parts.push(part),
            Sink::Local {
                dir,
                staging,
                writing,
                ..
            } => {
                let mut file = ready(dir, staging.take(), writing.take()).await?;
                *writing = Some(tokio::task::spawn_blocking(move || {
                    file.write(&part).map(|()| file)
                }));
            }
        }
        Ok(())
    }

    /// Gives up the pack: whatever was staged is removed before this returns
    /// (dropping the writer removes it too, but a part still being written
    /// is removed only once that write ends).
    pub async fn abort(self) {
        if let Sink::Local {
            writing: Some(pending),
            ..
        } = self.to
        {
            // The staging file goes with the write's result, whatever it is.
            let _ = pending.await;
        }
    }

    /// Stores what was written as the pack `pack`, create-only: named
    /// only now, once the caller has hashed every byte.
    pub async fn finish(self, pack: &PackId) -> Result<PutOutcome, Error> {
        let PackWriter {
            store,
            company,
            len,
            to,
        } = self;
        match to {
            Sink::Gather(parts) => {
                store
                    .put_pack(company, pack, parts.into_iter().collect())
                    .await
            }
            Sink::Local {
                fs,
                dir,
                staging,
                writing,
            } => {
                let dest = fs
                    .path_to_filesystem(&CellStore::pack_key(company, pack))
                    .map_err(|e| store_err("placing a pack", e))?;
                let file = ready(&dir, staging, writing).await?;
                let written = tokio::task::spawn_blocking(move || file.commit(&dest))
                    .await
                    .map_err(write_err)?
                    .map_err(write_err)?;
                match written {
                    local::Written::Created => Ok(PutOutcome::Created),
                    local::Written::Exists(found) => {
                        same_size(&CellStore::pack_key(company, pack), found, len)
                    }
                }
            }
        }
    }
}

impl CellStore {
    /// Opens a bucket from its configured URL: `file:///path`, a plain path,
    /// or `memory://` (tests).
    pub fn open(url: &str) -> Result<CellStore, Error> {
        if url == "memory://" {
            return Ok(Self::memory());
        }
        let path = url.strip_prefix("file://").unwrap_or(url);
        if path.is_empty() || url.contains("://") && !url.starts_with("file://") {
            return Err(Error::invalid(
                "bucket",
                format!("unsupported bucket URL `{url}`: use file:///path or a path"),
            ));
        }
        // The bucket is the server's alone: new folders and packs are 0700
        // and 0600, and the root is made private if an older server left it open.
        cairn_core::private::create_dir_all(std::path::Path::new(path))
            .and_then(|()| cairn_core::private::restrict_dir(std::path::Path::new(path)))
            .map_err(|e| Error::invalid("bucket", format!("cannot create {path}: {e}")))?;
        let fs = Arc::new(
            LocalFileSystem::new_with_prefix(path)
                .map_err(|e| Error::invalid("bucket", format!("cannot open {path}: {e}")))?
                .with_automatic_cleanup(true),
        );
        Ok(CellStore {
            inner: fs.clone(),
            local: Some(fs),
            root: Some(std::path::PathBuf::from(path)),
        })
    }

    pub fn memory() -> CellStore {
        CellStore {
            inner: Arc::new(InMemory::new()),
            local: None,
            root: None,
        }
    }

    pub fn company_prefix(company: CompanyId) -> Path {
        Path::from(format!("companies/{company}"))
    }

    pub fn pack_key(company: CompanyId, pack: &PackId) -> Path {
        let hex = pack.to_hex();
        Path::from(format!("companies/{company}/packs/{}/{hex}", &hex[..2]))
    }

    /// Writes a pack with a create-only put. A second write of the same pack
    /// (same content address, same size) is reported, never overwritten.
    pub async fn put_pack(
        &self,
        company: CompanyId,
        pack: &PackId,
        bytes: PutPayload,
    ) -> Result<PutOutcome, Error> {
        let key = Self::pack_key(company, pack);
        let size = bytes.content_length() as u64;
        if let Some(fs) = &self.local {
            let path = fs
                .path_to_filesystem(&key)
                .map_err(|e| store_err("placing a pack", e))?;
            let written = tokio::task::spawn_blocking(move || {
                local::write_create_only(&path, bytes.as_ref())
            })
            .await
            .map_err(|e| Error::internal_with("writing a pack", e))?
            .map_err(|e| Error::internal_with("writing a pack", e))?;
            return match written {
                local::Written::Created => Ok(PutOutcome::Created),
                local::Written::Exists(found) => same_size(&key, found, size),
            };
        }
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.inner.put_opts(&key, bytes, options).await {
            Ok(_) => Ok(PutOutcome::Created),
            Err(object_store::Error::AlreadyExists { .. }) => {
                let meta = self
                    .inner
                    .head(&key)
                    .await
                    .map_err(|e| store_err("checking an existing pack", e))?;
                same_size(&key, meta.size, size)
            }
            Err(e) => Err(store_err("writing a pack", e)),
        }
    }

    /// Removes staging files (`pack#<digits>`) older than `age` from a
    /// local bucket: left by a server stopped mid-upload, they are never
    /// finished. Younger ones may be an upload under way. Returns how many
    /// went.
    pub async fn sweep_staging(&self, age: std::time::Duration) -> Result<usize, Error> {
        let Some(root) = self.root.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || local::sweep_staging(&root, age))
            .await
            .map_err(|e| Error::internal_with("sweeping staging files", e))?
            .map_err(|e| Error::internal_with("sweeping staging files", e))
    }

    /// Starts writing a pack whose bytes arrive in parts, and whose name
    /// (its hash) is known only after the last. On a local disk each part
    /// goes to a staging file in the company's pack folder as it comes, so
    /// storing the pack does not wait for the whole of it; other backends
    /// gather the parts and write them in one create-only put at
    /// [`PackWriter::finish`]. A writer dropped before it finishes leaves
    /// nothing behind.
    pub fn begin_pack(&self, company: CompanyId) -> Result<PackWriter, Error> {
        let to = match &self.local {
            Some(fs) => Sink::Local {
                fs: fs.clone(),
                dir: fs
                    .path_to_filesystem(&Path::from(format!("companies/{company}/packs")))
                    .map_err(|e| store_err("placing a pack", e))?,
                staging: None,
                writing: None,
            },
            None => Sink::Gather(Vec::new()),
        };
        Ok(PackWriter {
            store: self.clone(),
            company,
            len: 0,
            to,
        })
    }

    /// The stored size of an object, to check a write before committing it.
    pub async fn size_of(&self, key: &Path) -> Result<u64, Error> {
        Ok(self
            .inner
            .head(key)
            .await
            .map_err(|e| store_err("reading object metadata", e))?
            .size)
    }

    /// Ranged reads of one object. A local bucket reads them itself, with
    /// direct I/O (see [`local`]).
    pub async fn read_ranges(
        &self,
        key: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, Error> {
        if let Some(fs) = &self.local {
            let path = fs
                .path_to_filesystem(key)
                .map_err(|e| store_err("reading pack ranges", e))?;
            let ranges = ranges.to_vec();
            return tokio::task::spawn_blocking(move || local::read_ranges(&path, &ranges))
                .await
                .map_err(|e| Error::internal_with("reading pack ranges", e))?
                .map_err(|e| Error::internal_with(&format!("reading pack ranges of {key}"), e));
        }
        self.inner
            .get_ranges(key, ranges)
            .await
            .map_err(|e| store_err("reading pack ranges", e))
    }

    /// Every object under a prefix, with its size.
    pub async fn list(&self, prefix: Option<&Path>) -> Result<Vec<(String, u64)>, Error> {
        self.inner
            .list(prefix)
            .map_ok(|meta| (meta.location.to_string(), meta.size))
            .try_collect()
            .await
            .map_err(|e| store_err("listing objects", e))
    }

    /// Deletes every object of one company; returns how many there were.
    pub async fn delete_company(&self, company: CompanyId) -> Result<usize, Error> {
        let keys = self.list_company(company).await?;
        for (key, _) in &keys {
            self.inner
                .delete(&Path::from(key.as_str()))
                .await
                .map_err(|e| store_err("deleting an object", e))?;
        }
        Ok(keys.len())
    }

    /// Every object of one company.
    pub async fn list_company(&self, company: CompanyId) -> Result<Vec<(String, u64)>, Error> {
        self.list(Some(&Self::company_prefix(company))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One conformance suite, run against every backend.
    async fn conformance(store: CellStore) {
        let company = CompanyId::new();
        let other = CompanyId::new();
        let pack = PackId([3; 32]);
        let bytes = Bytes::from_static(b"0123456789");
        assert_eq!(
            store
                .put_pack(company, &pack, bytes.clone().into())
                .await
                .unwrap(),
            PutOutcome::Created
        );
        assert_eq!(
            store.put_pack(company, &pack, bytes.into()).await.unwrap(),
            PutOutcome::AlreadyPresent
        );
        // A different body under the same key is refused, the original kept.
        assert!(
            store
                .put_pack(company, &pack, Bytes::from_static(b"xx").into())
                .await
                .is_err()
        );
        let key = CellStore::pack_key(company, &pack);
        assert_eq!(store.size_of(&key).await.unwrap(), 10);
        let parts = store.read_ranges(&key, &[0..2, 5..10]).await.unwrap();
        assert_eq!(
            parts,
            vec![Bytes::from_static(b"01"), Bytes::from_static(b"56789")]
        );
        assert_eq!(store.list_company(company).await.unwrap().len(), 1);
        assert!(store.list_company(other).await.unwrap().is_empty());
        assert!(
            store
                .read_ranges(&CellStore::pack_key(other, &pack), &[0..1, 1..2])
                .await
                .is_err()
        );
        store
            .put_pack(other, &pack, Bytes::from_static(b"other").into())
            .await
            .unwrap();
        assert_eq!(store.delete_company(company).await.unwrap(), 1);
        assert!(store.list_company(company).await.unwrap().is_empty());
        assert_eq!(store.list_company(other).await.unwrap().len(), 1);

        // Written in parts: nothing is visible before the finish, a writer
        // dropped unfinished leaves nothing, and a second finish of the same
        // pack is a retry.
        let streamed = PackId([4; 32]);
        let parts = [&b"first "[..], b"", b"second ", &[9u8; 9000]];
        let mut writer = store.begin_pack(company).unwrap();
        for part in parts {
            writer.write(Bytes::copy_from_slice(part)).await.unwrap();
        }
        assert!(store.list_company(company).await.unwrap().is_empty());
        assert_eq!(writer.finish(&streamed).await.unwrap(), PutOutcome::Created);
        let key = CellStore::pack_key(company, &streamed);
        let whole = store.read_ranges(&key, &[0..4, 4..9013]).await.unwrap();
        assert_eq!([&whole[0][..], &whole[1][..]].concat(), parts.concat());
        let mut again = store.begin_pack(company).unwrap();
        again.write(Bytes::from(parts.concat())).await.unwrap();
        assert_eq!(
            again.finish(&streamed).await.unwrap(),
            PutOutcome::AlreadyPresent
        );
        let mut abandoned = store.begin_pack(company).unwrap();
        abandoned.write(Bytes::from_static(b"half")).await.unwrap();
        drop(abandoned);
        let listed = store.list_company(company).await.unwrap();
        assert_eq!(listed, vec![(key.to_string(), 9013)]);
    }

    #[tokio::test]
    async fn memory_backend() {
        conformance(CellStore::memory()).await;
    }

    #[tokio::test]
    async fn local_disk_backend() {
        let dir = tempfile::tempdir().unwrap();
        conformance(CellStore::open(&format!("file://{}", dir.path().display())).unwrap()).await;
    }

    #[test]
    fn unsupported_url_is_named() {
        let err = CellStore::open("ftp://nowhere").unwrap_err().to_string();
        assert!(err.contains("bucket"), "{err}");
    }
}
