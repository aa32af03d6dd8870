//! Enrolling this machine with a one-time key.

use std::path::Path;

use anyhow::Context;

use cairn_client::{ClientConfig, ClientError, Connection, Directory, Idempotency};
use cairn_core::{AgentId, CompanyId, Region};
use cairn_proto::orgs::v1::EnrollAgentRequest;

use crate::AgentState;
use crate::client::OrgsRpc;

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
    let endpoint = Directory::lazy(ClientConfig::new(directory))?
        .cell_of(region)
        .await
        .map_err(|err| match err {
            ClientError::NoCell { .. } => anyhow::Error::new(err),
            other => anyhow::anyhow!("directory: {}", other.message()),
        })?;
    let hostname =
        hostname.unwrap_or_else(|| gethostname::gethostname().to_string_lossy().into_owned());
    // Spends a key and a seat: sent once (a wrong-region answer is
    // followed, since that cell did nothing).
    let cell = Connection::lazy(ClientConfig::new(endpoint))?;
    let enrolled = cell
        .unary(
            Idempotency::NotIdempotent,
            EnrollAgentRequest {
                enrollment_key: key.trim().to_owned(),
                hostname: hostname.clone(),
            },
            |mut c: OrgsRpc, r| async move { c.enroll_agent(r).await },
        )
        .await
        .map_err(|e| anyhow::anyhow!("enrollment refused: {}", e.message()))?;
    let endpoint = cell.endpoint();
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
