//! The agent's authenticated connection to its cell, through `cairn-client`:
//! one channel, the machine credential exchanged for access tokens (and
//! again before each expiry), a deadline on every call.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use cairn_client::{ClientConfig, ClientError, Connection, Credentials, Deadline};
use cairn_core::transport::MAX_MESSAGE_SIZE;
use cairn_proto::backup::v1::backup_service_client::BackupServiceClient;
use cairn_proto::orgs::v1::orgs_service_client::OrgsServiceClient;

use crate::AgentState;

pub use cairn_client::Bearer;

/// The backup service with the agent's token, for calls made directly.
pub type Backup = BackupServiceClient<InterceptedService<Channel, Bearer>>;

/// The orgs service with the agent's token, for calls made directly.
pub type Orgs = OrgsServiceClient<InterceptedService<Channel, Bearer>>;

/// Generated clients as [`Connection::unary`] and [`Connection::stream`]
/// build them (the connection adds the token).
pub(crate) type BackupRpc = BackupServiceClient<Channel>;
pub(crate) type OrgsRpc = OrgsServiceClient<Channel>;

/// The slowest transfer rate taken for a working server, when the policy
/// sets no bandwidth limit: below it, a stream is treated as stalled.
/// Slow uplinks share it between the packs uploading at once.
const MIN_RATE: u64 = 32 * 1024;

/// An authenticated connection to the agent's cell.
#[derive(Clone)]
pub struct AgentClient {
    /// For calls made with the generated client directly; sends the token
    /// current when the call starts (see [`AgentClient::ensure_fresh`]).
    pub backup: Backup,
    pub orgs: Orgs,
    /// Calls with deadlines, retries of idempotent calls and refreshed tokens.
    pub connection: Connection,
}

/// The agent could not exchange its credential for a token.
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the agent in: {}", .0.message())]
pub struct SignInError(#[source] pub ClientError);

impl AgentClient {
    /// Connects to the agent's cell and exchanges its credential for a token.
    pub async fn connect(state: &AgentState) -> anyhow::Result<AgentClient> {
        AgentClient::connect_with(state, ClientConfig::new(&state.endpoint)).await
    }

    /// [`AgentClient::connect`] with other timeouts or retries; the
    /// endpoint is the state's.
    pub async fn connect_with(
        state: &AgentState,
        config: ClientConfig,
    ) -> anyhow::Result<AgentClient> {
        let config = config.for_endpoint(&state.endpoint);
        let credentials = Credentials::agent(
            &config,
            state.agent_id.to_string(),
            state.credential.clone(),
        )?;
        let connection = Connection::connect(config).await?;
        credentials.ensure_fresh().await.map_err(SignInError)?;
        let connection = connection.with_credentials(credentials.clone());
        let channel = connection.channel();
        let orgs = OrgsServiceClient::with_interceptor(channel.clone(), credentials.interceptor())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let backup = BackupServiceClient::with_interceptor(channel, credentials.interceptor())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Ok(AgentClient {
            backup,
            orgs,
            connection,
        })
    }

    /// Replaces the token when it is close to expiry, so that the
    /// generated clients' next calls carry a valid one.
    pub async fn ensure_fresh(&self) -> Result<(), SignInError> {
        match self.connection.credentials() {
            Some(credentials) => credentials.ensure_fresh().await.map_err(SignInError),
            None => Ok(()),
        }
    }

    /// The deadline of a stream moving `bytes`: at the slowest rate a
    /// working server is allowed (never above the policy's bandwidth limit,
    /// `bandwidth_kbps`, when one is set), and never less than twice the
    /// unary deadline.
    pub(crate) fn transfer_deadline(&self, bytes: u64, bandwidth_kbps: i64) -> Deadline {
        Deadline::for_transfer(bytes, transfer_rate(bandwidth_kbps), self.stream_floor())
    }

    fn stream_floor(&self) -> Duration {
        self.connection.config().unary_timeout * 2
    }
}

/// The slowest rate a stream may move at before it counts as stalled: half
/// the policy's limit when one is set (two packs upload at once), and never
/// above [`MIN_RATE`].
fn transfer_rate(bandwidth_kbps: i64) -> u64 {
    let limit = u64::try_from(bandwidth_kbps)
        .unwrap_or(0)
        .saturating_mul(1024);
    if limit > 0 {
        MIN_RATE.min((limit / 2).max(1))
    } else {
        MIN_RATE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_bandwidth_limit_lengthens_the_deadline() {
        let floor = Duration::from_secs(60);
        let rate_for = transfer_rate;
        let pack = 16 * 1024 * 1024;
        let unlimited = Deadline::for_transfer(pack, rate_for(0), floor).budget();
        // 16 MiB at 32 KiB/s.
        assert_eq!(unlimited, Duration::from_secs(513));
        // The policy's lowest limit, 1 kbps: the pack may take 16 MiB at
        // half that, so the limit alone never trips the deadline.
        let slowest = Deadline::for_transfer(pack, rate_for(1), floor).budget();
        assert!(slowest >= Duration::from_secs(pack / 1024), "{slowest:?}");
        // A small pack gets the floor.
        assert_eq!(
            Deadline::for_transfer(10, rate_for(0), floor).budget(),
            floor
        );
    }
}
