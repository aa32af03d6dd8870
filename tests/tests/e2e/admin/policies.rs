//! Groups and their policies, quotas, usage, idle-agent alerts and the
//! daemon following a changed policy.

use std::path::Path;
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use cairn_core::Region;
use cairn_e2e::{Cluster, backends, noise};
use cairn_entity::regional::agent;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_quotas_and_usage() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region, email) in [
            ("US", Region::Us, "it@tunes.com"),
            ("IE", Region::Eu, "it@tunes.ie"),
        ] {
            let (session, company) = cluster.signup("Tunes", country, email, 3).await;
            let created = cluster
                .ctl(
                    &session,
                    &[
                        "groups",
                        "create",
                        "No Music",
                        "--exclude",
                        "*.mp3",
                        "--schedule",
                        "daily 01:30",
                    ],
                )
                .await
                .unwrap();
            assert!(created.contains("*.mp3"), "{created}");
            let key = cluster
                .ctl(
                    &session,
                    &["enrollment-key", "create", "--group", "No Music"],
                )
                .await
                .unwrap();
            let state = cluster.path(&format!("tunes-{country}.agent"));
            cluster
                .agent(
                    &state,
                    &["enroll", "--key", key.trim(), "--hostname", "studio"],
                )
                .await
                .unwrap();

            // A *.mp3 exclusion keeps mp3 files (any case, any depth) out.
            let data = cluster.path(&format!("tunes-{country}"));
            std::fs::create_dir_all(data.join("sub")).unwrap();
            std::fs::write(data.join("song.mp3"), noise(50_000, 1)).unwrap();
            std::fs::write(data.join("LOUD.MP3"), noise(50_000, 2)).unwrap();
            std::fs::write(data.join("sub/deep.mp3"), noise(50_000, 3)).unwrap();
            std::fs::write(data.join("notes.txt"), noise(700_000, 4)).unwrap();
            std::fs::write(data.join("sub/report.doc"), noise(300_000, 5)).unwrap();
            let out = cluster
                .agent(&state, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();
            assert!(out.contains("2 files"), "{out}");
            let snapshot = out.split_whitespace().nth(1).unwrap().to_owned();
            let target = cluster.path(&format!("tunes-{country}-restored"));
            cluster
                .agent(
                    &state,
                    &["restore", &snapshot, "--target", target.to_str().unwrap()],
                )
                .await
                .unwrap();
            let name = data.file_name().unwrap();
            assert!(target.join(name).join("notes.txt").exists());
            assert!(target.join(name).join("sub/report.doc").exists());
            for gone in ["song.mp3", "LOUD.MP3", "sub/deep.mp3"] {
                assert!(
                    !target.join(name).join(gone).exists(),
                    "{gone} was backed up"
                );
            }

            // Usage matches what the bucket holds and what the snapshot protects.
            let csv = cluster.ctl(&session, &["usage", "--csv"]).await.unwrap();
            let today = csv.lines().last().unwrap().to_owned();
            let fields: Vec<&str> = today.split(',').collect();
            let (objects, bucket_bytes) = cluster.company_objects(region, &company).await;
            assert!(objects > 0);
            assert_eq!(fields[1], "1", "{csv}");
            assert_eq!(fields[2], "1000000", "{csv}");
            assert_eq!(fields[3], bucket_bytes.to_string(), "{csv}");
            let table = cluster.ctl(&session, &["usage"]).await.unwrap();
            assert!(table.contains("protected"), "{table}");
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            assert!(
                listed.contains("studio")
                    && listed.contains("group No Music")
                    && listed.contains("(ok)"),
                "{listed}"
            );

            // Quota at 95% of what is stored: the next upload raises one alert.
            let quota = bucket_bytes * 100 / 95;
            cluster
                .ctl(&session, &["company", "quota", &quota.to_string()])
                .await
                .unwrap();
            std::fs::write(data.join("small.txt"), b"a small new file").unwrap();
            cluster
                .agent(&state, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();
            cluster
                .mailed_code_or_notice(region, email, "Cairn: Tunes has used")
                .await;

            // An upload past the quota is refused mid-backup: one pack fits,
            // a later one does not; no snapshot, nothing past the quota.
            let snapshots_before = cluster.agent(&state, &["snapshots"]).await.unwrap();
            let (_, stored) = cluster.company_objects(region, &company).await;
            let quota = stored + 25 * 1024 * 1024;
            cluster
                .ctl(&session, &["company", "quota", &quota.to_string()])
                .await
                .unwrap();
            std::fs::write(data.join("video.bin"), noise(60 * 1024 * 1024, 6)).unwrap();
            let err = cluster
                .agent(&state, &["backup", data.to_str().unwrap()])
                .await
                .unwrap_err();
            assert!(
                format!("{err:#}").contains("storage quota exceeded"),
                "{err:#}"
            );
            let snapshots_after = cluster.agent(&state, &["snapshots"]).await.unwrap();
            assert_eq!(snapshots_before, snapshots_after);
            let shown = cluster.ctl(&session, &["company"]).await.unwrap();
            assert!(shown.contains("storage"), "{shown}");
            let db = cluster.cell_db(region).await;
            let indexed: i64 = cairn_entity::regional::pack::Entity::find()
                .filter(
                    cairn_entity::regional::pack::Column::CompanyId
                        .eq(uuid::Uuid::parse_str(&company).unwrap()),
                )
                .all(&db)
                .await
                .unwrap()
                .iter()
                .map(|p| p.size)
                .sum();
            assert!(
                indexed as u64 > stored,
                "one pack of the failed run was kept"
            );
            assert!(indexed as u64 <= quota, "{indexed} > {quota}");
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            assert!(
                listed.contains("failed: storage quota exceeded"),
                "{listed}"
            );
            // The earlier snapshot still restores.
            let again = cluster.path(&format!("tunes-{country}-again"));
            cluster
                .agent(
                    &state,
                    &["restore", &snapshot, "--target", again.to_str().unwrap()],
                )
                .await
                .unwrap();
            assert_eq!(
                std::fs::read(again.join(name).join("notes.txt")).unwrap(),
                noise(700_000, 4)
            );
        }
        cluster.stop().await;
    }
}

