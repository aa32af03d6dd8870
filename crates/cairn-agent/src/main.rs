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
            // Names in it come from snapshots and the server: escaped, so
            // they cannot drive the terminal.
            let message = format!("{err:#}");
            eprintln!(
                "cairn-agent: {}",
                cairn_agent::printable::escape_lines(&message)
            );
            if err.is::<cairn_agent::PartialRestore>() {
                return std::process::ExitCode::from(cairn_agent::PartialRestore::EXIT_CODE);
            }
            std::process::ExitCode::FAILURE
        }
    }
}
