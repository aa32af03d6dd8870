//! Company administration commands: groups and policies, users and
//! invitations, agents, quota and usage.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use bytesize::ByteSize;
use clap::{Args, Subcommand};
use tonic::transport::Channel;

use cairn_proto::accounts::v1::{
    AcceptInvitationRequest, ChangeUserRoleRequest, InviteUserRequest, ListUsersRequest,
    RemoveUserRequest, RevokeInvitationRequest, SetUserGroupRequest,
    users_service_client::UsersServiceClient,
};
use cairn_proto::orgs::v1::{
    self as pb, CreateGroupRequest, DeleteGroupRequest, GetUsageRequest, ListAgentsRequest,
    ListGroupsRequest, MoveAgentRequest, RenameAgentRequest, RevokeAgentRequest,
    UpdateGroupRequest, orgs_service_client::OrgsServiceClient,
};

use crate::session::{Session, authed, load_session};
use crate::{connect, status};

#[derive(Subcommand)]
pub(crate) enum GroupCommand {
    /// Groups with their policy, members, agents and storage.
    List,
    /// Create a group; policy options not given come from the default group.
    Create {
        name: String,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Change a group's name, policy (only the options given) or quota.
    Update {
        /// Group id or name.
        group: String,
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Delete a group; its users and agents move to the default group.
    Delete {
        /// Group id or name.
        group: String,
    },
}

#[derive(Args, Default)]
pub(crate) struct PolicyArgs {
    /// A path to back up (repeat; `~` is the home directory).
    #[arg(long = "include")]
    include: Vec<String>,
    /// Only back up files matching this glob (repeat), e.g. "*.docx".
    #[arg(long = "include-pattern")]
    include_pattern: Vec<String>,
    /// Leave out files and directories matching this glob (repeat), e.g. "*.mp3".
    #[arg(long = "exclude")]
    exclude: Vec<String>,
    /// Drop every exclusion before adding --exclude ones.
    #[arg(long)]
    clear_excludes: bool,
    /// `manual`, `every 30m`, `every 4h` or `daily 02:00`.
    #[arg(long)]
    schedule: Option<String>,
    /// Snapshots kept per machine: at least this many...
    #[arg(long)]
    keep_last: Option<i32>,
    /// ...and every one younger than this many days.
    #[arg(long)]
    keep_days: Option<i32>,
    /// Upload limit in KiB/s (0: unlimited).
    #[arg(long)]
    bandwidth_kbps: Option<i64>,
    /// Group storage quota, e.g. 200GiB (0: none).
    #[arg(long)]
    quota: Option<String>,
}

impl PolicyArgs {
    fn changes_policy(&self) -> bool {
        !self.include.is_empty()
            || !self.include_pattern.is_empty()
            || !self.exclude.is_empty()
            || self.clear_excludes
            || self.schedule.is_some()
            || self.keep_last.is_some()
            || self.keep_days.is_some()
            || self.bandwidth_kbps.is_some()
    }

    /// `base` with the options given applied.
    fn apply(&self, mut base: pb::Policy) -> pb::Policy {
        if !self.include.is_empty() {
            base.include_paths = self.include.clone();
        }
        if !self.include_pattern.is_empty() {
            base.include_patterns = self.include_pattern.clone();
        }
        if self.clear_excludes {
            base.exclude_patterns.clear();
        }
        base.exclude_patterns.extend(self.exclude.iter().cloned());
        if let Some(s) = &self.schedule {
            base.schedule = s.clone();
        }
        if let Some(k) = self.keep_last {
            base.keep_last = k;
        }
        if let Some(k) = self.keep_days {
            base.keep_within_days = k;
        }
        if let Some(b) = self.bandwidth_kbps {
            base.bandwidth_kbps = b;
        }
        base
    }
}

/// Bytes from a size like `500GiB`, `10 GB` or `0`.
pub(crate) fn parse_size(what: &str, value: &str) -> anyhow::Result<i64> {
    let size: ByteSize = value
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{what}: `{value}` is not a size like 500GiB ({e})"))?;
    i64::try_from(size.as_u64()).with_context(|| format!("{what}: `{value}` is too large"))
}

pub(crate) fn size(bytes: i64) -> String {
    ByteSize::b(bytes.max(0) as u64).display().iec().to_string()
}

fn when(secs: i64) -> String {
    if secs == 0 {
        return "never".into();
    }
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| secs.to_string())
}

async fn orgs(session: &Session) -> anyhow::Result<OrgsServiceClient<Channel>> {
    Ok(OrgsServiceClient::new(connect(&session.endpoint).await?))
}

async fn groups(session: &Session) -> anyhow::Result<Vec<pb::Group>> {
    Ok(orgs(session)
        .await?
        .list_groups(authed(session, ListGroupsRequest {})?)
        .await
        .map_err(status("cannot list groups"))?
        .into_inner()
        .groups)
}

/// A group by id or by name.
pub(crate) async fn group(session: &Session, id_or_name: &str) -> anyhow::Result<pb::Group> {
    groups(session)
        .await?
        .into_iter()
        .find(|g| g.group_id == id_or_name || g.name.eq_ignore_ascii_case(id_or_name))
        .with_context(|| format!("no group `{id_or_name}`"))
}

fn print_group(out: &mut dyn Write, g: &pb::Group) -> anyhow::Result<()> {
    let p = g.policy.clone().unwrap_or_default();
    let quota = match g.quota_bytes {
        0 => "no quota".to_owned(),
        q => format!("quota {}", size(q)),
    };
    writeln!(
        out,
        "{}  {}{}  users {}  agents {}  stored {}  {quota}  policy v{}",
        g.group_id,
        g.name,
        if g.is_default { " (default)" } else { "" },
        g.users,
        g.agents,
        size(g.stored_bytes),
        g.policy_version
    )?;
    writeln!(
        out,
        "    paths {}; only [{}]; excluding [{}]; {}; keep last {} and {} days; {}",
        p.include_paths.join(", "),
        p.include_patterns.join(", "),
        p.exclude_patterns.join(", "),
        p.schedule,
        p.keep_last,
        p.keep_within_days,
        match p.bandwidth_kbps {
            0 => "no upload limit".to_owned(),
            b => format!("upload limit {b} KiB/s"),
        }
    )?;
    Ok(())
}

pub(crate) async fn run_groups(
    session_path: &Path,
    command: GroupCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let session = load_session(session_path).await?;
    let mut client = orgs(&session).await?;
    match command {
        GroupCommand::List => {
            for g in groups(&session).await? {
                print_group(out, &g)?;
            }
        }
        GroupCommand::Create { name, policy } => {
            let base = groups(&session)
                .await?
                .into_iter()
                .find(|g| g.is_default)
                .and_then(|g| g.policy)
                .unwrap_or_default();
            let quota_bytes = match &policy.quota {
                Some(q) => parse_size("--quota", q)?,
                None => 0,
            };
            let g = client
                .create_group(authed(
                    &session,
                    CreateGroupRequest {
                        name,
                        policy: Some(policy.apply(base)),
                        quota_bytes,
                    },
                )?)
                .await
                .map_err(status("cannot create the group"))?
                .into_inner();
            print_group(out, &g)?;
        }
        GroupCommand::Update {
            group: which,
            name,
            policy,
        } => {
            let current = group(&session, &which).await?;
            let new_policy = policy
                .changes_policy()
                .then(|| policy.apply(current.policy.clone().unwrap_or_default()));
            let quota_bytes = policy
                .quota
                .as_deref()
                .map(|q| parse_size("--quota", q))
                .transpose()?;
            let g = client
                .update_group(authed(
                    &session,
                    UpdateGroupRequest {
                        group_id: current.group_id,
                        name,
                        policy: new_policy,
                        quota_bytes,
                    },
                )?)
                .await
                .map_err(status("cannot update the group"))?
                .into_inner();
            print_group(out, &g)?;
        }
        GroupCommand::Delete { group: which } => {
            let current = group(&session, &which).await?;
            client
                .delete_group(authed(
                    &session,
                    DeleteGroupRequest {
                        group_id: current.group_id,
                    },
                )?)
                .await
                .map_err(status("cannot delete the group"))?;
            writeln!(
                out,
                "group {} deleted; its users and agents are in the default group",
                current.name
            )?;
        }
    }
    Ok(())
}

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
    let done = UsersServiceClient::new(connect(&endpoint).await?)
        .accept_invitation(AcceptInvitationRequest {
            code,
            name,
            title,
            username,
            password,
            age_confirmed: i_am_13_or_older,
        })
        .await
        .map_err(status("cannot accept the invitation"))?
        .into_inner();
    writeln!(
        out,
        "account {} created in company {}; log in with `cairnctl login`",
        done.user_id, done.company_id
    )?;
    Ok(())
}