fn mails_with(folder: &Path, to: &str, subject: &str) -> usize {
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter(|entry| {
            let text = std::fs::read_to_string(entry.as_ref().unwrap().path()).unwrap_or_default();
            text.contains(&format!("To: {to}")) && text.contains(&format!("Subject: {subject}"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_alert_once_and_daemon_follows_policy() {
    for backend in backends() {
        let cluster = Cluster::start_with(backend, |config| {
            for cell in config.cells.values_mut() {
                cell.maintenance_every_secs = Some(1);
            }
        })
        .await;
        let region = Region::Eu;
        let email = "ops@idle.ie";
        let (session, _) = cluster.signup("Idle", "IE", email, 3).await;
        let state = cluster.enroll(&session, "dusty").await;

        // Enrolled eight days ago and never backed up: one alert, however
        // many passes run.
        let db = cluster.cell_db(region).await;
        agent::Entity::update_many()
            .col_expr(
                agent::Column::EnrolledAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::days(8)),
            )
            .exec(&db)
            .await
            .unwrap();
        let subject = "Cairn: dusty has not backed up for 7 days";
        cluster.mailed_code_or_notice(region, email, subject).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let folder = cluster.config.cell_mail_folder(region);
        assert_eq!(mails_with(&folder, email, subject), 1);
        let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
        assert!(listed.contains("IDLE"), "{listed}");

        // The daemon backs up at once (never backed up), which ends the idle
        // spell, and applies a changed policy at its next check-in.
        let data = cluster.path("idle-data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("ledger.txt"), noise(10_000, 9)).unwrap();
        cluster
            .ctl(
                &session,
                &[
                    "groups",
                    "update",
                    "Default",
                    "--include",
                    data.to_str().unwrap(),
                    "--schedule",
                    "every 4h",
                ],
            )
            .await
            .unwrap();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let daemon_state = state.clone();
        let daemon = tokio::spawn(async move {
            let options = cairn_agent::daemon::DaemonOptions {
                check_in_every: Duration::from_secs(1),
                home: None,
            };
            cairn_agent::daemon::run(&daemon_state, options, stop_rx, &|_| {}).await
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            if listed.contains("(ok)") && !listed.contains("policy pending") {
                assert!(!listed.contains("IDLE"), "{listed}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{listed}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        cluster
            .ctl(
                &session,
                &["groups", "update", "Default", "--exclude", "*.log"],
            )
            .await
            .unwrap();
        let pending = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            if !listed.contains("policy pending") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{pending} / {listed}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop_tx.send(true).unwrap();
        let completed = daemon.await.unwrap().unwrap();
        assert_eq!(completed, 1, "one scheduled backup in the first four hours");
        assert_eq!(mails_with(&folder, email, subject), 1);
        cluster.stop().await;
    }
}
