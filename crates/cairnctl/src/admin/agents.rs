//! `cairnctl agents`: the company's machines.

use std::io::Write;
use std::path::Path;

use clap::Subcommand;

use cairn_proto::orgs::v1::{
    self as pb, ListAgentsRequest, MoveAgentRequest, RenameAgentRequest, RevokeAgentRequest,
};

use cairn_client::Idempotency;

use crate::failed;
use crate::session::session_connection;

use super::Orgs;
use super::format::{size, when};

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
    let (_, conn) = session_connection(session_path).await?;
    match command {
        AgentCommand::List => {
            let agents = conn
                .unary(
                    Idempotency::Idempotent,
                    ListAgentsRequest {},
                    |mut c: Orgs, r| async move { c.list_agents(r).await },
                )
                .await
                .map_err(failed("cannot list agents"))?
                .agents;
            for a in &agents {
                print_agent(out, a)?;
            }
        }
        AgentCommand::Revoke { agent_id } => {
            let request = RevokeAgentRequest {
                agent_id: agent_id.clone(),
            };
            conn.unary(
                Idempotency::NotIdempotent,
                request,
                |mut c: Orgs, r| async move { c.revoke_agent(r).await },
            )
            .await
            .map_err(failed("cannot revoke the agent"))?;
            writeln!(out, "agent {agent_id} revoked; its seat is free")?;
        }
        AgentCommand::Rename { agent_id, name } => {
            let request = RenameAgentRequest {
                agent_id,
                hostname: name,
            };
            let a = conn
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Orgs, r| async move { c.rename_agent(r).await },
                )
                .await
                .map_err(failed("cannot rename the agent"))?;
            print_agent(out, &a)?;
        }
        AgentCommand::Move { agent_id, group } => {
            let group_id = crate::admin::group(&conn, &group).await?.group_id;
            let a = conn
                .unary(
                    Idempotency::NotIdempotent,
                    MoveAgentRequest { agent_id, group_id },
                    |mut c: Orgs, r| async move { c.move_agent(r).await },
                )
                .await
                .map_err(failed("cannot move the agent"))?;
            print_agent(out, &a)?;
        }
    }
    Ok(())
}
