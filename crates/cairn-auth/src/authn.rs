//! The first step of every authenticated RPC: read the bearer token, verify it,
//! and send callers of another region to their own cell.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::metadata::{MetadataMap, MetadataValue};

use cairn_core::{Error, Region};

use crate::token::Rejected;
use crate::{Claims, TokenVerifier};

#[derive(Clone)]
pub struct Authenticator {
    region: Region,
    verifier: Arc<TokenVerifier>,
    /// Public endpoint of every cell, to redirect callers of another region.
    endpoints: Arc<BTreeMap<Region, String>>,
}

impl Authenticator {
    pub fn new(
        region: Region,
        verifier: Arc<TokenVerifier>,
        endpoints: Arc<BTreeMap<Region, String>>,
    ) -> Self {
        Authenticator {
            region,
            verifier,
            endpoints,
        }
    }

    pub fn region(&self) -> Region {
        self.region
    }

    /// The endpoint of `region`'s cell, if known.
    pub fn endpoint_of(&self, region: Region) -> Option<&str> {
        self.endpoints.get(&region).map(String::as_str)
    }

    /// An error sending the caller to `region`'s cell.
    pub fn wrong_region(&self, region: Region) -> Error {
        Error::WrongRegion {
            region,
            endpoint: self.endpoint_of(region).unwrap_or_default().to_owned(),
        }
    }

    /// Verifies the request's bearer token for this cell.
    pub fn authenticate<T>(&self, request: &tonic::Request<T>) -> Result<Claims, Error> {
        self.authenticate_metadata(request.metadata())
    }

    pub fn authenticate_metadata(&self, metadata: &MetadataMap) -> Result<Claims, Error> {
        let header = metadata
            .get("authorization")
            .ok_or_else(|| Error::Unauthenticated("missing authorization bearer token".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Error::Unauthenticated("authorization must be `Bearer <token>`".into())
            })?;
        let claims = match self.verifier.verify_inner(token) {
            Ok(claims) => claims,
            Err(Rejected::UnknownKey {
                region: Some(region),
            }) if region != self.region => {
                return Err(self.wrong_region(region));
            }
            Err(Rejected::UnknownKey { .. }) => {
                return Err(Error::Unauthenticated(
                    "token signed by an unknown key".into(),
                ));
            }
            Err(Rejected::Invalid(why)) => return Err(Error::Unauthenticated(why)),
        };
        if claims.region != self.region {
            return Err(self.wrong_region(claims.region));
        }
        Ok(claims)
    }
}

/// The caller's address as the server saw it; empty when unknown. Recorded
/// with sign-ups and audited changes, and used to throttle logins.
pub fn client_ip<T>(request: &tonic::Request<T>) -> String {
    request
        .remote_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// `authorization: Bearer <token>` for an outgoing request.
pub fn bearer_metadata(token: &str) -> Result<MetadataValue<tonic::metadata::Ascii>, Error> {
    MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| Error::Unauthenticated("token is not valid metadata".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PrincipalKind, SigningKey, TokenIssuer};

    #[test]
    fn another_regions_token_is_redirected() {
        let eu = TokenIssuer::new(SigningKey::from_seed(Region::Eu, &[9; 32]).unwrap());
        let us_key = SigningKey::from_seed(Region::Us, &[8; 32]).unwrap();
        let mut verifier = TokenVerifier::new();
        verifier.trust(&us_key);
        verifier.trust(eu.key());
        let endpoints = BTreeMap::from([
            (Region::Us, "http://us".to_owned()),
            (Region::Eu, "http://eu".to_owned()),
        ]);
        let us_auth =
            Authenticator::new(Region::Us, Arc::new(verifier), Arc::new(endpoints.clone()));
        let (token, _) = eu.issue(PrincipalKind::User, "u", "c", vec![]).unwrap();
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", bearer_metadata(&token).unwrap());
        match us_auth.authenticate(&request) {
            Err(Error::WrongRegion { region, endpoint }) => {
                assert_eq!(region, Region::Eu);
                assert_eq!(endpoint, "http://eu");
            }
            other => panic!("expected a redirect, got {other:?}"),
        }

        // A cell that does not even trust the other region's key still redirects.
        let mut only_us = TokenVerifier::new();
        only_us.trust(&us_key);
        let auth = Authenticator::new(Region::Us, Arc::new(only_us), Arc::new(endpoints));
        assert!(matches!(
            auth.authenticate(&request),
            Err(Error::WrongRegion { .. })
        ));
    }

    #[test]
    fn missing_or_malformed_header_is_unauthenticated() {
        let auth = Authenticator::new(Region::Us, Arc::new(TokenVerifier::new()), Arc::default());
        let request = tonic::Request::new(());
        assert!(matches!(
            auth.authenticate(&request),
            Err(Error::Unauthenticated(_))
        ));
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", MetadataValue::from_static("Basic abc"));
        assert!(matches!(
            auth.authenticate(&request),
            Err(Error::Unauthenticated(_))
        ));
    }
}
