//! The cell's gRPC client to the global directory, authenticated as the cell.

use std::sync::Arc;

use tonic::transport::{Channel, Endpoint};

use cairn_auth::{PrincipalKind, TokenIssuer, bearer_metadata};
use cairn_core::{CompanyId, Error};
use cairn_proto::directory::v1 as pb;
use cairn_proto::directory::v1::directory_service_client::DirectoryServiceClient;

#[derive(Clone)]
pub struct DirectoryLink {
    client: DirectoryServiceClient<Channel>,
    issuer: Arc<TokenIssuer>,
}

impl DirectoryLink {
    /// Connects lazily: the directory may start after the cell.
    pub fn new(endpoint: &str, issuer: Arc<TokenIssuer>) -> Result<DirectoryLink, Error> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|e| Error::invalid("directory_endpoint", e.to_string()))?
            .connect_lazy();
        Ok(DirectoryLink {
            client: DirectoryServiceClient::new(channel),
            issuer,
        })
    }

    fn request<T>(&self, message: T) -> Result<tonic::Request<T>, Error> {
        let region = self.issuer.key().region();
        let (token, _) =
            self.issuer
                .issue(PrincipalKind::Cell, &format!("cell:{region}"), "", vec![])?;
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", bearer_metadata(&token)?);
        Ok(request)
    }

    pub async fn register_login(&self, login: &str, company: CompanyId) -> Result<(), Error> {
        let request = self.request(pb::RegisterLoginRequest {
            login: login.to_owned(),
            company_id: company.to_string(),
        })?;
        self.client
            .clone()
            .register_login(request)
            .await
            .map(|_| ())
            .map_err(|status| match status.code() {
                tonic::Code::AlreadyExists => Error::AlreadyExists {
                    kind: cairn_core::EntityKind::Login,
                },
                _ => Error::Unavailable(format!("directory: {}", status.message())),
            })
    }

    pub async fn unregister_login(&self, login: &str) -> Result<(), Error> {
        let request = self.request(pb::UnregisterLoginRequest {
            login: login.to_owned(),
        })?;
        self.client
            .clone()
            .unregister_login(request)
            .await
            .map(|_| ())
            .map_err(|status| Error::Unavailable(format!("directory: {}", status.message())))
    }
}

impl crate::Logins for DirectoryLink {
    async fn register_login(&self, login: &str, company: CompanyId) -> Result<(), Error> {
        DirectoryLink::register_login(self, login, company).await
    }

    async fn unregister_login(&self, login: &str) -> Result<(), Error> {
        DirectoryLink::unregister_login(self, login).await
    }
}
