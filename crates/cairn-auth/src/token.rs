//! Issuing and verifying access tokens. Verification pins EdDSA for every
//! known `kid` and requires `exp`, `iss`, `aud` and `sub`; `alg: none`,
//! HMAC-with-public-key confusion and unknown keys are all refused.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

use cairn_core::{Error, Region, unix_now};

use crate::{Claims, PrincipalKind, Role, SigningKey};

pub const AUDIENCE: &str = "cairn";
/// Access tokens live 15 minutes.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;

/// The `iss` of tokens signed by a region's cell.
pub fn issuer_for(region: Region) -> String {
    format!("cairn/{region}")
}

pub struct TokenIssuer {
    key: SigningKey,
}

impl TokenIssuer {
    pub fn new(key: SigningKey) -> TokenIssuer {
        TokenIssuer { key }
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Signs an access token for `sub` in `company`; returns it with its expiry.
    pub fn issue(
        &self,
        kind: PrincipalKind,
        sub: &str,
        company: &str,
        roles: Vec<Role>,
    ) -> Result<(String, i64), Error> {
        let now = unix_now();
        let claims = Claims {
            sub: sub.to_owned(),
            company: company.to_owned(),
            region: self.key.region(),
            roles,
            kind,
            iss: issuer_for(self.key.region()),
            aud: AUDIENCE.to_owned(),
            exp: now + ACCESS_TOKEN_TTL_SECS,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, self.key.encoding())
            .map_err(|e| Error::internal_with("signing a token", e))?;
        Ok((token, claims.exp))
    }
}

struct Trusted {
    region: Region,
    key: DecodingKey,
}

/// Verifies tokens against a set of trusted public keys, each bound to the
/// region whose cell signs with it.
#[derive(Default)]
pub struct TokenVerifier {
    keys: HashMap<String, Trusted>,
}

/// What a token that could not be accepted tells about itself.
pub(crate) enum Rejected {
    /// Signed by a key this verifier does not know, whose id names a region.
    UnknownKey {
        region: Option<Region>,
    },
    Invalid(String),
}

impl TokenVerifier {
    pub fn new() -> TokenVerifier {
        TokenVerifier::default()
    }

    pub fn trust(&mut self, key: &SigningKey) {
        self.trust_public(key.kid(), key.region(), key.public_key());
    }

    pub fn trust_public(&mut self, kid: &str, region: Region, public_key: &[u8]) {
        self.keys.insert(
            kid.to_owned(),
            Trusted {
                region,
                key: DecodingKey::from_ed_der(public_key),
            },
        );
    }

    pub fn verify(&self, token: &str) -> Result<Claims, Error> {
        self.verify_inner(token).map_err(|r| match r {
            Rejected::UnknownKey { .. } => {
                Error::Unauthenticated("token signed by an unknown key".into())
            }
            Rejected::Invalid(why) => Error::Unauthenticated(why),
        })
    }

    pub(crate) fn verify_inner(&self, token: &str) -> Result<Claims, Rejected> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Rejected::Invalid("malformed token".into()))?;
        let kid = header
            .kid
            .ok_or_else(|| Rejected::Invalid("token has no key id".into()))?;
        let Some(trusted) = self.keys.get(&kid) else {
            let region = kid.split('-').next().and_then(|r| r.parse().ok());
            return Err(Rejected::UnknownKey { region });
        };
        if header.alg != Algorithm::EdDSA {
            return Err(Rejected::Invalid("token algorithm is not EdDSA".into()));
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[issuer_for(trusted.region)]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &trusted.key, &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Rejected::Invalid("token has expired".into())
                }
                _ => Rejected::Invalid("token is not valid".into()),
            },
        )?;
        if data.claims.region != trusted.region {
            return Err(Rejected::Invalid(
                "token region does not match its signer".into(),
            ));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn key(region: Region, seed: u8) -> SigningKey {
        SigningKey::from_seed(region, &[seed; 32]).unwrap()
    }

    fn verifier(keys: &[&SigningKey]) -> TokenVerifier {
        let mut v = TokenVerifier::new();
        for k in keys {
            v.trust(k);
        }
        v
    }

    #[test]
    fn issued_tokens_verify() {
        let issuer = TokenIssuer::new(key(Region::Eu, 1));
        let (token, exp) = issuer
            .issue(PrincipalKind::User, "u1", "c1", vec![Role::Owner])
            .unwrap();
        let claims = verifier(&[issuer.key()]).verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.region, Region::Eu);
        assert_eq!(claims.exp, exp);
        assert_eq!(claims.roles, vec![Role::Owner]);
    }

    #[test]
    fn unknown_key_is_refused() {
        let issuer = TokenIssuer::new(key(Region::Eu, 1));
        let (token, _) = issuer
            .issue(PrincipalKind::User, "u1", "c1", vec![])
            .unwrap();
        let other = key(Region::Eu, 2);
        assert!(verifier(&[&other]).verify(&token).is_err());
    }

    fn forge(header: &str, claims: &Claims, signature: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap()),
            signature
        )
    }

    fn claims_for(k: &SigningKey, exp: i64) -> Claims {
        Claims {
            sub: "attacker".into(),
            company: "c1".into(),
            region: k.region(),
            roles: vec![Role::Owner],
            kind: PrincipalKind::User,
            iss: issuer_for(k.region()),
            aud: AUDIENCE.into(),
            exp,
            iat: 0,
            jti: "j".into(),
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let k = key(Region::Us, 3);
        let header = format!(r#"{{"alg":"none","kid":"{}"}}"#, k.kid());
        let token = forge(&header, &claims_for(&k, unix_now() + 600), "");
        assert!(verifier(&[&k]).verify(&token).is_err());
    }

    #[test]
    fn hmac_with_the_public_key_is_refused() {
        let k = key(Region::Us, 3);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(k.kid().to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &claims_for(&k, unix_now() + 600),
            &jsonwebtoken::EncodingKey::from_secret(k.public_key()),
        )
        .unwrap();
        assert!(verifier(&[&k]).verify(&token).is_err());
    }

    #[test]
    fn expired_and_tampered_tokens_are_refused() {
        let k = key(Region::Us, 4);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(k.kid().to_owned());
        let expired =
            jsonwebtoken::encode(&header, &claims_for(&k, unix_now() - 3600), k.encoding())
                .unwrap();
        let err = verifier(&[&k]).verify(&expired).unwrap_err().to_string();
        assert!(err.contains("expired"), "{err}");

        let issuer = TokenIssuer::new(key(Region::Us, 4));
        let (token, _) = issuer
            .issue(PrincipalKind::User, "u1", "c1", vec![Role::Member])
            .unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let escalated =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims_for(&k, unix_now() + 600)).unwrap());
        parts[1] = &escalated;
        assert!(verifier(&[&k]).verify(&parts.join(".")).is_err());
        assert!(verifier(&[&k]).verify("garbage").is_err());
    }

    #[test]
    fn a_key_cannot_sign_for_another_region() {
        // A key trusted for `us` signs a token claiming `eu`: refused.
        let k = key(Region::Us, 5);
        let mut claims = claims_for(&k, unix_now() + 600);
        claims.region = Region::Eu;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(k.kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims, k.encoding()).unwrap();
        assert!(verifier(&[&k]).verify(&token).is_err());
    }
}
