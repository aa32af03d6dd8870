//! Enrolling this machine with a one-time key.

use std::path::Path;

use anyhow::Context;

use cairn_core::{AgentId, CompanyId, Region};
use cairn_proto::directory::v1::{
    ListCellsRequest, directory_service_client::DirectoryServiceClient,
};
use cairn_proto::orgs::v1::{EnrollAgentRequest, orgs_service_client::OrgsServiceClient};

use crate::AgentState;
use crate::client::channel;

/// Finds the key's cell through the directory, enrolls, and saves the state.
/// A company in personal-key mode needs `passphrase`: without the right one
/// the machine is enrolled but locked until `cairn-agent unlock`.
pub async fn enroll(
    state_dir: &Path,
    directory: &str,
    key: &str,
    hostname: Option<String>,
    passphrase: Option<&str>,
) -> anyhow::Result<AgentState> {
    if AgentState::file(state_dir).exists() {
        anyhow::bail!(
            "this machine is already enrolled (state in {})",
            state_dir.display()
        );
    }
    let region: Region = key
        .split_once('-')
        .and_then(|(r, _)| r.parse().ok())
        .context("this is not a Cairn enrollment key (it starts with its region, like `eu-...`)")?;
    let cells = DirectoryServiceClient::new(channel(directory).await?)
        .list_cells(ListCellsRequest {})
        .await
        .map_err(|s| anyhow::anyhow!("directory: {}", s.message()))?
        .into_inner()
        .cells;
    let endpoint = cells
        .into_iter()
        .find(|c| c.region == region.to_proto())
        .map(|c| c.endpoint)
        .with_context(|| format!("the directory knows no cell for region {region}"))?;
    let hostname =
        hostname.unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    let enrolled = OrgsServiceClient::new(channel(&endpoint).await?)
        .enroll_agent(EnrollAgentRequest {
            enrollment_key: key.trim().to_owned(),
            hostname: hostname.clone(),
        })
        .await
        .map_err(|s| anyhow::anyhow!("enrollment refused: {}", s.message()))?
        .into_inner();
    let mut state = AgentState {
        directory: directory.to_owned(),
        endpoint,
        region,
        company_id: CompanyId::parse(&enrolled.company_id, "company_id")
            .context("the server sent a malformed enrollment")?,
        agent_id: AgentId::parse(&enrolled.agent_id, "agent_id")
            .context("the server sent a malformed enrollment")?,
        hostname,
        credential: enrolled.credential,
        data_key: hex::encode(&enrolled.data_key),
        personal_key: hex::encode(&enrolled.personal_key),
        dir: Some(state_dir.to_owned()),
    };
    if state.uses_personal_key() {
        cairn_crypto::PersonalKey::from_bytes(&enrolled.personal_key)
            .context("the server sent a malformed personal key")?;
        state.save(state_dir)?;
        state.unlock(passphrase).context(
            "the machine is enrolled but locked; run `cairn-agent unlock` with the company's passphrase",
        )?;
        return Ok(state);
    }
    state
        .data_key()
        .context("the server sent a malformed data key")?;
    state.save(state_dir)?;
    Ok(state)
}