#[derive(Subcommand)]
pub(crate) enum AgentCommand {
    /// Machines with owner, group, last backup and bytes protected.
    List,
    /// Revoke a machine: its seat is free and its credential dead.
    Revoke { agent_id: String },
    /// Give a machine another name.
    Rename { agent_id: String, name: String },
    /// Move a machine to a group (id or name).
    Move { agent_id: String, group: String },
}

fn print_agent(out: &mut dyn Write, a: &pb::Agent) -> anyhow::Result<()> {
    let result = match (a.last_result.as_str(), a.last_error.as_str()) {
        ("", _) => "no backup yet".to_owned(),
        ("failed", why) => format!("failed: {why}"),
        (r, _) => r.to_owned(),
    };
    let policy = if a.policy_version_seen == a.policy_version {
        String::new()
    } else {
        "  policy pending".to_owned()
    };
    writeln!(
        out,
        "{}  {}  owner {}  group {}  last backup {} ({result})  protects {}{}{policy}",
        a.agent_id,
        a.hostname,
        if a.owner_email.is_empty() {
            "-"
        } else {
            &a.owner_email
        },
        a.group_name,
        when(a.last_backup_at),
        size(a.bytes_protected),
        if a.idle { "  IDLE" } else { "" },
    )?;
    Ok(())
}

