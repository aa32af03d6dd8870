//! Files read from disk: the agent's parent cache and state file, and the
//! server's configuration. Each input is written to the file's place in a
//! temporary folder (one per thread, reused) and read back by the real
//! loader.

use std::path::{Path, PathBuf};

thread_local! {
    static FOLDER: Option<tempfile::TempDir> = tempfile::tempdir().ok();
}

/// Writes `data` to `name` (relative to the thread's folder, or the path
/// `name` gives for that folder) and runs `read` on the folder.
fn with_file(name: impl Fn(&Path) -> PathBuf, data: &[u8], read: impl FnOnce(&Path)) {
    FOLDER.with(|folder| {
        let Some(folder) = folder else {
            return;
        };
        let file = name(folder.path());
        if std::fs::write(&file, data).is_ok() {
            read(folder.path());
        }
    });
}

/// The company a fuzzed cache must name to be used.
pub const CACHE_COMPANY: &str = "0190f3a4-5b6c-7d8e-9f00-112233445566";

/// `parent-cache.bin`, read as a backup of [`CACHE_COMPANY`] reads it.
pub fn parent_cache(data: &[u8]) {
    with_file(cairn_agent::fuzzing::parent_cache_path, data, |dir| {
        let _ = cairn_agent::fuzzing::read_parent_cache(dir, CACHE_COMPANY);
    });
}

/// `agent.json`, loaded as every agent command loads it, and its data key;
/// the same bytes as a sealed personal-key record (parsed, never opened:
/// opening is Argon2id work the record's bounded costs decide).
pub fn agent_state(data: &[u8]) {
    with_file(cairn_agent::AgentState::file, data, |dir| {
        if let Ok(state) = cairn_agent::AgentState::load(dir) {
            let _ = state.data_key();
        }
    });
    let _ = cairn_crypto::PersonalKey::from_bytes(data);
}

/// A server configuration file, loaded and validated as `cairn-server --config` does.
pub fn config(data: &[u8]) {
    with_file(
        |dir| dir.join("cairn.toml"),
        data,
        |dir| {
            let _ = cairn_core::config::ServerConfig::load(Some(&dir.join("cairn.toml")));
        },
    );
}
