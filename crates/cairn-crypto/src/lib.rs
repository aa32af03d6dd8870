//! Cryptography shared by the agent, the server and tests: a company's data
//! key, AES-256-GCM sealing of stored chunks, keyed BLAKE3 chunk ids, and the
//! wrapping of data keys under a cell's master key.
//!
//! No I/O here (no network, no database, no files): keys come in as bytes and
//! leave as bytes. Nothing in this crate may log or print key material; keys
//! are zeroized on drop and their `Debug` shows only the type name.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

use cairn_core::{ChunkId, PackId};

mod personal;
pub use personal::{PersonalKey, PersonalKeyError};

const TAG_LEN: usize = 16;

/// Bytes added by sealing: the nonce in front, the tag behind.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Room [`DataKey::seal_in_place`] needs in front of the plaintext.
pub const SEAL_PREFIX: usize = NONCE_LEN;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a key must be 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("sealed data is too short ({0} bytes, at least {SEAL_OVERHEAD} needed)")]
    TooShort(usize),
    #[error("authentication failed: wrong key or corrupted data")]
    Authentication,
    #[error("data is too long to seal ({0} bytes)")]
    TooLong(usize),
    #[error("no randomness available")]
    Randomness,
}

fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    // Only a key of the wrong length is refused, which a [u8; 32] cannot be.
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::KeyLength(bytes.len()))
}

fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    // One buffer sized for the result: room for the nonce, the plaintext,
    // and the tag appended in place.
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + plaintext.len());
    out.resize(SEAL_PREFIX, 0);
    out.extend_from_slice(plaintext);
    seal_in_place(key, aad, &mut out)?;
    Ok(out)
}

fn seal_in_place(key: &[u8; 32], aad: &[u8], buf: &mut Vec<u8>) -> Result<(), CryptoError> {
    if buf.len() < NONCE_LEN {
        return Err(CryptoError::TooShort(buf.len()));
    }
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Randomness)?;
    seal_in_place_with(key, nonce, aad, buf)
}

/// Seals `buf[NONCE_LEN..]` in place under `nonce`, which goes in front.
fn seal_in_place_with(
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), CryptoError> {
    let key = aead_key(key)?;
    buf[..NONCE_LEN].copy_from_slice(&nonce);
    let plaintext_len = buf.len() - NONCE_LEN;
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut buf[NONCE_LEN..],
        )
        .map_err(|_| CryptoError::TooLong(plaintext_len))?;
    buf.extend_from_slice(tag.as_ref());
    Ok(())
}

/// Decrypts straight from `sealed` into a buffer of the plaintext's size:
/// the one pass that reads the ciphertext also writes the result, with no
/// copy of the sealed bytes and no shifting of the plaintext afterwards.
fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(CryptoError::TooShort(sealed.len()));
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::TooShort(sealed.len()))?;
    let mut plaintext = vec![0u8; ciphertext.len()];
    aead_key(key)?
        .open_separate_gather(nonce, Aad::from(aad), ciphertext, tag, &mut plaintext)
        .map_err(|_| CryptoError::Authentication)?;
    Ok(plaintext)
}

fn key_bytes(bytes: &[u8]) -> Result<[u8; 32], CryptoError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::KeyLength(bytes.len()))
}

/// A company's data key: encrypts its chunks and keys its chunk ids.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh random key, for a new company.
    pub fn generate() -> Result<DataKey, CryptoError> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CryptoError::Randomness)?;
        Ok(DataKey(bytes))
    }

    /// A key from its 32 bytes, as unwrapped or read from the agent's state.
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

    /// AES-256-GCM: nonce (12) ‖ ciphertext ‖ tag (16), with a fresh random
    /// nonce. `aad` is authenticated but not stored; `open` needs the same.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, aad, plaintext)
    }

    /// [`DataKey::seal`] without a copy: `buf` holds [`SEAL_PREFIX`] bytes
    /// of room, then the plaintext; it becomes the sealed form.
    pub fn seal_in_place(&self, aad: &[u8], buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        seal_in_place(&self.0, aad, buf)
    }

    /// [`DataKey::seal_in_place`] with a synthetic nonce instead of a random
    /// one: the first 12 bytes of a BLAKE3 hash, keyed with a key derived
    /// from the data key, of `aad` and the plaintext. Equal `aad` and
    /// plaintext seal to equal bytes, so every honest upload of a chunk is
    /// the same stored copy and the server can tell a different one;
    /// different plaintexts get different nonces (a nonce is never reused
    /// for two messages, unlike a fixed nonce per id would be if two
    /// versions of the encoder compressed a chunk differently). What it
    /// reveals is only that two sealed copies hold the same thing.
    pub fn seal_in_place_deterministic(
        &self,
        aad: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        if buf.len() < NONCE_LEN {
            return Err(CryptoError::TooShort(buf.len()));
        }
        let nonce_key = blake3::derive_key("cairn 2026 chunk nonce key", &self.0);
        let mut hasher = blake3::Hasher::new_keyed(&nonce_key);
        hasher.update(&(aad.len() as u64).to_le_bytes());
        hasher.update(aad);
        hasher.update(&buf[NONCE_LEN..]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&hasher.finalize().as_bytes()[..NONCE_LEN]);
        seal_in_place_with(&self.0, nonce, aad, buf)
    }

    /// Reverses `seal`; fails on short input, a wrong key, a wrong `aad` or
    /// any changed byte.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        open(&self.0, aad, sealed)
    }
}

