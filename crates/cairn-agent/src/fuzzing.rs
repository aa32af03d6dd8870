//! Entry point for the fuzz target of the parent-snapshot cache reader
//! (`fuzz/`, and the corpus replayed by `tests/tests/fuzz_corpora.rs`).
//! Not an API.

use std::path::Path;

use crate::cache::ParentCache;

/// Reads the cache file in `state_dir` as a backup of `company_id` would:
/// the tree ids up front, then every entry in walk order. Returns the
/// number of trees, entries, and entries with well-formed chunk ids.
pub fn read_parent_cache(state_dir: &Path, company_id: &str) -> (usize, usize, usize) {
    let mut cache = ParentCache::load(state_dir, company_id);
    let trees = cache.take_trees().len();
    let (entries, valid) = cache.drain();
    (trees, entries, valid)
}

/// The cache file's name in a state directory.
pub fn parent_cache_path(state_dir: &Path) -> std::path::PathBuf {
    ParentCache::path(state_dir)
}
