//! Personal-key mode: the company's data key sealed with a key derived from a
//! passphrase (Argon2id). The server stores the sealed form and cannot open
//! it; an agent needs the passphrase to enroll and to restore.

use argon2::{Algorithm, Argon2, Params, Version};

use crate::{CryptoError, DataKey, open, seal};

const MAGIC: &[u8; 4] = b"CPK1";
const SALT_LEN: usize = 16;
/// Authenticated with the sealed key, so a blob cannot be replayed as
/// anything else.
const AAD: &[u8] = b"cairn personal key v1";
/// Argon2id cost for new keys: 64 MiB, three passes, one lane.
const NEW_M_KIB: u32 = 64 * 1024;
const NEW_T: u32 = 3;
const NEW_P: u32 = 1;
/// Bounds accepted when opening, so a tampered blob cannot demand absurd work.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum PersonalKeyError {
    #[error("the passphrase does not open this company's personal key")]
    WrongPassphrase,
    #[error("the personal key record is malformed: {0}")]
    Malformed(&'static str),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// A data key sealed under a passphrase; [`PersonalKey::to_bytes`] is what
/// the server stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalKey {
    m_kib: u32,
    t: u32,
    p: u32,
    salt: [u8; SALT_LEN],
    sealed: Vec<u8>,
}

fn derive(
    passphrase: &str,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<[u8; 32], PersonalKeyError> {
    let params =
        Params::new(m, t, p, Some(32)).map_err(|_| PersonalKeyError::Malformed("argon2 cost"))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut out)
        .map_err(|_| PersonalKeyError::Malformed("argon2 input"))?;
    Ok(out)
}

impl PersonalKey {
    /// Seals `key` under `passphrase` with a fresh salt.
    pub fn seal(key: &DataKey, passphrase: &str) -> Result<PersonalKey, PersonalKeyError> {
        let mut salt = [0u8; SALT_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| CryptoError::Randomness)?;
        let mut kek = derive(passphrase, &salt, NEW_M_KIB, NEW_T, NEW_P)?;
        let sealed = seal(&kek, AAD, key.as_bytes());
        zeroize::Zeroize::zeroize(&mut kek);
        Ok(PersonalKey {
            m_kib: NEW_M_KIB,
            t: NEW_T,
            p: NEW_P,
            salt,
            sealed: sealed?,
        })
    }

    /// The data key, if `passphrase` is the one it was sealed with.
    pub fn open(&self, passphrase: &str) -> Result<DataKey, PersonalKeyError> {
        let mut kek = derive(passphrase, &self.salt, self.m_kib, self.t, self.p)?;
        let opened = open(&kek, AAD, &self.sealed);
        zeroize::Zeroize::zeroize(&mut kek);
        let mut bytes = opened.map_err(|_| PersonalKeyError::WrongPassphrase)?;
        let key = DataKey::from_bytes(&bytes);
        zeroize::Zeroize::zeroize(&mut bytes);
        Ok(key?)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 12 + SALT_LEN + self.sealed.len());
        out.extend_from_slice(MAGIC);
        for n in [self.m_kib, self.t, self.p] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Parses a stored record, refusing unknown formats and costs out of
    /// bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<PersonalKey, PersonalKeyError> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or(PersonalKeyError::Malformed("unknown format"))?;
        if rest.len() != 12 + SALT_LEN + 32 + crate::SEAL_OVERHEAD {
            return Err(PersonalKeyError::Malformed("wrong length"));
        }
        let number = |i: usize| {
            u32::from_be_bytes([
                rest[i * 4],
                rest[i * 4 + 1],
                rest[i * 4 + 2],
                rest[i * 4 + 3],
            ])
        };
        let (m_kib, t, p) = (number(0), number(1), number(2));
        if !(8 * 1024..=MAX_M_KIB).contains(&m_kib)
            || !(1..=MAX_T).contains(&t)
            || !(1..=MAX_P).contains(&p)
        {
            return Err(PersonalKeyError::Malformed("argon2 cost out of bounds"));
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&rest[12..12 + SALT_LEN]);
        Ok(PersonalKey {
            m_kib,
            t,
            p,
            salt,
            sealed: rest[12 + SALT_LEN..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_with_the_passphrase_only() {
        let key = DataKey::generate().unwrap();
        let sealed = PersonalKey::seal(&key, "correct horse battery staple").unwrap();
        let stored = sealed.to_bytes();
        assert!(!stored.windows(32).any(|w| w == key.as_bytes()));
        let parsed = PersonalKey::from_bytes(&stored).unwrap();
        assert_eq!(parsed, sealed);
        let opened = parsed.open("correct horse battery staple").unwrap();
        assert_eq!(opened.as_bytes(), key.as_bytes());
        assert!(matches!(
            parsed.open("correct horse battery stapler"),
            Err(PersonalKeyError::WrongPassphrase)
        ));
    }

    #[test]
    fn malformed_records_are_refused() {
        let key = DataKey::generate().unwrap();
        let stored = PersonalKey::seal(&key, "pass").unwrap().to_bytes();
        assert!(PersonalKey::from_bytes(b"").is_err());
        assert!(PersonalKey::from_bytes(&stored[..stored.len() - 1]).is_err());
        let mut other = stored.clone();
        other[0] = b'X';
        assert!(PersonalKey::from_bytes(&other).is_err());
        // A cost of 4 GiB would be refused before any work is done.
        let mut greedy = stored.clone();
        greedy[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            PersonalKey::from_bytes(&greedy),
            Err(PersonalKeyError::Malformed(_))
        ));
        // A flipped byte in the sealed key reads as a wrong passphrase.
        let mut flipped = stored;
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            PersonalKey::from_bytes(&flipped).unwrap().open("pass"),
            Err(PersonalKeyError::WrongPassphrase)
        ));
    }
}
