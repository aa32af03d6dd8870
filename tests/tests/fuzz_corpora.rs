//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`: the seeds,
//! what the fuzzer kept, and the crashes it found, minimized) through the
//! harness its target calls, on stable, so a fixed crash stays fixed
//! without a nightly toolchain. Every harness has a cargo-fuzz target and a
//! non-empty corpus, and every cargo-fuzz target a harness.
//!
//! `cargo test -p cairn-e2e --test fuzz_corpora -- --ignored` writes the
//! seeds (`cairn_fuzzing::seeds`) into the corpora again.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("fuzz")
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_runs_through_its_harness() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, harness) in cairn_fuzzing::TARGETS {
        let corpus = fuzz_dir().join("corpus").join(name);
        let files = files_of(&corpus);
        assert!(!files.is_empty(), "{} is empty", corpus.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| harness(&data)).is_err() {
                failures.push(file.display().to_string());
            }
            replayed += 1;
        }
    }
    println!("replayed {replayed} corpus files");
    assert!(failures.is_empty(), "harnesses panicked on {failures:?}");
}

#[test]
fn every_harness_has_a_fuzz_target_and_every_target_a_harness() {
    let targets: Vec<String> = files_of(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut harnesses: Vec<String> = cairn_fuzzing::TARGETS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    harnesses.sort();
    assert_eq!(targets, harnesses);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in &harnesses {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(
            !cairn_fuzzing::seeds(name).is_empty(),
            "{name} has no seeds"
        );
    }
}

#[test]
#[ignore = "writes the seed corpora into fuzz/corpus/"]
fn write_seed_corpora() {
    for (name, _) in cairn_fuzzing::TARGETS {
        let corpus = fuzz_dir().join("corpus").join(name);
        std::fs::create_dir_all(&corpus).unwrap();
        for (n, seed) in cairn_fuzzing::seeds(name).iter().enumerate() {
            std::fs::write(corpus.join(format!("seed-{n}")), seed).unwrap();
        }
    }
}
