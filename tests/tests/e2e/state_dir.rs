//! The agent never backs up its own state directory (its credential, the
//! company's data key, the parent cache and its partial files), whatever
//! the paths, and however the directory is reached: under the home folder
//! a policy's `~` names, or through a bind mount of it elsewhere.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_agent::AgentState;
use cairn_e2e::{Cluster, backends};

/// A bind mount of a directory, undone when dropped; only where this
/// process may mount (as root).
struct Bind(PathBuf);

impl Bind {
    fn of(dir: &Path, at: &Path) -> Option<Bind> {
        fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .arg("--bind")
            .arg(dir)
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Bind(at.to_owned()))
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn names_under(root: &Path) -> Vec<String> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path().strip_prefix(root).unwrap().display().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_home_leaves_the_agents_state_out() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("India", "US", "i@india.example", 1).await;
        let key = cluster
            .ctl(&session, &["enrollment-key", "create"])
            .await
            .unwrap();
        let home = cluster.path("home");
        let state_dir = home.join(".config/cairn-agent");
        cluster
            .agent(
                &state_dir,
                &["enroll", "--key", key.trim(), "--hostname", "india-1"],
            )
            .await
            .unwrap();
        let state = AgentState::load(&state_dir).unwrap();
        fs::write(home.join(".config/editor.toml"), b"tabs = 4\n").unwrap();
        fs::write(home.join("notes.txt"), b"renew the lease\n").unwrap();
        // The same directory again, elsewhere under home.
        let bind = Bind::of(&state_dir, &home.join("mnt/state"));

        let first = cairn_agent::backup(&state, std::slice::from_ref(&home))
            .await
            .unwrap();
        // The second backup meets the parent cache the first one left.
        let second = cairn_agent::backup(&state, std::slice::from_ref(&home))
            .await
            .unwrap();
        assert!(state_dir.join("parent-cache.bin").exists());
        for snapshot in [&first.snapshot_id, &second.snapshot_id] {
            let target = cluster.path(&format!("restored-{snapshot}"));
            cairn_agent::restore(&state, snapshot, &target)
                .await
                .unwrap();
            let names = names_under(&target.join("home"));
            assert!(names.contains(&"notes.txt".to_owned()), "{names:?}");
            assert!(
                names.contains(&".config/editor.toml".to_owned()),
                "{names:?}"
            );
            assert!(
                !names.iter().any(|n| n.contains("cairn-agent")
                    || n.contains("agent.json")
                    || n.contains("parent-cache")
                    || n.starts_with("mnt/state")),
                "{names:?}"
            );
        }

        // Named directly, or inside it: refused, naming it.
        for path in [state_dir.clone(), state_dir.join("agent.json")] {
            let err = cairn_agent::backup(&state, &[path]).await.unwrap_err();
            assert!(
                format!("{err:#}").contains("the agent's state directory"),
                "{err:#}"
            );
        }
        if let Some(bind) = &bind {
            let err = cairn_agent::backup(&state, std::slice::from_ref(&bind.0))
                .await
                .unwrap_err();
            assert!(
                format!("{err:#}").contains("the agent's state directory"),
                "{err:#}"
            );
        }
        drop(bind);
        cluster.stop().await;
    }
}
