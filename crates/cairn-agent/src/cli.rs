//! The `cairn-agent` command line.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use cairn_client::Idempotency;
use cairn_proto::backup::v1::ListSnapshotsRequest;

use crate::client::BackupRpc;
use crate::printable::escape;
use crate::{AgentClient, AgentState};

#[derive(Parser)]
#[command(name = "cairn-agent", version, about = "Cairn backup agent")]
pub struct Cli {
    /// Where the agent keeps its enrollment (credential and data key).
    #[arg(long, env = "CAIRN_AGENT_STATE", global = true)]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll this machine with a one-time key from your company admin.
    Enroll {
        #[arg(long)]
        key: String,
        /// The Cairn directory.
        #[arg(long, env = "CAIRN_DIRECTORY", default_value = "http://127.0.0.1:7400")]
        directory: String,
        /// Machine name shown to admins; defaults to the host name.
        #[arg(long)]
        hostname: Option<String>,
        /// Personal-key companies: file holding the passphrase; else
        /// CAIRN_KEY_PASSPHRASE.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Personal-key companies: open the company's key on this machine with
    /// its passphrase (after enrolling without the right one).
    Unlock {
        /// File holding the passphrase; else CAIRN_KEY_PASSPHRASE.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Back up files and folders; without paths, the paths of the policy.
    /// The policy's exclusions and upload limit always apply.
    Backup { paths: Vec<PathBuf> },
    /// Run in the background: check in, back up on the policy's schedule,
    /// report every result. Stops cleanly on Ctrl-C or SIGTERM.
    Run {
        /// Seconds between check-ins with the cell.
        #[arg(long, default_value_t = 300)]
        check_in_secs: u64,
    },
    /// List this machine's snapshots.
    Snapshots {
        /// Show the snapshots of every machine of the company.
        #[arg(long)]
        all: bool,
    },
    /// Restore a snapshot into a folder. Exits with status 3 when it
    /// finished but some entries could not be restored (they are named).
    Restore {
        snapshot: String,
        #[arg(long)]
        target: PathBuf,
        /// Personal-key companies: file holding the passphrase; else
        /// CAIRN_KEY_PASSPHRASE. Every restore needs it.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// Restore setuid, setgid and sticky bits and world-writable modes
        /// as recorded (without it they are dropped).
        #[arg(long)]
        keep_special_modes: bool,
    },
}

/// Runs the command line, writing results to `out`.
pub async fn run<I, T>(args: I, out: &mut dyn Write) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let state_dir = cli
        .state_dir
        .unwrap_or_else(crate::state::default_state_dir);
    match cli.command {
        Command::Enroll {
            key,
            directory,
            hostname,
            passphrase_file,
        } => {
            let passphrase = cairn_core::secret::read_passphrase(passphrase_file.as_deref())?;
            let state = crate::enroll(
                &state_dir,
                &directory,
                &key,
                hostname,
                passphrase.as_deref(),
            )
            .await?;
            writeln!(
                out,
                "enrolled {} as agent {} in region {}",
                state.hostname, state.agent_id, state.region
            )?;
        }
        Command::Run { check_in_secs } => {
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                let _ = stop_tx.send(true);
            });
            let options = crate::daemon::DaemonOptions {
                check_in_every: std::time::Duration::from_secs(check_in_secs.max(1)),
                home: std::env::var_os("HOME").map(PathBuf::from),
            };
            let log = |line: String| eprintln!("{line}");
            let done = crate::daemon::run(&state_dir, options, stop_rx, &log).await?;
            writeln!(out, "stopped after {done} scheduled backups")?;
        }
        Command::Backup { paths } => {
            let state = AgentState::load(&state_dir)?;
            let started = std::time::Instant::now();
            let progress = std::sync::Arc::new(crate::progress::Progress::new("backed up"));
            let result = if paths.is_empty() {
                let home = std::env::var_os("HOME").map(PathBuf::from);
                crate::backup_policy_paths(&state, home.as_deref(), progress.clone()).await
            } else {
                crate::backup_with(&state, &paths, progress.clone()).await
            };
            progress.finish();
            let s = result?;
            let secs = started.elapsed().as_secs_f64();
            writeln!(
                out,
                "snapshot {} saved: {} files ({} unchanged), {} dirs, {} bytes; read {}, {} of {} chunks uploaded ({} bytes) in {secs:.1} s ({}/s)",
                s.snapshot_id,
                s.files,
                s.files_unchanged,
                s.dirs,
                s.bytes,
                indicatif::BinaryBytes(s.bytes_read),
                s.chunks_uploaded,
                s.chunks,
                s.bytes_uploaded,
                indicatif::BinaryBytes((s.bytes as f64 / secs.max(0.001)) as u64),
            )?;
            for warning in &s.warnings {
                writeln!(out, "warning: {warning}")?;
            }
        }
        Command::Snapshots { all } => {
            let state = AgentState::load(&state_dir)?;
            let client = AgentClient::connect(&state).await?;
            let agent_id = if all {
                String::new()
            } else {
                state.agent_id.to_string()
            };
            let snapshots = client
                .connection
                .unary(
                    Idempotency::Idempotent,
                    ListSnapshotsRequest { agent_id },
                    |mut c: BackupRpc, r| async move { c.list_snapshots(r).await },
                )
                .await
                .map_err(|e| anyhow::Error::new(e).context("cannot list snapshots"))?
                .snapshots;
            writeln!(
                out,
                "{:<36}  {:<20}  {:>8}  {:>14}  paths",
                "snapshot", "finished (unix)", "files", "bytes"
            )?;
            // Another machine wrote these: its names are escaped.
            for s in snapshots {
                let stats = s.stats.unwrap_or_default();
                writeln!(
                    out,
                    "{:<36}  {:<20}  {:>8}  {:>14}  {}",
                    escape(&s.snapshot_id),
                    s.finished_at,
                    stats.files,
                    stats.bytes,
                    escape(&s.paths.join(", "))
                )?;
            }
        }
        Command::Unlock { passphrase_file } => {
            let passphrase = cairn_core::secret::read_passphrase(passphrase_file.as_deref())?;
            let mut state = AgentState::load(&state_dir)?;
            if !state.uses_personal_key() {
                anyhow::bail!("this company does not use a personal key; nothing to unlock");
            }
            state.unlock(passphrase.as_deref())?;
            writeln!(out, "unlocked: backups run with the company's personal key")?;
        }
        Command::Restore {
            snapshot,
            target,
            passphrase_file,
            keep_special_modes,
        } => {
            let options = crate::RestoreOptions {
                passphrase: cairn_core::secret::read_passphrase(passphrase_file.as_deref())?,
                keep_special_modes,
            };
            let state = AgentState::load(&state_dir)?;
            let started = std::time::Instant::now();
            let progress = std::sync::Arc::new(crate::progress::Progress::new("restored"));
            let result =
                crate::restore_with(&state, &snapshot, &target, &options, progress.clone()).await;
            progress.finish();
            let s = result?;
            let secs = started.elapsed().as_secs_f64();
            writeln!(
                out,
                "restored {} files, {} dirs, {} bytes into {} in {secs:.1} s ({}/s)",
                s.files,
                s.dirs,
                s.bytes,
                target.display(),
                indicatif::BinaryBytes((s.bytes as f64 / secs.max(0.001)) as u64),
            )?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
