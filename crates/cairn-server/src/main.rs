//! `cairn-server`: with no arguments, the directory and both region cells on
//! loopback with SQLite and local-disk buckets under `./cairn-data`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

use cairn_core::config::ServerConfig;

#[derive(Parser)]
#[command(version, about = "Cairn backup server: the directory and region cells")]
struct Args {
    /// TOML configuration; without it, the embedded default runs everything.
    #[arg(long, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    cairn_core::process::limit_malloc_arenas();
    serve()
}

#[tokio::main]
async fn serve() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(cairn_server::DEFAULT_LOG_FILTER)
            }),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cairn-server: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = ServerConfig::load(args.config.as_deref())?;
    let mut running = cairn_server::start(config).await?;
    if let Some(addr) = running.directory {
        eprintln!("cairn-server: directory listening on http://{addr}");
    }
    for (region, addr) in &running.cells {
        eprintln!("cairn-server: cell {region} listening on http://{addr}");
    }
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm.recv() => {}
        failed = running.wait_for_failure() => return failed,
    }
    eprintln!("cairn-server: shutting down");
    running.shutdown().await
}
