//! `cairn-agent run`: checks in, backs up on the policy's schedule, reports
//! each result, until stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::policy::{check_in, next_due};
use crate::{AgentClient, AgentState, BackupEvents};

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// Seconds between check-ins (a changed policy arrives within this time).
    pub check_in_every: Duration,
    /// `~` in the policy's paths.
    pub home: Option<PathBuf>,
}

/// The time of the last completed backup, kept next to the agent's state.
fn last_backup_file(state_dir: &Path) -> PathBuf {
    state_dir.join("last-backup")
}

fn last_backup(state_dir: &Path) -> Option<DateTime<Utc>> {
    let text = std::fs::read_to_string(last_backup_file(state_dir)).ok()?;
    DateTime::from_timestamp(text.trim().parse().ok()?, 0)
}

struct StopOnSignal(watch::Receiver<bool>);

impl BackupEvents for StopOnSignal {
    fn should_stop(&self) -> bool {
        *self.0.borrow()
    }
}

/// Runs until `stop` turns true; returns how many backups completed.
pub async fn run(
    state_dir: &Path,
    options: DaemonOptions,
    stop: watch::Receiver<bool>,
    log: &(dyn Fn(String) + Send + Sync),
) -> anyhow::Result<u64> {
    let state = AgentState::load(state_dir)?;
    let mut running_version = 0;
    let mut completed = 0;
    let mut stop_wait = stop.clone();
    loop {
        if *stop.borrow() {
            return Ok(completed);
        }
        let mut wait = options.check_in_every;
        match AgentClient::connect(&state).await {
            Err(err) => log(format!("cannot reach the cell: {err:#}")),
            Ok(client) => match check_in(&client, running_version).await {
                Err(err) => log(format!("{err:#}")),
                Ok(checked) => {
                    if checked.version != running_version {
                        log(format!(
                            "following policy v{} of group {}: {}",
                            checked.version, checked.group, checked.policy.schedule
                        ));
                        running_version = checked.version;
                        // Tell the cell at once that the new policy is applied.
                        if let Err(err) = check_in(&client, running_version).await {
                            log(format!("{err:#}"));
                        }
                    }
                    let now = Utc::now();
                    let due = next_due(checked.policy.schedule, last_backup(state_dir), now);
                    if let Some(due) = due {
                        if due <= now {
                            let events = Arc::new(StopOnSignal(stop.clone()));
                            match crate::backup_policy_paths(
                                &state,
                                options.home.as_deref(),
                                events,
                            )
                            .await
                            {
                                Ok(s) => {
                                    completed += 1;
                                    std::fs::write(
                                        last_backup_file(state_dir),
                                        Utc::now().timestamp().to_string(),
                                    )?;
                                    log(format!(
                                        "snapshot {} saved: {} files, {} bytes; {} bytes uploaded",
                                        s.snapshot_id, s.files, s.bytes, s.bytes_uploaded
                                    ));
                                }
                                Err(err) => log(format!("backup failed: {err:#}")),
                            }
                            continue;
                        }
                        let until = (due - now).to_std().unwrap_or_default();
                        wait = wait.min(until);
                    }
                }
            },
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop_wait.changed() => {}
        }
    }
}