/// Keys print as their type name only, never their bytes.
macro_rules! redacted_debug {
    ($name:ident) => {
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

redacted_debug!(DataKey);
redacted_debug!(ChunkIdKey);
redacted_debug!(MasterKey);

/// Names chunks: a keyed BLAKE3 hash, so equal plaintexts dedup within a
/// company and nothing is learnable across companies.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ChunkIdKey([u8; 32]);

impl ChunkIdKey {
    /// The keyed BLAKE3 hash of a chunk's plaintext.
    pub fn chunk_id(&self, plaintext: &[u8]) -> ChunkId {
        ChunkId(*blake3::keyed_hash(&self.0, plaintext).as_bytes())
    }
}

/// A pack's content address: the plain BLAKE3 hash of its bytes.
pub fn pack_id(bytes: &[u8]) -> PackId {
    let mut hasher = PackHasher::default();
    hasher.update(bytes);
    hasher.finish()
}

/// [`pack_id`] of bytes that arrive a part at a time.
#[derive(Default)]
pub struct PackHasher(blake3::Hasher);

impl PackHasher {
    pub fn update(&mut self, part: &[u8]) {
        self.0.update(part);
    }

    pub fn finish(&self) -> PackId {
        PackId(*self.0.finalize().as_bytes())
    }
}

/// The digest of a chunk's stored (sealed) bytes: their plain BLAKE3 hash.
/// The server takes it of every record as a pack arrives, the agent of its
/// own sealed copy; equal digests mean the same stored copy.
pub fn stored_digest(stored: &[u8]) -> [u8; 32] {
    *blake3::hash(stored).as_bytes()
}

/// [`stored_digest`] of bytes that arrive a part at a time.
#[derive(Default)]
pub struct DigestHasher(blake3::Hasher);

impl DigestHasher {
    pub fn update(&mut self, part: &[u8]) {
        self.0.update(part);
    }

    pub fn finish(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// A cell's master key: wraps the data keys of the companies homed there.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// A master key from its 32 bytes, as loaded from the cell's secret file.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, CryptoError> {
        key_bytes(bytes).map(MasterKey)
    }

    /// Wraps `key` for `company_id`; the id is bound as associated data, so a
    /// wrapped key cannot be moved to another company.
    pub fn wrap(&self, key: &DataKey, company_id: &str) -> Result<Vec<u8>, CryptoError> {
        seal(&self.0, company_id.as_bytes(), key.as_bytes())
    }

    /// Reverses `wrap`; fails for another company's id or another master key.
    pub fn unwrap(&self, wrapped: &[u8], company_id: &str) -> Result<DataKey, CryptoError> {
        let bytes = zeroize::Zeroizing::new(open(&self.0, company_id.as_bytes(), wrapped)?);
        DataKey::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::generate().unwrap()
    }

    fn sealed_deterministically(key: &DataKey, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; SEAL_PREFIX];
        buf.extend_from_slice(plaintext);
        key.seal_in_place_deterministic(aad, &mut buf).unwrap();
        buf
    }

    #[test]
    fn deterministic_sealing_repeats_itself_and_nothing_else() {
        let key = key();
        let once = sealed_deterministically(&key, b"id", b"payroll");
        assert_eq!(once, sealed_deterministically(&key, b"id", b"payroll"));
        assert_eq!(key.open(b"id", &once).unwrap(), b"payroll");
        // Another plaintext, another id, another company: another nonce.
        for other in [
            sealed_deterministically(&key, b"id", b"payrolL"),
            sealed_deterministically(&key, b"iD", b"payroll"),
            sealed_deterministically(&DataKey::generate().unwrap(), b"id", b"payroll"),
        ] {
            assert_ne!(other[..NONCE_LEN], once[..NONCE_LEN]);
        }
        assert_eq!(stored_digest(&once), {
            let mut h = DigestHasher::default();
            h.update(&once[..5]);
            h.update(&once[5..]);
            h.finish()
        });
    }

    #[test]
    fn seal_open_round_trip() {
        let key = key();
        let sealed = key.seal(b"id", b"hello cairn").unwrap();
        assert_eq!(sealed.len(), b"hello cairn".len() + SEAL_OVERHEAD);
        assert_eq!(key.open(b"id", &sealed).unwrap(), b"hello cairn");
        let empty = key.seal(b"id", b"").unwrap();
        assert_eq!(key.open(b"id", &empty).unwrap(), b"");
    }

    #[test]
    fn sealing_in_place_opens_like_seal() {
        let key = key();
        let mut buf = vec![0u8; SEAL_PREFIX];
        buf.extend_from_slice(b"hello cairn");
        key.seal_in_place(b"id", &mut buf).unwrap();
        assert_eq!(buf.len(), b"hello cairn".len() + SEAL_OVERHEAD);
        assert_eq!(key.open(b"id", &buf).unwrap(), b"hello cairn");
        assert!(key.open(b"other", &buf).is_err());
        let mut short = vec![0u8; SEAL_PREFIX - 1];
        assert!(key.seal_in_place(b"id", &mut short).is_err());
    }

    #[test]
    fn equal_plaintexts_seal_differently() {
        let key = key();
        assert_ne!(
            key.seal(b"id", b"same").unwrap(),
            key.seal(b"id", b"same").unwrap()
        );
    }

    #[test]
    fn any_flipped_byte_fails() {
        let key = key();
        let sealed = key.seal(b"id", b"hello cairn").unwrap();
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 1;
            assert!(
                matches!(key.open(b"id", &flipped), Err(CryptoError::Authentication)),
                "byte {i}"
            );
        }
    }

    #[test]
    fn wrong_aad_fails() {
        let key = key();
        let sealed = key.seal(b"id", b"hello cairn").unwrap();
        assert!(matches!(
            key.open(b"other id", &sealed),
            Err(CryptoError::Authentication)
        ));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = key().seal(b"id", b"hello cairn").unwrap();
        assert!(matches!(
            key().open(b"id", &sealed),
            Err(CryptoError::Authentication)
        ));
    }

    #[test]
    fn short_input_is_an_error() {
        let key = key();
        for len in 0..SEAL_OVERHEAD {
            assert!(
                matches!(key.open(b"id", &vec![0; len]), Err(CryptoError::TooShort(n)) if n == len)
            );
        }
        assert!(matches!(
            key.open(b"id", &[0; SEAL_OVERHEAD]),
            Err(CryptoError::Authentication)
        ));
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(matches!(
            DataKey::from_bytes(&[1; 31]),
            Err(CryptoError::KeyLength(31))
        ));
        assert!(matches!(
            MasterKey::from_bytes(&[1; 33]),
            Err(CryptoError::KeyLength(33))
        ));
        assert_eq!(DataKey::from_bytes(&[9; 32]).unwrap().as_bytes(), &[9; 32]);
    }

    #[test]
    fn debug_prints_no_secret() {
        let data = DataKey::from_bytes(&[0xab; 32]).unwrap();
        let master = MasterKey::from_bytes(&[0xab; 32]).unwrap();
        let printed = format!("{data:?} {:?} {master:?}", data.chunk_id_key());
        assert_eq!(printed, "DataKey(..) ChunkIdKey(..) MasterKey(..)");
    }

    #[test]
    fn wrapped_keys_are_bound_to_their_company() {
        let master = MasterKey::from_bytes(&[7; 32]).unwrap();
        let key = key();
        let wrapped = master.wrap(&key, "company-a").unwrap();
        assert_eq!(
            master.unwrap(&wrapped, "company-a").unwrap().as_bytes(),
            key.as_bytes()
        );
        assert!(matches!(
            master.unwrap(&wrapped, "company-b"),
            Err(CryptoError::Authentication)
        ));
        let other_cell = MasterKey::from_bytes(&[8; 32]).unwrap();
        assert!(other_cell.unwrap(&wrapped, "company-a").is_err());
    }

    #[test]
    fn chunk_ids_are_keyed_per_company() {
        let a = key().chunk_id_key();
        let b = key().chunk_id_key();
        assert_eq!(a.chunk_id(b"same"), a.chunk_id(b"same"));
        assert_ne!(a.chunk_id(b"same"), b.chunk_id(b"same"));
        assert_ne!(
            a.chunk_id(b"same"),
            ChunkId(*blake3::hash(b"same").as_bytes())
        );
    }

    #[test]
    fn pack_id_is_the_plain_hash() {
        assert_eq!(pack_id(b"pack").0, *blake3::hash(b"pack").as_bytes());
        let mut parts = PackHasher::default();
        for part in [&b"pa"[..], b"", b"ck"] {
            parts.update(part);
        }
        assert_eq!(parts.finish(), pack_id(b"pack"));
    }
}
