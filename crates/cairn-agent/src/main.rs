//! `cairn-agent`: enroll, backup, snapshots, restore.

fn main() -> std::process::ExitCode {
    cairn_core::process::limit_malloc_arenas();
    run()
}

#[tokio::main]
async fn run() -> std::process::ExitCode {
    let mut out = std::io::stdout();
    match cairn_agent::cli::run(std::env::args_os(), &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
                let _ = clap_err.print();
                return std::process::ExitCode::from(if clap_err.use_stderr() { 2 } else { 0 });
            }
            eprintln!("cairn-agent: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
