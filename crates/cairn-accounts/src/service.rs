//! gRPC adapter of the accounts service.

use std::sync::Arc;

use cairn_store::CellStore;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use cairn_auth::{Authenticator, TokenIssuer, client_ip};
use cairn_core::validate::SignUp;
use cairn_crypto::MasterKey;
use cairn_outbox::Mailer;
use cairn_proto::accounts::v1 as pb;
use cairn_proto::common::v1::AccessToken;

use crate::DirectoryLink;
use crate::profile::ProfileChanges;

/// The cell's mail: the outbox worker to wake after a mail is committed, and
/// where mail goes (to remove a deleted account's `.eml` files).
pub struct Mail {
    pub wake: Arc<Notify>,
    pub mailer: Mailer,
}

pub struct AccountsService {
    db: DatabaseConnection,
    auth: Authenticator,
    issuer: Arc<TokenIssuer>,
    master: Arc<MasterKey>,
    directory: DirectoryLink,
    /// Wakes the outbox worker after a mail is committed.
    mail: Arc<Notify>,
    /// The cell's bucket, to delete a company's objects.
    store: CellStore,
    /// Where mail goes, to remove a deleted account's `.eml` files.
    mailer: Mailer,
}

impl AccountsService {
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        issuer: Arc<TokenIssuer>,
        master: Arc<MasterKey>,
        directory: DirectoryLink,
        mail: Mail,
        store: CellStore,
    ) -> Self {
        AccountsService {
            db,
            auth,
            issuer,
            master,
            directory,
            mail: mail.wake,
            store,
            mailer: mail.mailer,
        }
    }
}

#[tonic::async_trait]
impl pb::accounts_service_server::AccountsService for AccountsService {
    async fn sign_up(
        &self,
        request: Request<pb::SignUpRequest>,
    ) -> Result<Response<pb::SignUpResponse>, Status> {
        let ip = client_ip(&request);
        let form = SignUp::try_from(request.into_inner())?;
        let home = form.country.region();
        if home != self.auth.region() {
            return Err(self.auth.wrong_region(home).into());
        }
        let done = crate::signup::sign_up(&self.db, home, &self.master, &self.directory, form, &ip)
            .await?;
        self.mail.notify_one();
        Ok(Response::new(pb::SignUpResponse {
            company_id: done.company.to_string(),
            user_id: done.user.to_string(),
            region: home.to_proto(),
        }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let ip = client_ip(&request);
        let req = request.into_inner();
        let done =
            crate::login::login(&self.db, &self.issuer, &req.email, req.password, &ip).await?;
        Ok(Response::new(pb::LoginResponse {
            access_token: Some(AccessToken {
                token: done.token,
                expires_at: done.expires_at,
            }),
            company_id: done.user.company_id.to_string(),
            user_id: done.user.id.to_string(),
            region: self.auth.region().to_proto(),
            roles: done.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            refresh_token: done.refresh.token,
            refresh_expires_at: done.refresh.expires_at,
        }))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let (user, next) =
            crate::sessions::rotate(&self.db, &request.get_ref().refresh_token).await?;
        let (_, token, expires_at) = crate::login::access_token(&self.issuer, &user)?;
        Ok(Response::new(pb::RefreshResponse {
            access_token: Some(AccessToken { token, expires_at }),
            refresh_token: next.token,
            refresh_expires_at: next.expires_at,
        }))
    }

    async fn confirm_email(
        &self,
        request: Request<pb::ConfirmEmailRequest>,
    ) -> Result<Response<pb::ConfirmEmailResponse>, Status> {
        let ip = client_ip(&request);
        crate::password::confirm_email(&self.db, self.auth.region(), &request.get_ref().token, &ip)
            .await?;
        Ok(Response::new(pb::ConfirmEmailResponse {}))
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
        let ip = client_ip(&request);
        let email = &request.get_ref().email;
        if crate::password::request_reset(&self.db, self.auth.region(), email, &ip).await? {
            self.mail.notify_one();
        }
        Ok(Response::new(pb::RequestPasswordResetResponse {}))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let ip = client_ip(&request);
        let req = request.into_inner();
        crate::password::reset(
            &self.db,
            self.auth.region(),
            &req.token,
            &req.new_password,
            &ip,
        )
        .await?;
        Ok(Response::new(pb::ResetPasswordResponse {}))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let claims = self.user(&request)?;
        let ip = client_ip(&request);
        let req = request.into_inner();
        crate::password::change(
            &self.db,
            &claims,
            req.current_password,
            &req.new_password,
            &ip,
        )
        .await?;
        Ok(Response::new(pb::ChangePasswordResponse {}))
    }

    async fn set_marketing_preference(
        &self,
        request: Request<pb::SetMarketingPreferenceRequest>,
    ) -> Result<Response<pb::SetMarketingPreferenceResponse>, Status> {
        let claims = self.user(&request)?;
        let ip = client_ip(&request);
        crate::password::set_marketing(&self.db, &claims, request.get_ref().opt_out, &ip).await?;
        Ok(Response::new(pb::SetMarketingPreferenceResponse {}))
    }

    async fn get_profile(
        &self,
        request: Request<pb::GetProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let claims = self.user(&request)?;
        let profile = crate::profile::get(&self.db, &claims).await?;
        Ok(Response::new(profile.into()))
    }

    async fn update_profile(
        &self,
        request: Request<pb::UpdateProfileRequest>,
    ) -> Result<Response<pb::Profile>, Status> {
        let claims = self.user(&request)?;
        let ip = client_ip(&request);
        let changes = ProfileChanges::try_from(request.into_inner())?;
        let profile =
            crate::profile::update(&self.db, &self.directory, &claims, &ip, changes).await?;
        self.mail.notify_one();
        Ok(Response::new(profile.into()))
    }

    async fn export_data(
        &self,
        request: Request<pb::ExportDataRequest>,
    ) -> Result<Response<pb::ExportDataResponse>, Status> {
        let claims = self.user(&request)?;
        let json =
            crate::export::export(&self.db, &claims, request.get_ref().whole_company).await?;
        Ok(Response::new(pb::ExportDataResponse { json }))
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let claims = self.user(&request)?;
        let req = request.into_inner();
        let company_deleted = crate::delete::delete(
            &self.db,
            &self.store,
            Some(&self.mailer),
            &self.directory,
            &claims,
            req.password,
            &req.confirm_company_name,
        )
        .await?;
        Ok(Response::new(pb::DeleteAccountResponse { company_deleted }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        crate::sessions::logout(&self.db, &request.get_ref().refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }
}

impl AccountsService {
    /// A signed-in user of this cell.
    fn user<T>(&self, request: &Request<T>) -> Result<cairn_auth::Claims, cairn_core::Error> {
        let claims = self.auth.authenticate(request)?;
        claims.require_kind(cairn_auth::PrincipalKind::User)?;
        Ok(claims)
    }
}
