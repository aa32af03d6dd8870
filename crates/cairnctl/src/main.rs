//! `cairnctl`: sign up, log in, enrollment keys, agents.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut out = std::io::stdout();
    match cairnctl::run(std::env::args_os(), &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
                let _ = clap_err.print();
                return std::process::ExitCode::from(if clap_err.use_stderr() { 2 } else { 0 });
            }
            eprintln!("cairnctl: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
