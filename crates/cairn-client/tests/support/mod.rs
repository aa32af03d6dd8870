//! Tiny scripted servers on 127.0.0.1:0 for the client's tests: a
//! directory that answers from a script and records what it was sent, and
//! an accounts service whose only working call is Refresh.

#![allow(dead_code, clippy::unwrap_used, unreachable_pub)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

use cairn_proto::accounts::v1 as accounts;
use cairn_proto::accounts::v1::accounts_service_server::{AccountsService, AccountsServiceServer};
use cairn_proto::common::v1::AccessToken;
use cairn_proto::directory::v1 as pb;
use cairn_proto::directory::v1::directory_service_server::{
    DirectoryService, DirectoryServiceServer,
};

/// What the scripted directory does with the next call.
pub enum Answer {
    /// Answers with a cell at this endpoint.
    Cell(String),
    Fail(Status),
    /// Never answers.
    Stall,
}

#[derive(Default)]
pub struct Script {
    answers: Mutex<VecDeque<Answer>>,
    /// The `authorization` header of every call, in order.
    pub seen: Mutex<Vec<String>>,
    /// When set, a call without exactly this header is UNAUTHENTICATED.
    pub require: Mutex<Option<String>>,
}

impl Script {
    pub fn then(&self, answer: Answer) -> &Self {
        self.answers.lock().unwrap().push_back(answer);
        self
    }

    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    async fn answer(&self, metadata: &tonic::metadata::MetadataMap) -> Result<pb::Cell, Status> {
        let auth = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.seen.lock().unwrap().push(auth.clone());
        if let Some(required) = self.require.lock().unwrap().as_deref()
            && required != auth
        {
            return Err(Status::unauthenticated("token refused"));
        }
        let next = self.answers.lock().unwrap().pop_front();
        match next.unwrap_or(Answer::Cell("http://default.example:1".into())) {
            Answer::Cell(endpoint) => Ok(pb::Cell {
                region: cairn_core::Region::Eu.to_proto(),
                endpoint,
            }),
            Answer::Fail(status) => Err(status),
            Answer::Stall => std::future::pending().await,
        }
    }
}

#[derive(Clone)]
pub struct ScriptedDirectory(pub Arc<Script>);

#[tonic::async_trait]
impl DirectoryService for ScriptedDirectory {
    async fn list_cells(
        &self,
        request: Request<pb::ListCellsRequest>,
    ) -> Result<Response<pb::ListCellsResponse>, Status> {
        let cell = self.0.answer(request.metadata()).await?;
        Ok(Response::new(pb::ListCellsResponse { cells: vec![cell] }))
    }

    async fn resolve_country(
        &self,
        request: Request<pb::ResolveCountryRequest>,
    ) -> Result<Response<pb::ResolveCountryResponse>, Status> {
        let cell = self.0.answer(request.metadata()).await?;
        Ok(Response::new(pb::ResolveCountryResponse {
            cell: Some(cell),
        }))
    }

    async fn locate_login(
        &self,
        request: Request<pb::LocateLoginRequest>,
    ) -> Result<Response<pb::LocateLoginResponse>, Status> {
        let cell = self.0.answer(request.metadata()).await?;
        Ok(Response::new(pb::LocateLoginResponse { cell: Some(cell) }))
    }

    async fn register_login(
        &self,
        request: Request<pb::RegisterLoginRequest>,
    ) -> Result<Response<pb::RegisterLoginResponse>, Status> {
        self.0.answer(request.metadata()).await?;
        Ok(Response::new(pb::RegisterLoginResponse {}))
    }

    async fn unregister_login(
        &self,
        request: Request<pb::UnregisterLoginRequest>,
    ) -> Result<Response<pb::UnregisterLoginResponse>, Status> {
        self.0.answer(request.metadata()).await?;
        Ok(Response::new(pb::UnregisterLoginResponse {}))
    }
}

/// Refresh answers `token-<n>` / `refresh-<n>` for the n-th call.
#[derive(Default)]
pub struct Refreshes {
    /// The refresh tokens spent, in order.
    pub spent: Mutex<Vec<String>>,
}

