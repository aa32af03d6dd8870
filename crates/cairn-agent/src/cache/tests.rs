//! The cache's round trips: what one backup writes, the next one reads.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use cairn_core::ChunkId;

use super::format::{Entry, FILE};
use super::parent::ParentCache;
use super::writer::NextCache;

impl ParentCache {
    /// Replaces the cache with `entries` and `trees`, through [`NextCache`].
    fn save(
        state_dir: &Path,
        company_id: &str,
        entries: Vec<Entry>,
        trees: &[ChunkId],
    ) -> anyhow::Result<()> {
        let mut next = NextCache::create(state_dir, company_id)?;
        for entry in entries {
            next.add(entry)?;
        }
        for tree in trees {
            next.add_tree(tree)?;
        }
        next.commit()
    }
}

#[test]
fn a_file_is_reused_only_while_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.csv");
    fs::write(&file, b"one").unwrap();
    let meta = fs::metadata(&file).unwrap();
    let ids = [ChunkId([7; 32])];
    let tree = ChunkId([8; 32]);
    let save = || {
        ParentCache::save(
            dir.path(),
            "acme",
            vec![Entry::new(&file, &meta, &ids)],
            &[tree],
        )
        .unwrap()
    };
    save();

    let mut cache = ParentCache::load(dir.path(), "acme");
    assert!(!cache.is_empty());
    assert_eq!(cache.take_trees(), HashSet::from([tree]));
    // Another company's agent state never uses it.
    assert!(ParentCache::load(dir.path(), "other").is_empty());
    // A path the cache does not hold, before it in walk order.
    assert!(
        cache
            .take_unchanged(&dir.path().join("aardvark.csv"), &meta)
            .is_none()
    );
    let (size, got, entry) = cache.take_unchanged(&file, &meta).unwrap();
    assert_eq!((size, got), (3, ids.to_vec()));
    assert_eq!(entry, Entry::new(&file, &meta, &ids));
    // Taken: the next cache holds it now.
    assert!(cache.take_unchanged(&file, &meta).is_none());

    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(&file, b"two").unwrap();
    let changed = fs::metadata(&file).unwrap();
    let mut cache = ParentCache::load(dir.path(), "acme");
    assert!(cache.take_unchanged(&file, &changed).is_none());
}

#[test]
fn entries_are_met_in_walk_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("a")).unwrap();
    // The walk's order: "a" and what it holds come before "a-b" and
    // "a.txt", though "/" sorts after "-" and "." byte by byte.
    let files = [
        root.join("a/x"),
        root.join("a/z"),
        root.join("a-b"),
        root.join("a.txt"),
    ];
    for (i, file) in files.iter().enumerate() {
        fs::write(file, vec![b'c'; i + 1]).unwrap();
    }
    let entries = files
        .iter()
        .enumerate()
        .map(|(i, f)| Entry::new(f, &fs::metadata(f).unwrap(), &[ChunkId([i as u8; 32])]))
        .collect();
    ParentCache::save(root, "acme", entries, &[]).unwrap();

    let mut cache = ParentCache::load(root, "acme");
    let take = |cache: &mut ParentCache, path: &Path| {
        let meta = fs::symlink_metadata(path).ok()?;
        cache
            .take_unchanged(path, &meta)
            .map(|(_, ids, _)| ids[0].0[0])
    };
    assert_eq!(take(&mut cache, &files[0]), Some(0));
    // A new file between two cached ones.
    fs::write(root.join("a/y"), b"new").unwrap();
    assert_eq!(take(&mut cache, &root.join("a/y")), None);
    assert_eq!(take(&mut cache, &files[1]), Some(1));
    // "a-b" was deleted: the walk passes it by.
    assert_eq!(take(&mut cache, &files[3]), Some(3));
    assert!(cache.is_empty());
}

