//! Cryptography shared by the agent, the server and tests: a company's data
//! key, AES-256-GCM sealing of stored chunks, keyed BLAKE3 chunk ids, and the
//! wrapping of data keys under a cell's master key.
//!
//! No I/O here: keys come in as bytes and leave as bytes.

#![cfg_attr(test, allow(clippy::unwrap_used))]

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

use cairn_core::{ChunkId, PackId};

const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a key must be 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("sealed data is too short ({0} bytes)")]
    TooShort(usize),
    #[error("authentication failed: wrong key or corrupted data")]
    Authentication,
    #[error("no randomness available")]
    Randomness,
}

fn aead_key(bytes: &[u8; 32]) -> LessSafeKey {
    // 32 bytes is always a valid AES-256 key.
    #[allow(clippy::expect_used)]
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32-byte AES-256 key"))
}

fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Randomness)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = aead_key(key)
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut out[NONCE_LEN..])
        .map_err(|_| CryptoError::Authentication)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::TooShort(sealed.len()));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::TooShort(sealed.len()))?;
    let mut buf = body.to_vec();
    let len = aead_key(key)
        .open_in_place(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Authentication)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

fn key_bytes(bytes: &[u8]) -> Result<[u8; 32], CryptoError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::KeyLength(bytes.len()))
}

/// A company's data key: encrypts its chunks and keys its chunk ids.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    pub fn generate() -> Result<DataKey, CryptoError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CryptoError::Randomness)?;
        Ok(DataKey(bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<DataKey, CryptoError> {
        key_bytes(bytes).map(DataKey)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key of this company's chunk ids, derived from the data key.
    pub fn chunk_id_key(&self) -> ChunkIdKey {
        ChunkIdKey(blake3::derive_key("cairn 2026 chunk id key", &self.0))
    }

    /// nonce ‖ ciphertext ‖ tag, with a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, aad, plaintext)
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.0, aad, sealed)
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Names chunks: a keyed BLAKE3 hash, so equal plaintexts dedup within a
/// company and nothing is learnable across companies.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ChunkIdKey([u8; 32]);

impl ChunkIdKey {
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.0, plaintext).as_bytes())
    }
}

/// A pack's content address: the plain BLAKE3 hash of its bytes.
pub fn pack_id(bytes: &[u8]) -> PackId {
    PackId(*blake3::hash(bytes).as_bytes())
}

/// A cell's master key: wraps the data keys of the companies homed there.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, CryptoError> {
        key_bytes(bytes).map(MasterKey)
    }

    /// Wraps `key` for `company_id`; the id is bound as associated data, so a
    /// wrapped key cannot be moved to another company.
    pub fn wrap(&self, key: &DataKey, company_id: &str) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, company_id.as_bytes(), key.as_bytes())
    }

    pub fn unwrap(&self, wrapped: &[u8], company_id: &str) -> Result<DataKey, CryptoError> {
        let bytes = open(&self.0, company_id.as_bytes(), wrapped)?;
        DataKey::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_tampering() {
        let key = DataKey::generate().unwrap();
        let sealed = key.seal(b"id", b"hello cairn").unwrap();
        assert_eq!(key.open(b"id", &sealed).unwrap(), b"hello cairn");
        let mut flipped = sealed.clone();
        flipped[NONCE_LEN + 2] ^= 1;
        assert!(matches!(key.open(b"id", &flipped), Err(CryptoError::Authentication)));
        assert!(key.open(b"other id", &sealed).is_err());
        assert!(DataKey::generate().unwrap().open(b"id", &sealed).is_err());
        assert!(matches!(key.open(b"id", &sealed[..10]), Err(CryptoError::TooShort(10))));
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_company() {
        let master = MasterKey::from_bytes(&[7; 32]).unwrap();
        let key = DataKey::generate().unwrap();
        let wrapped = master.wrap(&key, "company-a").unwrap();
        assert_eq!(master.unwrap(&wrapped, "company-a").unwrap().as_bytes(), key.as_bytes());
        assert!(master.unwrap(&wrapped, "company-b").is_err());
        assert!(MasterKey::from_bytes(&[8; 32]).unwrap().unwrap(&wrapped, "company-a").is_err());
        assert!(matches!(MasterKey::from_bytes(&[1; 5]), Err(CryptoError::KeyLength(5))));
    }

    #[test]
    fn chunk_ids_are_keyed_per_company() {
        let a = DataKey::generate().unwrap().chunk_id_key();
        let b = DataKey::generate().unwrap().chunk_id_key();
        assert_eq!(a.chunk_id(b"same"), a.chunk_id(b"same"));
        assert_ne!(a.chunk_id(b"same"), b.chunk_id(b"same"));
    }
}
