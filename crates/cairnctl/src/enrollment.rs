//! `cairnctl enrollment-key`: one-time keys that enroll a company's machines.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use tonic::transport::Channel;

use cairn_client::Idempotency;
use cairn_proto::orgs::v1::{
    CreateEnrollmentKeyRequest, EnrollmentKey, ListEnrollmentKeysRequest,
    RevokeEnrollmentKeyRequest, orgs_service_client::OrgsServiceClient,
};

use crate::admin::format::when;
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
    /// The keys you may see (owners and admins: every key), newest first;
    /// never their secrets.
    List,
    /// Revoke an unused key so that it enrolls nothing.
    Revoke { key_id: String },
}

pub(crate) async fn run(
    session_path: &Path,
    command: KeyCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (_, conn) = session_connection(session_path).await?;
    match command {
        KeyCommand::Create {
            ttl_hours,
            for_user,
            group,
        } => {
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
        }
        KeyCommand::List => {
            let list = conn
                .unary(
                    Idempotency::Idempotent,
                    ListEnrollmentKeysRequest {},
                    |mut c: Orgs, r| async move { c.list_enrollment_keys(r).await },
                )
                .await
                .map_err(failed("cannot list enrollment keys"))?;
            for key in &list.keys {
                writeln!(out, "{}", line(key))?;
            }
        }
        KeyCommand::Revoke { key_id } => {
            let key = conn
                .unary(
                    Idempotency::Idempotent,
                    RevokeEnrollmentKeyRequest { key_id },
                    |mut c: Orgs, r| async move { c.revoke_enrollment_key(r).await },
                )
                .await
                .map_err(failed("cannot revoke the enrollment key"))?;
            writeln!(out, "enrollment key {} {}", key.key_id, key.state)?;
        }
    }
    Ok(())
}

/// One key: id, state, whose machine, who made it, the times that matter.
fn line(key: &EnrollmentKey) -> String {
    let mut text = format!(
        "{}  {}  for user {}  made by {}  created {}  expires {}",
        key.key_id,
        key.state,
        key.owner_user_id,
        key.created_by,
        when(key.created_at),
        when(key.expires_at),
    );
    if !key.agent_id.is_empty() {
        text.push_str(&format!("  enrolled agent {}", key.agent_id));
    }
    if key.revoked_at != 0 {
        text.push_str(&format!("  revoked {}", when(key.revoked_at)));
    }
    text
}
