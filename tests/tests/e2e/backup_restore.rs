//! The whole path, for a US and an Irish company: sign up, enroll, back up a
//! generated tree, back it up again (nothing uploaded), restore and compare
//! every byte and the metadata; then prove residency.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use cairn_core::Region;
use cairn_e2e::{Cluster, backends};
use filetime::FileTime;

/// A fast deterministic byte stream.
struct Bytes(u64);

impl Bytes {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

/// The tree the issue asks for: empty files, a 100 MB file, 10,000 small
/// files, unicode and space-containing names, symlinks, an empty directory,
/// assorted modes and mtimes.
fn generate(root: &Path, seed: u64) {
    let mut rng = Bytes(seed | 1);
    fs::create_dir_all(root).unwrap();
    fs::write(root.join("empty.txt"), b"").unwrap();
    fs::write(root.join("also empty"), b"").unwrap();
    fs::create_dir(root.join("empty dir")).unwrap();

    fs::create_dir(root.join("big")).unwrap();
    let mut big = fs::File::create(root.join("big").join("disk image.bin")).unwrap();
    let mut block = vec![0u8; 1 << 20];
    for i in 0..100 {
        if i % 4 == 0 {
            // A quarter of it compresses well, like real disk images.
            block
                .iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (j % 251) as u8);
        } else {
            rng.fill(&mut block);
        }
        big.write_all(&block).unwrap();
    }
    drop(big);

    fs::create_dir(root.join("small")).unwrap();
    for d in 0..100 {
        let dir = root.join("small").join(format!("d{d:02}"));
        fs::create_dir(&dir).unwrap();
        for f in 0..100 {
            let mut body = vec![0u8; (d * 100 + f) % 3000];
            rng.fill(&mut body);
            fs::write(dir.join(format!("f{f:03}.txt")), &body).unwrap();
        }
    }
    let unicode = root.join("ünïcödé 文件");
    fs::create_dir(&unicode).unwrap();
    fs::write(unicode.join("naïve café ☕.txt"), "crème brûlée\n").unwrap();
    fs::write(root.join("file with spaces.txt"), b"spaces are fine\n").unwrap();
    std::os::unix::fs::symlink("small/d00/f001.txt", root.join("link to file")).unwrap();
    std::os::unix::fs::symlink("does/not/exist", root.join("dangling link")).unwrap();

    let script = root.join("run.sh");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let secret = root.join("secret.txt");
    fs::write(&secret, "only me\n").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    filetime::set_file_mtime(
        &secret,
        FileTime::from_unix_time(1_500_000_000, 123_456_789),
    )
    .unwrap();
    filetime::set_file_mtime(
        root.join("empty dir"),
        FileTime::from_unix_time(1_600_000_000, 0),
    )
    .unwrap();
}

fn same_file(a: &Path, b: &Path) {
    let hash = |p: &Path| {
        let mut h = blake3::Hasher::new();
        h.update_reader(fs::File::open(p).unwrap()).unwrap();
        h.finalize()
    };
    assert_eq!(hash(a), hash(b), "contents differ: {}", b.display());
}

/// Every entry of `source` exists in `restored` with the same kind, bytes,
/// mode, mtime and link target, and nothing else does.
fn compare_trees(source: &Path, restored: &Path) {
    let list = |root: &Path| {
        let mut paths: Vec<_> = walkdir::WalkDir::new(root)
            .follow_links(false)
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(root).unwrap().to_owned())
            .collect();
        paths.sort();
        paths
    };
    let expected = list(source);
    assert_eq!(expected, list(restored), "restored tree has other entries");
    assert!(expected.len() > 10_100);
    for rel in expected {
        let (a, b) = (source.join(&rel), restored.join(&rel));
        let (ma, mb) = (
            fs::symlink_metadata(&a).unwrap(),
            fs::symlink_metadata(&b).unwrap(),
        );
        assert_eq!(ma.file_type(), mb.file_type(), "{}", rel.display());
        assert_eq!(
            (ma.mtime(), ma.mtime_nsec()),
            (mb.mtime(), mb.mtime_nsec()),
            "mtime of {}",
            rel.display()
        );
        if ma.file_type().is_symlink() {
            assert_eq!(fs::read_link(&a).unwrap(), fs::read_link(&b).unwrap());
            continue;
        }
        assert_eq!(
            ma.mode() & 0o7777,
            mb.mode() & 0o7777,
            "mode of {}",
            rel.display()
        );
        if ma.is_file() {
            assert_eq!(ma.len(), mb.len(), "size of {}", rel.display());
            same_file(&a, &b);
        }
    }
}

