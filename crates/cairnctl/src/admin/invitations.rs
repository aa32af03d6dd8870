//! `cairnctl invitation`: accepting an invitation to a company.

use std::io::Write;

use clap::Subcommand;

use tonic::transport::Channel;

use cairn_client::Idempotency;
use cairn_proto::accounts::v1::{
    AcceptInvitationRequest, users_service_client::UsersServiceClient,
};

use crate::{connection, failed};

#[derive(Subcommand)]
pub(crate) enum InvitationCommand {
    /// Accept an invitation and create your account; then `cairnctl login`.
    Accept {
        /// The code from the invitation mail.
        #[arg(long)]
        code: String,
        /// Your full name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "")]
        title: String,
        #[arg(long, env = "CAIRN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Confirms that you are at least 13 years old.
        #[arg(long)]
        i_am_13_or_older: bool,
    },
}

pub(crate) async fn run_invitation(
    directory: &str,
    command: InvitationCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let InvitationCommand::Accept {
        code,
        name,
        username,
        title,
        password,
        i_am_13_or_older,
    } = command;
    let endpoint = crate::account::cell_of_code(directory, &code).await?;
    let request = AcceptInvitationRequest {
        code,
        name,
        title,
        username,
        password,
        age_confirmed: i_am_13_or_older,
    };
    // Creates an account and spends the code: sent once.
    let done = connection(&endpoint)
        .await?
        .unary(
            Idempotency::NotIdempotent,
            request,
            |mut c: UsersServiceClient<Channel>, r| async move { c.accept_invitation(r).await },
        )
        .await
        .map_err(failed("cannot accept the invitation"))?;
    writeln!(
        out,
        "account {} created in company {}; log in with `cairnctl login`",
        done.user_id, done.company_id
    )?;
    Ok(())
}