#[test]
fn a_cache_cut_short_serves_what_comes_before_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..3).map(|i| dir.path().join(format!("f{i}"))).collect();
    let mut entries = Vec::new();
    for (i, file) in files.iter().enumerate() {
        fs::write(file, b"data").unwrap();
        entries.push(Entry::new(
            file,
            &fs::metadata(file).unwrap(),
            &[ChunkId([i as u8; 32])],
        ));
    }
    ParentCache::save(dir.path(), "acme", entries, &[ChunkId([9; 32])]).unwrap();
    let path = ParentCache::path(dir.path());
    let bytes = fs::read(&path).unwrap();

    // Cut inside the last entry (the tree comes after it): the header
    // and the first entries still serve; nothing panics.
    fs::write(&path, &bytes[..bytes.len() - 40]).unwrap();
    let mut cache = ParentCache::load(dir.path(), "acme");
    assert!(cache.take_trees().is_empty());
    let meta = |i: usize| fs::metadata(&files[i]).unwrap();
    assert!(cache.take_unchanged(&files[0], &meta(0)).is_some());
    assert!(cache.take_unchanged(&files[1], &meta(1)).is_some());
    assert!(cache.take_unchanged(&files[2], &meta(2)).is_none());

    // Every cut of the file loads without a panic.
    for end in 0..bytes.len() {
        fs::write(&path, &bytes[..end]).unwrap();
        let mut cache = ParentCache::load(dir.path(), "acme");
        for (i, file) in files.iter().enumerate() {
            let _ = cache.take_unchanged(file, &meta(i));
        }
    }
}

#[test]
fn a_next_cache_replaces_the_old_one_only_when_committed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.csv");
    fs::write(&file, b"one").unwrap();
    let meta = fs::metadata(&file).unwrap();
    let old = Entry::new(&file, &meta, &[ChunkId([1; 32])]);
    ParentCache::save(dir.path(), "acme", vec![old.clone()], &[ChunkId([2; 32])]).unwrap();

    let new = Entry::new(&file, &meta, &[ChunkId([3; 32]), ChunkId([4; 32])]);
    let mut next = NextCache::create(dir.path(), "acme").unwrap();
    next.add(new.clone()).unwrap();
    next.add_tree(&ChunkId([5; 32])).unwrap();
    // A backup that fails drops its next cache: the old one stays.
    drop(next);
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "no partial file is left: {names:?}");
    let mut cache = ParentCache::load(dir.path(), "acme");
    assert_eq!(
        cache.take_unchanged(&file, &meta).map(|(_, _, e)| e),
        Some(old)
    );

    let mut next = NextCache::create(dir.path(), "acme").unwrap();
    next.add(new.clone()).unwrap();
    next.add_tree(&ChunkId([5; 32])).unwrap();
    next.add_tree(&ChunkId([6; 32])).unwrap();
    next.commit().unwrap();
    let mut cache = ParentCache::load(dir.path(), "acme");
    assert_eq!(
        cache.take_trees(),
        HashSet::from([ChunkId([5; 32]), ChunkId([6; 32])])
    );
    let (size, ids, entry) = cache.take_unchanged(&file, &meta).unwrap();
    assert_eq!(
        (size, ids, entry),
        (3, vec![ChunkId([3; 32]), ChunkId([4; 32])], new)
    );
}

#[test]
fn partial_caches_of_processes_that_are_gone_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger.csv");
    fs::write(&file, b"one").unwrap();
    let meta = fs::metadata(&file).unwrap();
    // Left by a process that no longer runs.
    let orphan = dir.path().join(format!("{FILE}.4294967295.partial"));
    fs::write(&orphan, b"half a cache").unwrap();

    let mut first = NextCache::create(dir.path(), "acme").unwrap();
    assert!(!orphan.exists());
    first
        .add(Entry::new(&file, &meta, &[ChunkId([1; 32])]))
        .unwrap();
    first.commit().unwrap();
    let mut cache = ParentCache::load(dir.path(), "acme");
    let (_, ids, _) = cache.take_unchanged(&file, &meta).unwrap();
    assert_eq!(ids, vec![ChunkId([1; 32])]);
}

#[test]
fn a_damaged_cache_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(ParentCache::path(dir.path()), b"\xff\xff not a cache").unwrap();
    assert!(ParentCache::load(dir.path(), "acme").is_empty());
}
