//! The gRPC adapter of the organisations service: the only part of this
//! crate that knows tonic and the protos. Each handler authenticates the
//! caller, converts its request into a domain input with `TryFrom`
//! ([`convert`]), calls the domain function and converts the result back.
//! No SQL here.

mod convert;
#[doc(hidden)]
pub mod fuzzing;
mod service;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tonic::Request;

use cairn_auth::{Authenticator, Role, TokenIssuer};
use cairn_core::Error;
use cairn_crypto::MasterKey;
use cairn_entity::CompanyScope;
use cairn_entity::regional::agent;
use cairn_tenancy::access;

pub struct OrgsService {
    db: DatabaseConnection,
    auth: Authenticator,
    issuer: Arc<TokenIssuer>,
    master: Arc<MasterKey>,
}

impl OrgsService {
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        issuer: Arc<TokenIssuer>,
        master: Arc<MasterKey>,
    ) -> Self {
        OrgsService {
            db,
            auth,
            issuer,
            master,
        }
    }

    /// The calling user, refused unless they hold one of `roles` now. The
    /// domain function checks its role again; checking here first keeps a
    /// caller without the role from learning which of its fields are wrong.
    async fn user<T>(
        &self,
        request: &Request<T>,
        roles: &[Role],
    ) -> Result<access::UserCaller, Error> {
        let claims = self.auth.authenticate(request)?;
        access::user_from_claims(&self.db, claims, roles).await
    }

    /// The calling agent; a revoked agent is refused at once.
    async fn agent<T>(&self, request: &Request<T>) -> Result<(agent::Model, CompanyScope), Error> {
        let claims = self.auth.authenticate(request)?;
        access::agent_from_claims(&self.db, &claims).await
    }
}
