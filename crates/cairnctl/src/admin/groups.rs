//! `cairnctl groups`: groups and their backup policies and quotas.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};

use cairn_proto::orgs::v1::{
    self as pb, CreateGroupRequest, DeleteGroupRequest, ListGroupsRequest, UpdateGroupRequest,
};

use cairn_client::{Connection, Idempotency};

use crate::failed;
use crate::session::session_connection;

use super::Orgs;
use super::format::{parse_size, size};

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

async fn groups(conn: &Connection) -> anyhow::Result<Vec<pb::Group>> {
    Ok(conn
        .unary(
            Idempotency::Idempotent,
            ListGroupsRequest {},
            |mut c: Orgs, r| async move { c.list_groups(r).await },
        )
        .await
        .map_err(failed("cannot list groups"))?
        .groups)
}

/// A group by id or by name.
pub(crate) async fn group(conn: &Connection, id_or_name: &str) -> anyhow::Result<pb::Group> {
    groups(conn)
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
    let (_, conn) = session_connection(session_path).await?;
    match command {
        GroupCommand::List => {
            for g in groups(&conn).await? {
                print_group(out, &g)?;
            }
        }
        GroupCommand::Create { name, policy } => {
            let base = groups(&conn)
                .await?
                .into_iter()
                .find(|g| g.is_default)
                .and_then(|g| g.policy)
                .unwrap_or_default();
            let quota_bytes = match &policy.quota {
                Some(q) => parse_size("--quota", q)?,
                None => 0,
            };
            let request = CreateGroupRequest {
                name,
                policy: Some(policy.apply(base)),
                quota_bytes,
            };
            let g = conn
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Orgs, r| async move { c.create_group(r).await },
                )
                .await
                .map_err(failed("cannot create the group"))?;
            print_group(out, &g)?;
        }
        GroupCommand::Update {
            group: which,
            name,
            policy,
        } => {
            let current = group(&conn, &which).await?;
            let new_policy = policy
                .changes_policy()
                .then(|| policy.apply(current.policy.clone().unwrap_or_default()));
            let quota_bytes = policy
                .quota
                .as_deref()
                .map(|q| parse_size("--quota", q))
                .transpose()?;
            let request = UpdateGroupRequest {
                group_id: current.group_id,
                name,
                policy: new_policy,
                quota_bytes,
            };
            let g = conn
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Orgs, r| async move { c.update_group(r).await },
                )
                .await
                .map_err(failed("cannot update the group"))?;
            print_group(out, &g)?;
        }
        GroupCommand::Delete { group: which } => {
            let current = group(&conn, &which).await?;
            let request = DeleteGroupRequest {
                group_id: current.group_id,
            };
            conn.unary(
                Idempotency::NotIdempotent,
                request,
                |mut c: Orgs, r| async move { c.delete_group(r).await },
            )
            .await
            .map_err(failed("cannot delete the group"))?;
            writeln!(
                out,
                "group {} deleted; its users and agents are in the default group",
                current.name
            )?;
        }
    }
    Ok(())
}
