//! The policy an agent follows: fetched at every check-in from its group.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Local, NaiveTime, TimeZone, Utc};

use cairn_client::Idempotency;
use cairn_core::policy::{Policy, Schedule};
use cairn_proto::orgs::v1::{CheckInRequest, ReportBackupRequest};

use crate::AgentClient;
use crate::client::OrgsRpc;

/// What a check-in brought back.
#[derive(Clone, Debug)]
pub struct CheckedIn {
    pub policy: Policy,
    pub version: i64,
    pub group: String,
}

/// Reports to the cell that the agent is alive and runs `running_version`,
/// and fetches its group's current policy.
pub async fn check_in(client: &AgentClient, running_version: i64) -> anyhow::Result<CheckedIn> {
    // Reporting the same version twice changes nothing: safe to retry.
    let answer = client
        .connection
        .unary(
            Idempotency::Idempotent,
            CheckInRequest {
                policy_version: running_version,
            },
            |mut c: OrgsRpc, r| async move { c.check_in(r).await },
        )
        .await
        .map_err(|e| anyhow::Error::new(e).context("check-in failed"))?;
    let policy = Policy::from_proto(
        "policy",
        &answer.policy.context("the server sent no policy")?,
    )
    .map_err(|e| anyhow::anyhow!("the server sent a policy this agent cannot follow: {e}"))?;
    Ok(CheckedIn {
        policy,
        version: answer.policy_version,
        group: answer.group_name,
    })
}

/// Tells the cell how a backup attempt ended (best effort).
pub async fn report(client: &AgentClient, result: &anyhow::Result<()>) {
    let request = match result {
        Ok(()) => ReportBackupRequest {
            ok: true,
            error: String::new(),
        },
        Err(err) => ReportBackupRequest {
            ok: false,
            error: format!("{err:#}"),
        },
    };
    // Each report is recorded: sent once.
    let reported = client
        .connection
        .unary(
            Idempotency::NotIdempotent,
            request,
            |mut c: OrgsRpc, r| async move { c.report_backup(r).await },
        )
        .await;
    if let Err(err) = reported {
        eprintln!("could not report the backup result: {}", err.message());
    }
}

/// The policy's paths on this machine: `~` is `home`; paths that do not
/// exist here are left out.
pub fn paths(policy: &Policy, home: Option<&Path>) -> Vec<PathBuf> {
    policy
        .include_paths
        .iter()
        .filter_map(|p| match (p.strip_prefix('~'), home) {
            (Some(rest), Some(home)) => Some(home.join(rest.trim_start_matches('/'))),
            (Some(_), None) => None,
            (None, _) => Some(PathBuf::from(p)),
        })
        .filter(|p| p.exists())
        .collect()
}

/// When the next scheduled backup is due, given the last completed one;
/// `None` for a manual schedule. A machine that never backed up is due now.
pub fn next_due(
    schedule: Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let Some(last) = last else {
        return (schedule != Schedule::Manual).then_some(now);
    };
    match schedule {
        Schedule::Manual => None,
        Schedule::Every { secs } => Some(last + chrono::Duration::seconds(secs as i64)),
        Schedule::Daily { hour, minute } => {
            // The first hour:minute (local time) after the last backup.
            let at = NaiveTime::from_hms_opt(hour, minute, 0)?;
            let last_local = last.with_timezone(&Local);
            let mut day = last_local.date_naive();
            loop {
                let candidate = Local
                    .from_local_datetime(&day.and_time(at))
                    .earliest()
                    .map(|t| t.with_timezone(&Utc));
                if let Some(c) = candidate.filter(|c| *c > last) {
                    return Some(c);
                }
                day = day.succ_opt()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_fall_due_after_the_last_backup() {
        let now = Utc::now();
        assert_eq!(
            next_due(Schedule::Every { secs: 600 }, None, now),
            Some(now)
        );
        assert_eq!(next_due(Schedule::Manual, None, now), None);
        let last = now - chrono::Duration::seconds(60);
        assert_eq!(
            next_due(Schedule::Every { secs: 600 }, Some(last), now),
            Some(last + chrono::Duration::seconds(600))
        );
        let due = next_due(Schedule::Daily { hour: 2, minute: 0 }, Some(last), now).unwrap();
        assert!(
            due > last && due <= last + chrono::Duration::hours(25),
            "{due}"
        );
        let local = due.with_timezone(&Local);
        assert_eq!(local.format("%H:%M").to_string(), "02:00");
    }

    #[test]
    fn home_paths_expand_and_missing_ones_are_left_out() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("Documents")).unwrap();
        let policy = Policy {
            include_paths: vec!["~/Documents".into(), "~/Desktop".into(), "~".into()],
            ..Policy::default()
        };
        let got = paths(&policy, Some(home.path()));
        assert_eq!(
            got,
            vec![home.path().join("Documents"), home.path().join("")]
        );
    }
}
