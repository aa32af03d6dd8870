//! `cairnctl enrollment-key`: one-time keys that enroll a company's machines.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use tonic::transport::Channel;

use cairn_client::Idempotency;
use cairn_proto::orgs::v1::{CreateEnrollmentKeyRequest, orgs_service_client::OrgsServiceClient};

use crate::failed;
use crate::session::session_connection;

type Orgs = OrgsServiceClient<Channel>;

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a one-time enrollment key.
    Create {
        /// Hours the key stays valid (1 to 720).
        #[arg(long, default_value_t = 72)]
        ttl_hours: u32,
        /// Whose machine it is (a user id; owners and admins). Default: yours.
        #[arg(long)]
        for_user: Option<String>,
        /// The machine's group (id or name; owners and admins). Default: its owner's.
        #[arg(long)]
        group: Option<String>,
    },
}

pub(crate) async fn run(
    session_path: &Path,
    command: KeyCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let KeyCommand::Create {
        ttl_hours,
        for_user,
        group,
    } = command;
    let (_, conn) = session_connection(session_path).await?;
    let group_id = match group {
        Some(g) => crate::admin::group(&conn, &g).await?.group_id,
        None => String::new(),
    };
    let request = CreateEnrollmentKeyRequest {
        ttl_hours,
        owner_user_id: for_user.unwrap_or_default(),
        group_id,
    };
    // Every call makes a new key: sent once.
    let key = conn
        .unary(
            Idempotency::NotIdempotent,
            request,
            |mut c: Orgs, r| async move { c.create_enrollment_key(r).await },
        )
        .await
        .map_err(failed("cannot create an enrollment key"))?;
    writeln!(out, "{}", key.key)?;
    Ok(())
}
