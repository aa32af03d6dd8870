//! The agent's authenticated gRPC client to its cell.

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use cairn_core::transport::{CONNECTION_WINDOW, MAX_FRAME, MAX_MESSAGE_SIZE, STREAM_WINDOW};
use cairn_proto::backup::v1::backup_service_client::BackupServiceClient;
use cairn_proto::orgs::v1::{AgentTokenRequest, orgs_service_client::OrgsServiceClient};

use crate::AgentState;

#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Backup =
    BackupServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

pub type Orgs = OrgsServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

pub struct AgentClient {
    pub backup: Backup,
    pub orgs: Orgs,
}

pub(crate) async fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(endpoint.to_owned())
        .with_context(|| format!("`{endpoint}` is not a valid endpoint"))?
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .connect()
        .await
        .with_context(|| format!("cannot reach {endpoint}"))
}

impl AgentClient {
    /// Connects to the agent's cell and exchanges its credential for a token.
    pub async fn connect(state: &AgentState) -> anyhow::Result<AgentClient> {
        let channel = channel(&state.endpoint).await?;
        let token = OrgsServiceClient::new(channel.clone())
            .agent_token(AgentTokenRequest {
                agent_id: state.agent_id.to_string(),
                credential: state.credential.clone(),
            })
            .await
            .map_err(|s| anyhow::anyhow!("cannot sign the agent in: {}", s.message()))?
            .into_inner()
            .access_token
            .context("the server returned no token")?;
        let bearer = Bearer(
            format!("Bearer {}", token.token)
                .parse()
                .context("token is not valid metadata")?,
        );
        let orgs = OrgsServiceClient::with_interceptor(channel.clone(), bearer.clone());
        let backup = BackupServiceClient::with_interceptor(channel, bearer)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Ok(AgentClient { backup, orgs })
    }
}
