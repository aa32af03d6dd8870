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
}

fn store_err(what: &str, err: object_store::Error) -> Error {
    Error::internal_with(what, err)
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
        std::fs::create_dir_all(path)
            .map_err(|e| Error::invalid("bucket", format!("cannot create {path}: {e}")))?;
        let fs = LocalFileSystem::new_with_prefix(path)
            .map_err(|e| Error::invalid("bucket", format!("cannot open {path}: {e}")))?
            .with_automatic_cleanup(true);
        Ok(CellStore {
            inner: Arc::new(fs),
        })
    }

    pub fn memory() -> CellStore {
        CellStore {
            inner: Arc::new(InMemory::new()),
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
                if meta.size == size {
                    Ok(PutOutcome::AlreadyPresent)
                } else {
                    Err(Error::internal(format!(
                        "pack {key} exists with size {} instead of {size}",
                        meta.size
                    )))
                }
            }
            Err(e) => Err(store_err("writing a pack", e)),
        }
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

    /// Ranged reads of one object.
    pub async fn read_ranges(
        &self,
        key: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<Bytes>, Error> {
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
