//! `cairnctl account`: the caller's own account.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use cairn_client::{ClientError, Idempotency};
use cairn_proto::accounts::v1::{
    ChangePasswordRequest, ConfirmEmailRequest, DeleteAccountRequest, ExportDataRequest,
    GetProfileRequest, RequestPasswordResetRequest, ResetPasswordRequest,
    SetMarketingPreferenceRequest, UpdateProfileRequest,
    accounts_service_client::AccountsServiceClient,
};

use crate::session::session_connection;
use crate::{AccountCommand, connection, failed};

type Accounts = AccountsServiceClient<tonic::transport::Channel>;

/// The endpoint of the cell a `<region>-...` code belongs to.
pub(crate) async fn cell_of_code(directory: &str, code: &str) -> anyhow::Result<String> {
    let region: cairn_core::Region = code
        .trim()
        .split_once('-')
        .and_then(|(r, _)| r.parse().ok())
        .context(
            "this is not a Cairn code from a mail (it starts with its region, like `eu-...`)",
        )?;
    match crate::directory(directory).await?.cell_of(region).await {
        Ok(endpoint) => Ok(endpoint),
        Err(e @ ClientError::NoCell { .. }) => Err(e.into()),
        Err(e) => Err(failed("directory")(e)),
    }
}

pub(crate) async fn run(
    directory: &str,
    session_path: &Path,
    command: AccountCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        AccountCommand::Confirm { token } => {
            connection(&cell_of_code(directory, &token).await?)
                .await?
                .unary(
                    Idempotency::NotIdempotent,
                    ConfirmEmailRequest { token },
                    |mut c: Accounts, r| async move { c.confirm_email(r).await },
                )
                .await
                .map_err(failed("confirmation failed"))?;
            writeln!(out, "email address confirmed")?;
        }
        AccountCommand::ForgotPassword { email } => {
            // An unknown address gets the same answer: nothing tells whether it exists.
            let located = crate::directory(directory)
                .await?
                .locate_login(&email)
                .await;
            if let Ok(cell) = located {
                connection(&cell)
                    .await?
                    .unary(
                        Idempotency::NotIdempotent,
                        RequestPasswordResetRequest { email },
                        |mut c: Accounts, r| async move { c.request_password_reset(r).await },
                    )
                    .await
                    .map_err(failed("password reset failed"))?;
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
            connection(&cell_of_code(directory, &token).await?)
                .await?
                .unary(
                    Idempotency::NotIdempotent,
                    ResetPasswordRequest {
                        token,
                        new_password,
                    },
                    |mut c: Accounts, r| async move { c.reset_password(r).await },
                )
                .await
                .map_err(failed("password reset failed"))?;
            writeln!(
                out,
                "password changed; every session has ended, log in again"
            )?;
        }
        AccountCommand::ChangePassword {
            password,
            new_password,
        } => {
            let (_, conn) = session_connection(session_path).await?;
            conn.unary(
                Idempotency::NotIdempotent,
                ChangePasswordRequest {
                    current_password: password,
                    new_password,
                },
                |mut c: Accounts, r| async move { c.change_password(r).await },
            )
            .await
            .map_err(failed("password change failed"))?;
            let _ = std::fs::remove_file(session_path);
            writeln!(
                out,
                "password changed; every session has ended, log in again"
            )?;
        }
        AccountCommand::Show => {
            let (_, conn) = session_connection(session_path).await?;
            let p = conn
                .unary(
                    Idempotency::Idempotent,
                    GetProfileRequest {},
                    |mut c: Accounts, r| async move { c.get_profile(r).await },
                )
                .await
                .map_err(failed("cannot show your account"))?;
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
            let (_, conn) = session_connection(session_path).await?;
            conn.unary(
                Idempotency::NotIdempotent,
                UpdateProfileRequest {
                    name,
                    title,
                    username,
                    email,
                },
                |mut c: Accounts, r| async move { c.update_profile(r).await },
            )
            .await
            .map_err(failed("cannot update your account"))?;
            writeln!(out, "saved")?;
        }
        AccountCommand::Export { out: path, company } => {
            let (_, conn) = session_connection(session_path).await?;
            let json = conn
                .unary(
                    Idempotency::Idempotent,
                    ExportDataRequest {
                        whole_company: company,
                    },
                    |mut c: Accounts, r| async move { c.export_data(r).await },
                )
                .await
                .map_err(failed("export failed"))?
                .json;
            let _ = std::fs::remove_file(&path);
            cairn_core::secret::write_private(&path, &json)?;
            writeln!(out, "exported to {}", path.display())?;
        }
        AccountCommand::Delete {
            password,
            company_name,
        } => {
            let (_, conn) = session_connection(session_path).await?;
            let done = conn
                .unary(
                    Idempotency::NotIdempotent,
                    DeleteAccountRequest {
                        password,
                        confirm_company_name: company_name,
                    },
                    |mut c: Accounts, r| async move { c.delete_account(r).await },
                )
                .await
                .map_err(failed("deletion refused"))?;
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
            let (_, conn) = session_connection(session_path).await?;
            conn.unary(
                Idempotency::NotIdempotent,
                SetMarketingPreferenceRequest { opt_out },
                |mut c: Accounts, r| async move { c.set_marketing_preference(r).await },
            )
            .await
            .map_err(failed("cannot save the preference"))?;
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