#[derive(Clone)]
pub struct RefreshOnly(pub Arc<Refreshes>);

fn refused<T>() -> Result<Response<T>, Status> {
    Err(Status::unimplemented("not part of this test"))
}

#[tonic::async_trait]
impl AccountsService for RefreshOnly {
    async fn sign_up(
        &self,
        _: Request<accounts::SignUpRequest>,
    ) -> Result<Response<accounts::SignUpResponse>, Status> {
        refused()
    }
    async fn login(
        &self,
        _: Request<accounts::LoginRequest>,
    ) -> Result<Response<accounts::LoginResponse>, Status> {
        refused()
    }
    async fn refresh(
        &self,
        request: Request<accounts::RefreshRequest>,
    ) -> Result<Response<accounts::RefreshResponse>, Status> {
        let mut spent = self.0.spent.lock().unwrap();
        spent.push(request.into_inner().refresh_token);
        let n = spent.len();
        Ok(Response::new(accounts::RefreshResponse {
            access_token: Some(AccessToken {
                token: format!("token-{n}"),
                expires_at: cairn_core::unix_now() + 3600,
            }),
            refresh_token: format!("refresh-{n}"),
            refresh_expires_at: cairn_core::unix_now() + 86_400,
        }))
    }
    async fn logout(
        &self,
        _: Request<accounts::LogoutRequest>,
    ) -> Result<Response<accounts::LogoutResponse>, Status> {
        refused()
    }
    async fn confirm_email(
        &self,
        _: Request<accounts::ConfirmEmailRequest>,
    ) -> Result<Response<accounts::ConfirmEmailResponse>, Status> {
        refused()
    }
    async fn request_password_reset(
        &self,
        _: Request<accounts::RequestPasswordResetRequest>,
    ) -> Result<Response<accounts::RequestPasswordResetResponse>, Status> {
        refused()
    }
    async fn reset_password(
        &self,
        _: Request<accounts::ResetPasswordRequest>,
    ) -> Result<Response<accounts::ResetPasswordResponse>, Status> {
        refused()
    }
    async fn change_password(
        &self,
        _: Request<accounts::ChangePasswordRequest>,
    ) -> Result<Response<accounts::ChangePasswordResponse>, Status> {
        refused()
    }
    async fn set_marketing_preference(
        &self,
        _: Request<accounts::SetMarketingPreferenceRequest>,
    ) -> Result<Response<accounts::SetMarketingPreferenceResponse>, Status> {
        refused()
    }
    async fn get_profile(
        &self,
        _: Request<accounts::GetProfileRequest>,
    ) -> Result<Response<accounts::Profile>, Status> {
        refused()
    }
    async fn update_profile(
        &self,
        _: Request<accounts::UpdateProfileRequest>,
    ) -> Result<Response<accounts::Profile>, Status> {
        refused()
    }
    async fn export_data(
        &self,
        _: Request<accounts::ExportDataRequest>,
    ) -> Result<Response<accounts::ExportDataResponse>, Status> {
        refused()
    }
    async fn delete_account(
        &self,
        _: Request<accounts::DeleteAccountRequest>,
    ) -> Result<Response<accounts::DeleteAccountResponse>, Status> {
        refused()
    }
}

/// A server on 127.0.0.1:0, stopped when dropped.
pub struct Running {
    pub endpoint: String,
    _stop: oneshot::Sender<()>,
}

/// Serves the scripted directory and the refresh-only accounts service.
pub async fn serve(script: Arc<Script>, refreshes: Arc<Refreshes>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let router = tonic::transport::Server::builder()
        .add_service(DirectoryServiceServer::new(ScriptedDirectory(script)))
        .add_service(AccountsServiceServer::new(RefreshOnly(refreshes)));
    tokio::spawn(
        router.serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = stopped.await;
        }),
    );
    Running {
        endpoint,
        _stop: stop,
    }
}

/// A directory alone.
pub async fn directory(script: Arc<Script>) -> Running {
    serve(script, Arc::default()).await
}
