//! `cairnctl users`: the company's users and their invitations.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;
use tonic::transport::Channel;

use cairn_client::Idempotency;
use cairn_proto::accounts::v1::{
    ChangeUserRoleRequest, InviteUserRequest, ListUsersRequest, MemberBackups, RemoveUserRequest,
    RevokeInvitationRequest, SetUserGroupRequest, users_service_client::UsersServiceClient,
};

use crate::failed;
use crate::session::session_connection;

type Users = UsersServiceClient<Channel>;

use super::format::when;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Users and pending invitations.
    List,
    /// Invite someone by email; the code goes to that address.
    Invite {
        email: String,
        /// `member` or `admin` (only the owner invites admins).
        #[arg(long, default_value = "member")]
        role: String,
        /// Group id or name; the default group when not given.
        #[arg(long)]
        group: Option<String>,
    },
    /// Withdraw an invitation.
    RevokeInvitation { invitation_id: String },
    /// Make a user an `admin` or a `member` (the owner).
    Role { user_id: String, role: String },
    /// Move a user to a group (id or name).
    Group { user_id: String, group: String },
    /// Remove a user: their login and sessions end at once, their machines
    /// and unused enrollment keys are revoked, and their backups kept for
    /// the company or deleted: say which.
    #[command(group(clap::ArgGroup::new("backups").required(true).args(["keep_backups", "delete_backups"])))]
    Remove {
        user_id: String,
        /// Keep their machines' backups for the company (owners and admins
        /// restore them).
        #[arg(long)]
        keep_backups: bool,
        /// Delete their machines' backups.
        #[arg(long)]
        delete_backups: bool,
    },
}

pub(crate) async fn run_users(
    session_path: &Path,
    command: UserCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (_, conn) = session_connection(session_path).await?;
    match command {
        UserCommand::List => {
            let list = conn
                .unary(
                    Idempotency::Idempotent,
                    ListUsersRequest {},
                    |mut c: Users, r| async move { c.list_users(r).await },
                )
                .await
                .map_err(failed("cannot list users"))?;
            for u in list.users {
                writeln!(
                    out,
                    "{}  {}  {}  {}  group {}{}",
                    u.user_id,
                    u.email,
                    u.name,
                    u.role,
                    u.group_name,
                    if u.email_confirmed {
                        ""
                    } else {
                        "  (email not confirmed)"
                    }
                )?;
            }
            for i in list.invitations {
                writeln!(
                    out,
                    "{}  {}  invited as {}  until {}",
                    i.invitation_id,
                    i.email,
                    i.role,
                    when(i.expires_at)
                )?;
            }
        }
        UserCommand::Invite { email, role, group } => {
            let group_id = match group {
                Some(g) => crate::admin::group(&conn, &g).await?.group_id,
                None => String::new(),
            };
            let request = InviteUserRequest {
                email,
                role,
                group_id,
            };
            let i = conn
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Users, r| async move { c.invite_user(r).await },
                )
                .await
                .map_err(failed("cannot invite"))?;
            writeln!(
                out,
                "invitation {} mailed to {} ({}), valid until {}",
                i.invitation_id,
                i.email,
                i.role,
                when(i.expires_at)
            )?;
        }
        UserCommand::RevokeInvitation { invitation_id } => {
            let request = RevokeInvitationRequest {
                invitation_id: invitation_id.clone(),
            };
            conn.unary(
                Idempotency::NotIdempotent,
                request,
                |mut c: Users, r| async move { c.revoke_invitation(r).await },
            )
            .await
            .map_err(failed("cannot revoke the invitation"))?;
            writeln!(out, "invitation {invitation_id} withdrawn")?;
        }
        UserCommand::Role { user_id, role } => {
            let u = conn
                .unary(
                    Idempotency::NotIdempotent,
                    ChangeUserRoleRequest { user_id, role },
                    |mut c: Users, r| async move { c.change_user_role(r).await },
                )
                .await
                .map_err(failed("cannot change the role"))?;
            writeln!(out, "{} is now {}", u.email, u.role)?;
        }
        UserCommand::Group { user_id, group } => {
            let group_id = crate::admin::group(&conn, &group).await?.group_id;
            let u = conn
                .unary(
                    Idempotency::NotIdempotent,
                    SetUserGroupRequest { user_id, group_id },
                    |mut c: Users, r| async move { c.set_user_group(r).await },
                )
                .await
                .map_err(failed("cannot move the user"))?;
            writeln!(out, "{} is now in group {}", u.email, u.group_name)?;
        }
        UserCommand::Remove {
            user_id,
            keep_backups,
            delete_backups,
        } => {
            let backups = match (keep_backups, delete_backups) {
                (true, false) => MemberBackups::Keep,
                (false, true) => MemberBackups::Delete,
                _ => anyhow::bail!("say either --keep-backups or --delete-backups"),
            };
            let request = RemoveUserRequest {
                user_id: user_id.clone(),
                backups: backups as i32,
            };
            let done = conn
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Users, r| async move { c.remove_user(r).await },
                )
                .await
                .map_err(failed("cannot remove the user"))?;
            let backups = if delete_backups {
                format!("{} snapshots deleted", done.snapshots_deleted)
            } else {
                format!("{} snapshots kept for the company", done.snapshots_kept)
            };
            writeln!(
                out,
                "user {user_id} removed: {} machines revoked, {} unused enrollment keys revoked, {backups}",
                done.agents_revoked, done.keys_revoked
            )?;
        }
    }
    Ok(())
}
