//! Ed25519 signing keys. A key's id (`kid`) starts with its region, so a token
//! signed by another cell can be redirected there.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use jsonwebtoken::{DecodingKey, EncodingKey};

use cairn_core::{Error, Region};

pub struct SigningKey {
    kid: String,
    region: Region,
    encoding: EncodingKey,
    public: Vec<u8>,
}

impl SigningKey {
    /// Builds the key of `region` from a 32-byte Ed25519 seed.
    pub fn from_seed(region: Region, seed: &[u8]) -> Result<SigningKey, Error> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| Error::invalid("signing_key_file", "must hold a 32-byte Ed25519 seed"))?;
        let pkcs8 = pair
            .to_pkcs8()
            .map_err(|_| Error::internal("encoding the signing key as PKCS#8"))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid = format!("{}-{}", region, hex::encode(&public[..6]));
        Ok(SigningKey {
            kid,
            region,
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn region(&self) -> Region {
        self.region
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_ed_der(&self.public)
    }
}
