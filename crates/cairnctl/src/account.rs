//! `cairnctl account`: the caller's own account.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use cairn_proto::accounts::v1::{
    ChangePasswordRequest, ConfirmEmailRequest, DeleteAccountRequest, ExportDataRequest,
    GetProfileRequest, RequestPasswordResetRequest, ResetPasswordRequest,
    SetMarketingPreferenceRequest, UpdateProfileRequest,
    accounts_service_client::AccountsServiceClient,
};
use cairn_proto::directory::v1::{
    ListCellsRequest, LocateLoginRequest, directory_service_client::DirectoryServiceClient,
};

use crate::session::{authed, load_session};
use crate::{AccountCommand, connect, status};

/// The endpoint of the cell a `<region>-...` code belongs to.
pub(crate) async fn cell_of_code(directory: &str, code: &str) -> anyhow::Result<String> {
    let region: cairn_core::Region = code
        .trim()
        .split_once('-')
        .and_then(|(r, _)| r.parse().ok())
        .context(
            "this is not a Cairn code from a mail (it starts with its region, like `eu-...`)",
        )?;
    DirectoryServiceClient::new(connect(directory).await?)
        .list_cells(ListCellsRequest {})
        .await
        .map_err(status("directory"))?
        .into_inner()
        .cells
        .into_iter()
        .find(|c| c.region == region.to_proto())
        .map(|c| c.endpoint)
        .with_context(|| format!("the directory knows no cell for region {region}"))
}

pub(crate) async fn run(
    directory: &str,
    session_path: &Path,
    command: AccountCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        AccountCommand::Confirm { token } => {
            AccountsServiceClient::new(connect(&cell_of_code(directory, &token).await?).await?)
                .confirm_email(ConfirmEmailRequest { token })
                .await
                .map_err(status("confirmation failed"))?;
            writeln!(out, "email address confirmed")?;
        }
        AccountCommand::ForgotPassword { email } => {
            // An unknown address gets the same answer: nothing tells whether it exists.
            let located = DirectoryServiceClient::new(connect(directory).await?)
                .locate_login(LocateLoginRequest {
                    login: email.clone(),
                })
                .await;
            if let Ok(found) = located
                && let Some(cell) = found.into_inner().cell
            {
                AccountsServiceClient::new(connect(&cell.endpoint).await?)
                    .request_password_reset(RequestPasswordResetRequest { email })
                    .await
                    .map_err(status("password reset failed"))?;
            }
            writeln!(
                out,
                "if this address has a Cairn account, a reset code is on its way"
            )?;
        }
        AccountCommand::ResetPassword {
            token,
            new_password,
        } => {
            AccountsServiceClient::new(connect(&cell_of_code(directory, &token).await?).await?)
                .reset_password(ResetPasswordRequest {
                    token,
                    new_password,
                })
                .await
                .map_err(status("password reset failed"))?;
            writeln!(
                out,
                "password changed; every session has ended, log in again"
            )?;
        }
        AccountCommand::ChangePassword {
            password,
            new_password,
        } => {
            let session = load_session(session_path).await?;
            AccountsServiceClient::new(connect(&session.endpoint).await?)
                .change_password(authed(
                    &session,
                    ChangePasswordRequest {
                        current_password: password,
                        new_password,
                    },
                )?)
                .await
                .map_err(status("password change failed"))?;
            let _ = std::fs::remove_file(session_path);
            writeln!(
                out,
                "password changed; every session has ended, log in again"
            )?;
        }
        AccountCommand::Show => {
            let session = load_session(session_path).await?;
            let p = AccountsServiceClient::new(connect(&session.endpoint).await?)
                .get_profile(authed(&session, GetProfileRequest {})?)
                .await
                .map_err(status("cannot show your account"))?
                .into_inner();
            writeln!(
                out,
                "name: {}\ntitle: {}\nusername: {}\nemail: {} ({})\nrole: {}\ncompany: {} ({})\nmarketing mail: {}",
                p.name,
                p.title,
                p.username,
                p.email,
                if p.email_confirmed {
                    "confirmed"
                } else {
                    "not confirmed"
                },
                p.role,
                p.company_name,
                p.company_id,
                if p.marketing_opt_out { "off" } else { "on" }
            )?;
        }
        AccountCommand::Update {
            name,
            title,
            username,
            email,
        } => {
            let session = load_session(session_path).await?;
            AccountsServiceClient::new(connect(&session.endpoint).await?)
                .update_profile(authed(
                    &session,
                    UpdateProfileRequest {
                        name,
                        title,
                        username,
                        email,
                    },
                )?)
                .await
                .map_err(status("cannot update your account"))?;
            writeln!(out, "saved")?;
        }
        AccountCommand::Export { out: path, company } => {
            let session = load_session(session_path).await?;
            let json = AccountsServiceClient::new(connect(&session.endpoint).await?)
                .export_data(authed(
                    &session,
                    ExportDataRequest {
                        whole_company: company,
                    },
                )?)
                .await
                .map_err(status("export failed"))?
                .into_inner()
                .json;
            let _ = std::fs::remove_file(&path);
            cairn_core::secret::write_private(&path, &json)?;
            writeln!(out, "exported to {}", path.display())?;
        }
        AccountCommand::Delete {
            password,
            company_name,
        } => {
            let session = load_session(session_path).await?;
            let done = AccountsServiceClient::new(connect(&session.endpoint).await?)
                .delete_account(authed(
                    &session,
                    DeleteAccountRequest {
                        password,
                        confirm_company_name: company_name,
                    },
                )?)
                .await
                .map_err(status("deletion refused"))?
                .into_inner();
            let _ = std::fs::remove_file(session_path);
            writeln!(
                out,
                "{}",
                if done.company_deleted {
                    "the company, its users, agents and backups are deleted"
                } else {
                    "your account is deleted"
                }
            )?;
        }
        AccountCommand::Marketing { opt_out, opt_in } => {
            if opt_out == opt_in {
                anyhow::bail!("say --opt-out or --opt-in");
            }
            let session = load_session(session_path).await?;
            AccountsServiceClient::new(connect(&session.endpoint).await?)
                .set_marketing_preference(authed(
                    &session,
                    SetMarketingPreferenceRequest { opt_out },
                )?)
                .await
                .map_err(status("cannot save the preference"))?;
            writeln!(
                out,
                "{}",
                if opt_out {
                    "marketing mail stopped; service mail (confirmations, alerts, billing) still comes"
                } else {
                    "marketing mail resumed"
                }
            )?;
        }
    }
    Ok(())
}
