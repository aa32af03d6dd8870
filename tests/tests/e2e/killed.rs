//! An agent process killed with SIGKILL in the middle of a backup commits no
//! snapshot and damages nothing; the next run uploads only the chunks that
//! had not reached the server.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{EntityTrait, PaginatorTrait};

use cairn_core::Region;
use cairn_e2e::{Cluster, backends, noise};
use cairn_entity::regional::{chunk, pack, snapshot};

/// Tells the child process which agent state and folder to back up.
const CHILD: &str = "CAIRN_E2E_KILLED_AGENT";

const FILES: u64 = 8;
const FILE_SIZE: usize = 16 << 20;

/// The agent process that `a_killed_agent_resumes` starts and kills: this
/// test binary, running only this function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of a_killed_agent_resumes"]
async fn killed_agent_child() {
    let spec = std::env::var(CHILD).expect("started by a_killed_agent_resumes");
    let (state_dir, data) = spec.split_once('\n').unwrap();
    let state = cairn_agent::AgentState::load(Path::new(state_dir)).unwrap();
    cairn_agent::backup(&state, &[PathBuf::from(data)])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_resumes() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("Kilo", "DE", "k@kilo.de", 1).await;
        let state_dir = cluster.enroll(&session, "kilo-1").await;
        let db = cluster.cell_db(Region::Eu).await;

        let data = cluster.path("data");
        fs::create_dir_all(&data).unwrap();
        for i in 0..FILES {
            fs::write(data.join(format!("scan-{i}.bin")), noise(FILE_SIZE, i + 7)).unwrap();
        }

        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "killed::killed_agent_child",
                "--test-threads=1",
            ])
            .env(
                CHILD,
                format!("{}\n{}", state_dir.display(), data.display()),
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once a pack is indexed on the server, while more are coming.
        let deadline = Instant::now() + Duration::from_secs(120);
        while pack::Entity::find().count(&db).await.unwrap() == 0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the agent ended ({status}) before a pack reached the server");
            }
            assert!(Instant::now() < deadline, "no pack reached the server");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "the agent was not killed: {status}"
        );
        // An upload cut off by the kill ends on the server, failed.
        tokio::time::sleep(Duration::from_millis(500)).await;

        assert_eq!(
            snapshot::Entity::find().count(&db).await.unwrap(),
            0,
            "a killed backup committed a snapshot"
        );
        let stored = chunk::Entity::find().count(&db).await.unwrap();
        assert!(stored >= 1);

        // The next run sends only what the server lacks, and restores whole.
        let state = cairn_agent::AgentState::load(&state_dir).unwrap();
        let resumed = cairn_agent::backup(&state, std::slice::from_ref(&data))
            .await
            .unwrap();
        assert!(
            resumed.chunks_uploaded > 0,
            "everything had reached the server before the kill"
        );
        assert!(
            resumed.chunks_uploaded + stored <= resumed.chunks,
            "the resumed run uploaded {} of {} chunks, though {stored} were stored",
            resumed.chunks_uploaded,
            resumed.chunks
        );
        let target = cluster.path("restore");
        cairn_agent::restore(&state, &resumed.snapshot_id, &target)
            .await
            .unwrap();
        for i in 0..FILES {
            assert!(
                fs::read(target.join(format!("data/scan-{i}.bin"))).unwrap()
                    == noise(FILE_SIZE, i + 7),
                "scan-{i}.bin differs after the resumed backup"
            );
        }
        cluster.stop().await;
    }
}