fn snapshot_id(backup_output: &str) -> String {
    backup_output.split_whitespace().nth(1).unwrap().to_owned()
}

fn uploaded_chunks(backup_output: &str) -> u64 {
    // "... ; N of M chunks uploaded (...)"
    let words: Vec<&str> = backup_output.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "of").unwrap();
    words[at - 1].parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn us_and_irish_companies_back_up_and_restore_byte_identical() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let source = cluster.path("source");
        generate(&source, 7);

        let mut companies = Vec::new();
        for (country, email, region) in [
            ("US", "ops@acme.example", Region::Us),
            ("IE", "it@byrne.ie", Region::Eu),
        ] {
            let (session, company) = cluster
                .signup(&format!("{country} Co"), country, email, 3)
                .await;
            let state = cluster.enroll(&session, &format!("{country}-laptop")).await;

            let first = cluster
                .agent(&state, &["backup", source.to_str().unwrap()])
                .await
                .unwrap();
            assert!(uploaded_chunks(&first) > 10_000, "{first}");
            let second = cluster
                .agent(&state, &["backup", source.to_str().unwrap()])
                .await
                .unwrap();
            assert_eq!(
                uploaded_chunks(&second),
                0,
                "an unchanged tree uploads nothing: {second}"
            );

            let listing = cluster.agent(&state, &["snapshots"]).await.unwrap();
            let snap = snapshot_id(&first);
            assert!(
                listing.contains(&snap) && listing.contains(&snapshot_id(&second)),
                "{listing}"
            );

            let target = cluster.path(&format!("restore-{country}"));
            cluster
                .agent(
                    &state,
                    &["restore", &snap, "--target", target.to_str().unwrap()],
                )
                .await
                .unwrap();
            compare_trees(&source, &target.join("source"));
            fs::remove_dir_all(&target).unwrap();
            companies.push((company, region));
        }

        // Residency: each company's rows and objects live in its home cell only.
        for (company, home) in &companies {
            let away = if *home == Region::Us {
                Region::Eu
            } else {
                Region::Us
            };
            assert!(
                cluster.company_rows(*home, company).await > 10_000,
                "{backend:?}"
            );
            assert_eq!(
                cluster.company_rows(away, company).await,
                0,
                "{backend:?}: rows of {company} in {away}"
            );
            let (objects, bytes) = cluster.company_objects(*home, company).await;
            assert!(
                objects > 0 && bytes > 80_000_000,
                "{objects} objects, {bytes} bytes at home"
            );
            assert_eq!(
                cluster.company_objects(away, company).await,
                (0, 0),
                "objects of {company} in {away}"
            );
        }
        let us_db = cluster.cell_db(Region::Us).await;
        let stray = <cairn_entity::regional::user::Entity as sea_orm::EntityTrait>::find()
            .all(&us_db)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.email.contains("byrne"))
            .count();
        assert_eq!(stray, 0, "the Irish owner's email is in the us database");
        if backend == cairn_e2e::Backend::Sqlite {
            // Byte for byte: no trace of the Irish owner in the us database
            // files, and no email or company id in the directory's.
            let raw = |path: std::path::PathBuf| {
                let mut bytes = fs::read(&path).unwrap_or_default();
                bytes.extend(fs::read(path.with_extension("db-wal")).unwrap_or_default());
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let us = raw(cluster.config.cell_dir(Region::Us).join("cell.db"));
            assert!(
                us.contains("ops@acme.example"),
                "the scan must see the US owner"
            );
            assert!(
                !us.contains("it@byrne.ie") && !us.contains("IE Co"),
                "Irish personal data in the us files"
            );
            let directory = raw(cluster
                .config
                .data_dir
                .join("directory")
                .join("directory.db"));
            // Hashes are random bytes, so look for the values themselves.
            for (company, _) in &companies {
                assert!(
                    !directory.contains(company.as_str()),
                    "a company id in the directory files"
                );
            }
            for value in [
                "ops@acme.example",
                "acme.example",
                "it@byrne.ie",
                "byrne.ie",
            ] {
                assert!(!directory.contains(value), "{value} in the directory files");
            }
        }
        cluster.stop().await;
    }
}
