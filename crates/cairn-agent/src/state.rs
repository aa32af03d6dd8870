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
    /// The company's data key, hex; empty while a personal-key agent is
    /// locked (enrolled without the right passphrase).
    pub data_key: String,
    /// Personal-key mode: the data key sealed with the company's
    /// passphrase, hex; empty for a managed key.
    #[serde(default)]
    pub personal_key: String,
    /// The state directory this was loaded from or saved to; the agent keeps
    /// its parent-snapshot cache there.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
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
        let mut state: AgentState = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid agent state file", path.display()))?;
        state.dir = Some(dir.to_owned());
        Ok(state)
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
        if self.data_key.is_empty() && !self.personal_key.is_empty() {
            anyhow::bail!(
                "this machine is locked: the company uses a personal key; run `cairn-agent unlock` with its passphrase"
            );
        }
        let bytes =
            hex::decode(&self.data_key).context("data key in the agent state is not hex")?;
        Ok(cairn_crypto::DataKey::from_bytes(&bytes)?)
    }

    pub fn uses_personal_key(&self) -> bool {
        !self.personal_key.is_empty()
    }

    /// The data key opened from the personal key with `passphrase`.
    pub fn open_personal_key(
        &self,
        passphrase: Option<&str>,
    ) -> anyhow::Result<cairn_crypto::DataKey> {
        let passphrase = passphrase.context(
            "the company uses a personal key: give its passphrase with --passphrase-file or CAIRN_KEY_PASSPHRASE",
        )?;
        let sealed = hex::decode(&self.personal_key)
            .context("personal key in the agent state is not hex")?;
        let key = cairn_crypto::PersonalKey::from_bytes(&sealed)?.open(passphrase)?;
        Ok(key)
    }

    /// Opens the personal key with `passphrase` and keeps the data key, so
    /// scheduled backups run unattended.
    pub fn unlock(&mut self, passphrase: Option<&str>) -> anyhow::Result<()> {
        let key = self.open_personal_key(passphrase)?;
        self.data_key = hex::encode(key.as_bytes());
        let dir = self
            .dir
            .clone()
            .context("the agent state has no directory")?;
        let path = Self::file(&dir);
        cairn_core::secret::replace_private(&path, &serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

/// The default state directory: `$CAIRN_AGENT_STATE`, else `~/.config/cairn-agent`.
pub(crate) fn default_state_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".config").join("cairn-agent"))
        .unwrap_or_else(|| PathBuf::from(".cairn-agent"))
}
