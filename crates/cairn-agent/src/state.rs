//! What an enrolled agent keeps on the machine (readable by its owner only).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub directory: String,
    pub endpoint: String,
    pub region: String,
    pub company_id: String,
    pub agent_id: String,
    pub hostname: String,
    /// Machine credential, exchanged for access tokens.
    pub credential: String,
    /// The company's data key, hex.
    pub data_key: String,
}

impl AgentState {
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("agent.json")
    }

    pub fn load(dir: &Path) -> anyhow::Result<AgentState> {
        let path = Self::file(dir);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "this machine is not enrolled ({} is missing); run `cairn-agent enroll --key KEY`",
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid agent state file", path.display()))
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        let path = Self::file(dir);
        if path.exists() {
            anyhow::bail!(
                "{} exists: this machine is already enrolled",
                path.display()
            );
        }
        let json = serde_json::to_vec_pretty(self)?;
        cairn_core::secret::write_private(&path, &json)?;
        Ok(())
    }

    pub fn data_key(&self) -> anyhow::Result<cairn_crypto::DataKey> {
        let bytes =
            hex::decode(&self.data_key).context("data key in the agent state is not hex")?;
        Ok(cairn_crypto::DataKey::from_bytes(&bytes)?)
    }
}

/// The default state directory: `$CAIRN_AGENT_STATE`, else `~/.config/cairn-agent`.
pub(crate) fn default_state_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".config").join("cairn-agent"))
        .unwrap_or_else(|| PathBuf::from(".cairn-agent"))
}