pub(crate) async fn run_agents(
    session_path: &Path,
    command: AgentCommand,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let session = load_session(session_path).await?;
    let mut client = orgs(&session).await?;
    match command {
        AgentCommand::List => {
            let agents = client
                .list_agents(authed(&session, ListAgentsRequest {})?)
                .await
                .map_err(status("cannot list agents"))?
                .into_inner()
                .agents;
            for a in &agents {
                print_agent(out, a)?;
            }
        }
        AgentCommand::Revoke { agent_id } => {
            client
                .revoke_agent(authed(
                    &session,
                    RevokeAgentRequest {
                        agent_id: agent_id.clone(),
                    },
                )?)
                .await
                .map_err(status("cannot revoke the agent"))?;
            writeln!(out, "agent {agent_id} revoked; its seat is free")?;
        }
        AgentCommand::Rename { agent_id, name } => {
            let a = client
                .rename_agent(authed(
                    &session,
                    RenameAgentRequest {
                        agent_id,
                        hostname: name,
                    },
                )?)
                .await
                .map_err(status("cannot rename the agent"))?
                .into_inner();
            print_agent(out, &a)?;
        }
        AgentCommand::Move { agent_id, group } => {
            let group_id = crate::admin::group(&session, &group).await?.group_id;
            let a = client
                .move_agent(authed(&session, MoveAgentRequest { agent_id, group_id })?)
                .await
                .map_err(status("cannot move the agent"))?
                .into_inner();
            print_agent(out, &a)?;
        }
    }
    Ok(())
}

/// `cairnctl usage`: a table, or CSV with exact byte counts.
pub(crate) async fn run_usage(
    session_path: &Path,
    from: String,
    to: String,
    csv: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let session = load_session(session_path).await?;
    let days = orgs(&session)
        .await?
        .get_usage(authed(&session, GetUsageRequest { from, to })?)
        .await
        .map_err(status("cannot read usage"))?
        .into_inner()
        .days;
    if csv {
        writeln!(out, "day,seats_used,logical_bytes,stored_bytes")?;
        for d in &days {
            writeln!(
                out,
                "{},{},{},{}",
                d.day, d.seats_used, d.logical_bytes, d.stored_bytes
            )?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<10}  {:>5}  {:>12}  {:>12}",
        "day", "seats", "protected", "stored"
    )?;
    for d in &days {
        writeln!(
            out,
            "{:<10}  {:>5}  {:>12}  {:>12}",
            d.day,
            d.seats_used,
            size(d.logical_bytes),
            size(d.stored_bytes)
        )?;
    }
    Ok(())
}
