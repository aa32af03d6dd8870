//! `cairnctl`: the admin command line. Signs a company up in its home region,
//! logs in (keeping the access token in a session file), creates enrollment
//! keys and manages agents.
//!
//! A thin gRPC client: every rule is enforced by the server.

mod account;
mod admin;
mod company;
mod enrollment;
mod session;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tonic::transport::Channel;

use crate::session::{Session, save_session};

use cairn_client::{ClientConfig, ClientError, Connection, Directory, Idempotency};
use cairn_core::Reason;
use cairn_proto::accounts::v1::{
    LoginRequest, LogoutRequest, SignUpRequest, accounts_service_client::AccountsServiceClient,
};

use crate::admin::{AgentCommand, GroupCommand, InvitationCommand, UserCommand};
use crate::company::CompanyCommand;
use crate::enrollment::KeyCommand;

#[derive(Parser)]
#[command(name = "cairnctl", version, about = "Cairn admin command line")]
pub struct Cli {
    /// The Cairn directory.
    #[arg(
        long,
        env = "CAIRN_DIRECTORY",
        default_value = "http://127.0.0.1:7400",
        global = true
    )]
    directory: String,
    /// Session file holding the access token from `cairnctl login`.
    #[arg(long, env = "CAIRN_SESSION", global = true)]
    session: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Create a company and its owner, in the region of the company's country.
    Signup {
        #[arg(long)]
        company: String,
        /// One of: Accounting, Agriculture, Architecture, Construction, Consulting, Education,
        /// Energy, Engineering, Finance, Government, Healthcare, Hospitality, Insurance,
        /// IT Services, Legal, Manufacturing, Media, Non-profit, Real Estate, Retail, Software,
        /// Telecommunications, Transportation, Other.
        #[arg(long)]
        industry: String,
        /// Number of employees.
        #[arg(long)]
        employees: i64,
        /// ISO 3166-1 alpha-2 country code (US, IE, DE, ...).
        #[arg(long)]
        country: String,
        /// The owner's full name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long, env = "CAIRN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Seats to start with.
        #[arg(long, default_value_t = 5)]
        seats: i64,
        /// Company phone number.
        #[arg(long)]
        phone: String,
        /// The owner's job title.
        #[arg(long)]
        title: String,
        #[arg(long)]
        city: String,
        /// State or region, if the address has one.
        #[arg(long, default_value = "")]
        state: String,
        /// ZIP or postal code.
        #[arg(long)]
        postal_code: String,
        /// The owner's username.
        #[arg(long)]
        username: String,
        /// Confirms that the person signing up is at least 13 years old.
        #[arg(long)]
        i_am_13_or_older: bool,
    },
    /// Log in and keep the access token in the session file.
    Login {
        #[arg(long)]
        email: String,
        #[arg(long, env = "CAIRN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// End the session: the refresh token stops working.
    Logout,
    /// Your own account: confirm the email address, passwords, mail preferences.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Show the company and its seats; correct its details, set its seats.
    Company {
        #[command(subcommand)]
        command: Option<CompanyCommand>,
    },
    /// Enrollment keys for agents.
    EnrollmentKey {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// The company's agents (members: their own machines).
    Agents {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Groups of users and machines, and their backup policies.
    Groups {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// The company's users and invitations.
    Users {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Accept an invitation you received by mail.
    Invitation {
        #[command(subcommand)]
        command: InvitationCommand,
    },
    /// Usage per day: seats, bytes protected, bytes stored.
    Usage {
        /// First day, YYYY-MM-DD (default: 29 days before --to).
        #[arg(long, default_value = "")]
        from: String,
        /// Last day, YYYY-MM-DD (default: today, UTC).
        #[arg(long, default_value = "")]
        to: String,
        /// CSV with exact byte counts instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccountCommand {
    /// Confirm your email address with the code from the confirmation mail.
    Confirm {
        #[arg(long)]
        token: String,
    },
    /// Mail a password-reset code to this address.
    ForgotPassword {
        #[arg(long)]
        email: String,
    },
    /// Set a new password with the code from the reset mail.
    ResetPassword {
        #[arg(long)]
        token: String,
        #[arg(long, env = "CAIRN_NEW_PASSWORD", hide_env_values = true)]
        new_password: String,
    },
    /// Change your password (every session ends; log in again).
    ChangePassword {
        #[arg(long, env = "CAIRN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, env = "CAIRN_NEW_PASSWORD", hide_env_values = true)]
        new_password: String,
    },
    /// Show your information.
    Show,
    /// Correct your information; it takes effect at once.
    Update {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        username: Option<String>,
        /// A new email address (your login); confirm it again from the mail sent there.
        #[arg(long)]
        email: Option<String>,
    },
    /// Download everything Cairn holds about you (the owner: with --company, the whole company) as JSON.
    Export {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        company: bool,
    },
    /// Delete your account. The owner deletes the whole company, with all its backups.
    Delete {
        #[arg(long, env = "CAIRN_PASSWORD", hide_env_values = true)]
        password: String,
        /// The owner repeats the exact company name.
        #[arg(long, default_value = "")]
        company_name: String,
    },
    /// Stop (or with --opt-in, resume) marketing mail; service mail always comes.
    Marketing {
        #[arg(long, conflicts_with = "opt_in")]
        opt_out: bool,
        #[arg(long)]
        opt_in: bool,
    },
}

fn default_session() -> PathBuf {
    std::env::var_os("HOME")
        .map(|h| {
            PathBuf::from(h)
                .join(".config")
                .join("cairn")
                .join("session.json")
        })
        .unwrap_or_else(|| PathBuf::from(".cairn-session.json"))
}

type Accounts = AccountsServiceClient<Channel>;

/// A connection to `endpoint` without credentials, connected now.
pub(crate) async fn connection(endpoint: &str) -> anyhow::Result<Connection> {
    Ok(Connection::connect(ClientConfig::new(endpoint)).await?)
}

/// The directory, connected now.
pub(crate) async fn directory(endpoint: &str) -> anyhow::Result<Directory> {
    Ok(Directory::on(connection(endpoint).await?))
}

/// The one-line error for a failed call: what failed, the server's message
/// and the code.
pub(crate) fn failed(what: &str) -> impl Fn(ClientError) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {} ({:?})", e.message(), e.code())
}

/// Runs the command line, writing results to `out`.
pub async fn run<I, T>(args: I, out: &mut dyn Write) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let session_path = cli.session.clone().unwrap_or_else(default_session);
    match cli.command {
        Command::Signup {
            company,
            industry,
            employees,
            country,
            name,
            email,
            password,
            seats,
            phone,
            title,
            city,
            state,
            postal_code,
            username,
            i_am_13_or_older,
        } => {
            let cell = directory(&cli.directory)
                .await?
                .resolve_country(&country)
                .await
                .map_err(failed("sign-up refused"))?;
            let request = SignUpRequest {
                company_name: company,
                industry,
                employees,
                country,
                owner_name: name,
                email,
                password,
                seats,
                phone,
                owner_title: title,
                city,
                state,
                postal_code,
                username,
                age_confirmed: i_am_13_or_older,
            };
            let done = connection(&cell)
                .await?
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Accounts, r| async move { c.sign_up(r).await },
                )
                .await
                .map_err(failed("sign-up refused"))?;
            let region = cairn_core::Region::from_proto(done.region, "region")
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            writeln!(
                out,
                "company {} created in region {region}; owner {}",
                done.company_id, done.user_id
            )?;
        }
        Command::Login { email, password } => {
            let cell = directory(&cli.directory)
                .await?
                .locate_login(&email)
                .await
                .map_err(|e| {
                    // An unknown login; servers without ErrorInfo say so by the code.
                    let unknown = match e.reason() {
                        Some(reason) => reason == Reason::NotFound,
                        None => e.code() == tonic::Code::NotFound,
                    };
                    if unknown {
                        anyhow::anyhow!("login failed: wrong email or password")
                    } else {
                        failed("login failed")(e)
                    }
                })?;
            let cell = connection(&cell).await?;
            let done = cell
                .unary(
                    Idempotency::NotIdempotent,
                    LoginRequest { email, password },
                    |mut c: Accounts, r| async move { c.login(r).await },
                )
                .await
                .map_err(failed("login failed"))?;
            let token = done.access_token.context("the server returned no token")?;
            let session = Session {
                endpoint: cell.endpoint(),
                token: token.token,
                expires_at: token.expires_at,
                company_id: done.company_id.clone(),
                refresh_token: done.refresh_token,
            };
            save_session(&session_path, &session)?;
            writeln!(
                out,
                "logged in to company {} ({})",
                done.company_id,
                done.roles.join(", ")
            )?;
        }
        Command::Logout => {
            let text = std::fs::read_to_string(&session_path).context("not logged in")?;
            let session: Session =
                serde_json::from_str(&text).context("the session file is damaged")?;
            let request = LogoutRequest {
                refresh_token: session.refresh_token,
            };
            connection(&session.endpoint)
                .await?
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Accounts, r| async move { c.logout(r).await },
                )
                .await
                .map_err(failed("logout failed"))?;
            std::fs::remove_file(&session_path)?;
            writeln!(out, "logged out")?;
        }
        Command::Account { command } => {
            account::run(&cli.directory, &session_path, command, out).await?
        }
        Command::Company { command } => company::run(&session_path, command, out).await?,
        Command::EnrollmentKey { command } => enrollment::run(&session_path, command, out).await?,
        Command::Agents { command } => admin::run_agents(&session_path, command, out).await?,
        Command::Groups { command } => admin::run_groups(&session_path, command, out).await?,
        Command::Users { command } => admin::run_users(&session_path, command, out).await?,
        Command::Invitation { command } => {
            admin::run_invitation(&cli.directory, command, out).await?
        }
        Command::Usage { from, to, csv } => {
            admin::run_usage(&session_path, from, to, csv, out).await?
        }
    }
    Ok(())
}
