//! The harnesses of Cairn's fuzz targets: each takes arbitrary bytes and runs
//! them through one parser that reads input from outside the process (a
//! request message and its conversion into domain input, a pack, a stored
//! tree, the agent's parent cache and state file, the server configuration).
//! A harness must return for every input; a panic, an abort or unbounded
//! memory is a bug in the code under it.
//!
//! `fuzz/` (cargo-fuzz, outside the workspace) calls these from its targets,
//! and `tests/tests/fuzz_corpora.rs` replays every committed corpus file
//! through the same functions on stable. Nothing here is used by Cairn itself.

mod files;
mod requests;
mod seeds;
mod stored;

pub use files::{CACHE_COMPANY, agent_state, config, parent_cache};
pub use requests::{accounts_requests, backup_requests, orgs_requests};
pub use seeds::seeds;
pub use stored::{pack, tree};

/// A harness: arbitrary bytes in, nothing out; it must return for every input.
pub type Harness = fn(&[u8]);

/// Every target: its name (the cargo-fuzz binary and the corpus folder
/// `fuzz/corpus/<name>/`) and its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("backup_requests", backup_requests),
    ("orgs_requests", orgs_requests),
    ("accounts_requests", accounts_requests),
    ("pack", pack),
    ("tree", tree),
    ("parent_cache", parent_cache),
    ("agent_state", agent_state),
    ("config", config),
];

/// The input cut into a selector byte and the rest.
fn split(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(first, rest)| (*first, rest))
}

/// The input cut into frames, each a little-endian `u16` length and that
/// many bytes (a short last frame takes what is left): one message each.
fn frames(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while data.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let end = (2 + len).min(data.len());
        out.push(&data[2..end]);
        data = &data[end..];
    }
    out
}
