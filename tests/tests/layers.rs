//! The layering rules of docs/architecture.md, checked against the code.
//!
//! - Every Cairn crate has a row in the crates table; its `[dependencies]` on
//!   other Cairn crates are among those its row lists, and each of those sits
//!   in a lower layer (so no service crate depends on another).
//! - No module of a crate uses a module that uses it back: neither the
//!   top-level modules of a crate (`crate::a` ↔ `crate::b`) nor the children
//!   of a module folder (`super::a` ↔ `super::b`).
//!
//! It reads the table from the document and the dependencies from
//! `cargo metadata`, so the picture cannot drift from the Cargo.toml files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// One row of the crates table.
#[derive(Debug)]
struct Row {
    layer: u32,
    /// `None` for "any".
    allowed: Option<BTreeSet<String>>,
}

/// The crates table of docs/architecture.md: `| `crate` ... | layer | what | may depend on |`.
fn table() -> BTreeMap<String, Row> {
    let doc = std::fs::read_to_string(workspace_root().join("docs/architecture.md"))
        .expect("docs/architecture.md is readable");
    let start = doc
        .find("| crate | layer | what it is for | may depend on |")
        .expect("docs/architecture.md has the crates table");
    let mut rows = BTreeMap::new();
    for line in doc[start..].lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 4, "a crates-table row has four cells: {line}");
        let name = backticked(cells[0])
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no crate name in {line}"));
        let layer = cells[1]
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no layer number in {line}"));
        let allowed = match cells[3].trim() {
            "any" => None,
            deps => Some(backticked(deps).into_iter().collect()),
        };
        rows.insert(name, Row { layer, allowed });
    }
    rows
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

struct Package {
    name: String,
    src: PathBuf,
    /// Normal and build dependencies on Cairn crates.
    deps: BTreeSet<String>,
}

fn packages() -> Vec<Package> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut packages = Vec::new();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().expect("package name").to_owned();
        let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest path"));
        let deps = p["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|n| n.starts_with("cairn"))
            .map(str::to_owned)
            .collect();
        packages.push(Package {
            name,
            src: manifest.parent().expect("manifest folder").join("src"),
            deps,
        });
    }
    packages
}

#[test]
fn crates_depend_only_on_what_their_row_allows_and_only_downwards() {
    let rows = table();
    let mut problems = Vec::new();
    for p in packages() {
        let Some(row) = rows.get(&p.name) else {
            problems.push(format!("{} has no row in the crates table", p.name));
            continue;
        };
        let Some(allowed) = &row.allowed else {
            continue;
        };
        for dep in &p.deps {
            if !allowed.contains(dep) {
                problems.push(format!("{} depends on {dep}, not in its row", p.name));
            }
        }
        for dep in allowed {
            match rows.get(dep) {
                None => problems.push(format!("{}'s row lists unknown crate {dep}", p.name)),
                Some(d) if d.layer >= row.layer => problems.push(format!(
                    "{} (layer {}) may not depend on {dep} (layer {})",
                    p.name, row.layer, d.layer
                )),
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Code of a Rust file: without comment lines (docs may name any module)
/// and without its `#[cfg(test)]` tail (tests may use anything).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names `prefix::name` and `prefix::{a, b::c}` refer to.
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let needle = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&needle) {
        // `mycrate::` is not `crate::`.
        let before = rest[..at].chars().last();
        rest = &rest[at + needle.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.insert(head);
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.insert(head);
        }
    }
    names
}

/// The modules of a folder: `name.rs` files and `name/` folders, with the
/// files each consists of.
fn modules(dir: &Path, skip: &[&str]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let file = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            out.insert(file, rust_files(&path));
        } else if let Some(name) = file.strip_suffix(".rs")
            && !skip.contains(&name)
        {
            out.insert(name.to_owned(), vec![path]);
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.path().extension().is_some_and(|e| e == "rs") {
            files.push(entry.path().to_path_buf());
        }
    }
    files
}

/// A pair of modules that reach each other, if any.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn reaches(
        graph: &BTreeMap<String, BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        if from == to {
            return true;
        }
        for next in graph.get(from).into_iter().flatten() {
            if seen.insert(next.clone()) && reaches(graph, next, to, seen) {
                return true;
            }
        }
        false
    }
    let mut found = Vec::new();
    for (a, uses) in graph {
        for b in uses {
            if a < b && reaches(graph, b, a, &mut BTreeSet::new()) {
                found.push(format!("{a} <-> {b}"));
            }
        }
    }
    found
}

fn module_graph(
    mods: &BTreeMap<String, Vec<PathBuf>>,
    prefix: &str,
) -> BTreeMap<String, BTreeSet<String>> {
    mods.iter()
        .map(|(name, files)| {
            let uses = files
                .iter()
                .flat_map(|f| referenced(&code_of(f), prefix))
                .filter(|used| used != name && mods.contains_key(used))
                .collect();
            (name.clone(), uses)
        })
        .collect()
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let mut problems = Vec::new();
    for p in packages() {
        let top = modules(&p.src, &["lib", "main"]);
        for cycle in cycles(&module_graph(&top, "crate")) {
            problems.push(format!("{}: {cycle}", p.name));
        }
        // Children of every module folder, through `super::`.
        for entry in walkdir::WalkDir::new(&p.src).into_iter().flatten() {
            if entry.path().is_dir() && entry.path().join("mod.rs").exists() {
                // A child folder counts as its own mod.rs: its children's
                // `super::` names their folder, not its siblings.
                let kids = modules(entry.path(), &["mod"])
                    .into_iter()
                    .map(|(name, files)| {
                        let own = entry.path().join(&name).join("mod.rs");
                        let files = files
                            .into_iter()
                            .filter(|f| f.parent() == Some(entry.path()) || *f == own)
                            .collect();
                        (name, files)
                    })
                    .collect();
                for cycle in cycles(&module_graph(&kids, "super")) {
                    problems.push(format!("{} ({}): {cycle}", p.name, entry.path().display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "import cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
        ("d".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    let found = cycles(&graph);
    assert!(found.contains(&"a <-> b".to_owned()), "{found:?}");
    assert!(found.iter().all(|c| !c.contains('d')), "{found:?}");
    let code = "use crate::{alpha, beta::Gamma};\nlet x = crate::delta::f();\nmycrate::no";
    assert_eq!(
        referenced(code, "crate"),
        BTreeSet::from(["alpha".into(), "beta".into(), "delta".into()])
    );
}
