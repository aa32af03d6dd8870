//! Identity for Cairn: EdDSA access tokens (one pinned algorithm, `kid`
//! rotation), argon2id password hashing, and the check every RPC runs first:
//! bearer token → verified claims → right region → required role.
//!
//! This crate decides who is calling; it never reads tenant data.

mod authn;
mod claims;
mod keys;
mod password;
mod token;

pub use authn::{Authenticator, bearer_metadata, client_ip};
pub use claims::{Claims, PrincipalKind, Role, role_denied};
pub use keys::SigningKey;
pub use password::{hash_password, verify_password, verify_password_or_dummy};
pub use token::{ACCESS_TOKEN_TTL_SECS, AUDIENCE, TokenIssuer, TokenVerifier, issuer_for};
