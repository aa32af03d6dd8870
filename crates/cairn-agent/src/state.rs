//! What an enrolled agent keeps on the machine (readable by its owner only).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Deserializer, Serialize};

use cairn_core::{AgentId, CompanyId, Region};

/// `agent.json`. The ids and the region are typed; on disk they keep the
/// string forms the first agents wrote (`"eu"`, hyphenated UUIDs), so a
/// state file written by any earlier agent still loads.
#[derive(Clone, Serialize, Deserialize)]
pub struct AgentState {
    pub directory: String,
    pub endpoint: String,
    #[serde(deserialize_with = "region")]
    pub region: Region,
    pub company_id: CompanyId,
    pub agent_id: AgentId,
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

/// A region by its name; a malformed one names the field.
fn region<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Region, D::Error> {
    String::deserialize(deserializer)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// The default state directory: `$CAIRN_AGENT_STATE`, else `~/.config/cairn-agent`.
pub(crate) fn default_state_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".config").join("cairn-agent"))
        .unwrap_or_else(|| PathBuf::from(".cairn-agent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `agent.json` as enrollment has always written it.
    const SAVED: &str = r#"{
  "directory": "https://directory.cairn.example:7000",
  "endpoint": "https://eu.cairn.example:7001",
  "region": "eu",
  "company_id": "0190a0b4-7c1e-7d2a-9f3b-1c2d3e4f5a6b",
  "agent_id": "0190a0b5-1111-7222-8333-444455556666",
  "hostname": "ledger-01",
  "credential": "cred-secret",
  "data_key": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
  "personal_key": ""
}"#;

    fn write(dir: &Path, text: &str) {
        std::fs::write(AgentState::file(dir), text).unwrap();
    }

    #[test]
    fn a_state_file_written_before_typed_ids_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), SAVED);
        let state = AgentState::load(dir.path()).unwrap();
        assert_eq!(state.region, Region::Eu);
        assert_eq!(
            state.company_id.to_string(),
            "0190a0b4-7c1e-7d2a-9f3b-1c2d3e4f5a6b"
        );
        assert_eq!(
            state.agent_id.to_string(),
            "0190a0b5-1111-7222-8333-444455556666"
        );
        // Saved again, it is the same document.
        let saved: serde_json::Value = serde_json::from_str(SAVED).unwrap();
        let again = serde_json::to_value(&state).unwrap();
        assert_eq!(again, saved);
    }

    #[test]
    fn a_malformed_id_or_region_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        for (field, bad) in [
            ("agent_id", "agent-7"),
            ("company_id", ""),
            ("region", "mars"),
        ] {
            let mut document: serde_json::Value = serde_json::from_str(SAVED).unwrap();
            document[field] = serde_json::Value::from(bad);
            write(dir.path(), &document.to_string());
            let err = AgentState::load(dir.path()).err().unwrap();
            let message = format!("{err:#}");
            assert!(
                message.contains("not a valid agent state file"),
                "{message}"
            );
            assert!(message.contains(&format!("invalid {field}")), "{message}");
        }
    }
}
