//! `cairnctl users`: the company's users and their invitations.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use cairn_proto::accounts::v1::{
    ChangeUserRoleRequest, InviteUserRequest, ListUsersRequest, RemoveUserRequest,
    RevokeInvitationRequest, SetUserGroupRequest, users_service_client::UsersServiceClient,
};

use crate::session::{authed, load_session};
use crate::{connect, status};

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
    /// Remove a user: their login and sessions end at once.
    Remove { user_id: String },
}

pub(crate) async fn run_users(
    session_path: &Path,
    command: UserCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let session = load_session(session_path).await?;
    let mut client = UsersServiceClient::new(connect(&session.endpoint).await?);
    match command {
        UserCommand::List => {
            let list = client
                .list_users(authed(&session, ListUsersRequest {})?)
                .await
                .map_err(status("cannot list users"))?
                .into_inner();
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
                Some(g) => crate::admin::group(&session, &g).await?.group_id,
                None => String::new(),
            };
            let i = client
                .invite_user(authed(
                    &session,
                    InviteUserRequest {
                        email,
                        role,
                        group_id,
                    },
                )?)
                .await
                .map_err(status("cannot invite"))?
                .into_inner();
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
            client
                .revoke_invitation(authed(
                    &session,
                    RevokeInvitationRequest {
                        invitation_id: invitation_id.clone(),
                    },
                )?)
                .await
                .map_err(status("cannot revoke the invitation"))?;
            writeln!(out, "invitation {invitation_id} withdrawn")?;
        }
        UserCommand::Role { user_id, role } => {
            let u = client
                .change_user_role(authed(&session, ChangeUserRoleRequest { user_id, role })?)
                .await
                .map_err(status("cannot change the role"))?
                .into_inner();
            writeln!(out, "{} is now {}", u.email, u.role)?;
        }
        UserCommand::Group { user_id, group } => {
            let group_id = crate::admin::group(&session, &group).await?.group_id;
            let u = client
                .set_user_group(authed(&session, SetUserGroupRequest { user_id, group_id })?)
                .await
                .map_err(status("cannot move the user"))?
                .into_inner();
            writeln!(out, "{} is now in group {}", u.email, u.group_name)?;
        }
        UserCommand::Remove { user_id } => {
            client
                .remove_user(authed(
                    &session,
                    RemoveUserRequest {
                        user_id: user_id.clone(),
                    },
                )?)
                .await
                .map_err(status("cannot remove the user"))?;
            writeln!(out, "user {user_id} removed")?;
        }
    }
    Ok(())
}
