//! The cell's gRPC client to the global directory, authenticated as the
//! cell, over `cairn-client` (deadlines, retries of the idempotent call,
//! typed errors).

use std::sync::Arc;

use tonic::transport::Channel;

use cairn_auth::{PrincipalKind, TokenIssuer};
use cairn_client::{AccessToken, ClientConfig, ClientError, Connection, Credentials, Idempotency};
use cairn_core::{CompanyId, Error};
use cairn_proto::directory::v1 as pb;
use cairn_proto::directory::v1::directory_service_client::DirectoryServiceClient;

type Client = DirectoryServiceClient<Channel>;

#[derive(Clone)]
pub struct DirectoryLink {
    connection: Connection,
}

impl DirectoryLink {
    /// Connects lazily: the directory may start after the cell.
    pub fn new(endpoint: &str, issuer: Arc<TokenIssuer>) -> Result<DirectoryLink, Error> {
        // The cell signs its own token; it is reused until shortly before
        // it expires.
        let credentials = Credentials::minted(move || {
            let region = issuer.key().region();
            let (token, expires_at) = issuer
                .issue(PrincipalKind::Cell, &format!("cell:{region}"), "", vec![])
                .map_err(|e| ClientError::Credential(e.to_string()))?;
            Ok(AccessToken { token, expires_at })
        })
        .map_err(unavailable)?;
        let connection = Connection::lazy(ClientConfig::new(endpoint))
            .map_err(|e| Error::invalid("directory_endpoint", e.to_string()))?
            .with_credentials(credentials);
        Ok(DirectoryLink { connection })
    }

    /// Not retried: a lost answer after the directory recorded the login
    /// would make the second attempt ALREADY_EXISTS.
    pub async fn register_login(&self, login: &str, company: CompanyId) -> Result<(), Error> {
        let request = pb::RegisterLoginRequest {
            login: login.to_owned(),
            company_id: company.to_string(),
        };
        self.connection
            .unary(
                Idempotency::NotIdempotent,
                request,
                |mut c: Client, r| async move { c.register_login(r).await },
            )
            .await
            .map(|_| ())
            .map_err(|err| match err.code() {
                tonic::Code::AlreadyExists => Error::AlreadyExists {
                    kind: cairn_core::EntityKind::Login,
                },
                _ => unavailable(err),
            })
    }

    /// Forgetting a login twice forgets it once: retried.
    pub async fn unregister_login(&self, login: &str) -> Result<(), Error> {
        let request = pb::UnregisterLoginRequest {
            login: login.to_owned(),
        };
        self.connection
            .unary(
                Idempotency::Idempotent,
                request,
                |mut c: Client, r| async move { c.unregister_login(r).await },
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

fn unavailable(err: ClientError) -> Error {
    Error::Unavailable(format!("directory: {}", err.message()))
}

impl crate::Logins for DirectoryLink {
    async fn register_login(&self, login: &str, company: CompanyId) -> Result<(), Error> {
        DirectoryLink::register_login(self, login, company).await
    }

    async fn unregister_login(&self, login: &str) -> Result<(), Error> {
        DirectoryLink::unregister_login(self, login).await
    }
}
