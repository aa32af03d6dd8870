//! Company administration commands: groups and policies, users and
//! invitations, agents, quota and usage.

mod agents;
pub(crate) mod format;
mod groups;
mod invitations;
mod usage;
mod users;

use tonic::transport::Channel;

use cairn_proto::orgs::v1::orgs_service_client::OrgsServiceClient;

pub(crate) use agents::{AgentCommand, run_agents};
pub(crate) use format::{parse_size, size};
pub(crate) use groups::{GroupCommand, group, run_groups};
pub(crate) use invitations::{InvitationCommand, run_invitation};
pub(crate) use usage::run_usage;
pub(crate) use users::{UserCommand, run_users};

/// The generated client the session's connection calls through.
type Orgs = OrgsServiceClient<Channel>;
