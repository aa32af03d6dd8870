//! An interrupted backup lists no snapshot and damages nothing; the next
//! run reuses the packs that reached the server.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use cairn_agent::BackupEvents;
use cairn_e2e::{Cluster, backends, noise};

/// Stops the backup once one pack has been committed on the server.
#[derive(Default)]
struct StopAfterFirstPack(AtomicU32);

impl BackupEvents for StopAfterFirstPack {
    fn pack_uploaded(&self, _bytes: u64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn should_stop(&self) -> bool {
        self.0.load(Ordering::SeqCst) > 0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_backup_leaves_no_snapshot_and_resumes() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("Foxtrot", "NL", "f@foxtrot.nl", 1).await;
        let state_dir = cluster.enroll(&session, "fox-1").await;
        let state = cairn_agent::AgentState::load(&state_dir).unwrap();

        let data = cluster.path("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("notes.txt"), "first version\n").unwrap();
        let first = cairn_agent::backup(&state, std::slice::from_ref(&data))
            .await
            .unwrap();

        // Six files of 20 MiB: several packs, so the stop lands mid-way.
        for i in 0..6 {
            fs::write(data.join(format!("video-{i}.bin")), noise(20 << 20, i + 1)).unwrap();
        }
        let events = Arc::new(StopAfterFirstPack::default());
        let err = cairn_agent::backup_with(&state, std::slice::from_ref(&data), events.clone())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("interrupted"), "{err:#}");
        assert!(events.0.load(Ordering::SeqCst) >= 1);

        let listing = cluster.agent(&state_dir, &["snapshots"]).await.unwrap();
        assert_eq!(
            listing.lines().count(),
            2,
            "only the first snapshot is listed: {listing}"
        );
        assert!(listing.contains(&first.snapshot_id));

        // The earlier snapshot still restores.
        let target = cluster.path("restore-first");
        cairn_agent::restore(&state, &first.snapshot_id, &target)
            .await
            .unwrap();
        assert_eq!(
            fs::read(target.join("data/notes.txt")).unwrap(),
            b"first version\n"
        );
        let names: Vec<_> = fs::read_dir(target.join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");

        // The next run uploads only what did not reach the server.
        let resumed = cairn_agent::backup(&state, std::slice::from_ref(&data))
            .await
            .unwrap();
        assert!(
            resumed.chunks_uploaded < resumed.chunks - 2,
            "resumed run uploaded {} of {} chunks",
            resumed.chunks_uploaded,
            resumed.chunks
        );
        let target = cluster.path("restore-resumed");
        cairn_agent::restore(&state, &resumed.snapshot_id, &target)
            .await
            .unwrap();
        for i in 0..6 {
            assert_eq!(
                fs::read(target.join(format!("data/video-{i}.bin"))).unwrap(),
                noise(20 << 20, i + 1)
            );
        }
        cluster.stop().await;
    }
}
