//! `cairn-agent run`: checks in, backs up on the policy's schedule, reports
//! each result, until stopped.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use cairn_client::ClientError;

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
    // One connection for the daemon's life: its channel reconnects after a
    // failure and its token is replaced before it expires.
    let mut connected: Option<AgentClient> = None;
    loop {
        if *stop.borrow() {
            return Ok(completed);
        }
        let mut wait = options.check_in_every;
        let client = match &connected {
            Some(client) => match client.ensure_fresh().await {
                Ok(()) => Some(client.clone()),
                Err(err) => {
                    note(&err.0);
                    log(format!("cannot reach the cell: {err}"));
                    None
                }
            },
            None => match AgentClient::connect(&state).await {
                Ok(client) => {
                    connected = Some(client.clone());
                    Some(client)
                }
                Err(err) => {
                    if let Some(err) = client_error(&err) {
                        note(err);
                    }
                    log(format!("cannot reach the cell: {err:#}"));
                    None
                }
            },
        };
        if let Some(client) = client {
            match check_in(&client, running_version).await {
                Err(err) => {
                    if let Some(err) = client_error(&err) {
                        note(err);
                        // Never sooner than the cell asked.
                        if let Some(asked) = err.retry_after() {
                            wait = wait.max(asked);
                        }
                    }
                    log(format!("{err:#}"));
                }
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
                            match crate::backup::backup_policy_paths_using(
                                &client,
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
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop_wait.changed() => {}
        }
    }
}

/// The client-layer error behind `err`, if a call to the cell failed.
fn client_error(err: &anyhow::Error) -> Option<&ClientError> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<ClientError>())
}

fn note(err: &ClientError) {
    tracing::warn!(
        code = ?err.code(),
        reason = ?err.reason(),
        retry_after_ms = err.retry_after().map(|d| d.as_millis() as u64),
        error = %err,
        "call to the cell failed"
    );
}
