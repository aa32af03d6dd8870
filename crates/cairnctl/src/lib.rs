//! `cairnctl`: the admin command line. Signs a company up in its home region,
//! logs in (keeping the access token in a session file), creates enrollment
//! keys and manages agents.
//!
//! A thin gRPC client: every rule is enforced by the server.

mod account;
mod admin;
mod session;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tonic::transport::Channel;

use crate::session::{Session, load_session, save_session, session_connection};

use cairn_client::{ClientConfig, ClientError, Connection, Directory, Idempotency};
use cairn_proto::accounts::v1::{
    LoginRequest, LogoutRequest, SignUpRequest, accounts_service_client::AccountsServiceClient,
};
use cairn_proto::orgs::v1::{
    CreateEnrollmentKeyRequest, GetCompanyRequest, ListEmployeeCountsRequest,
    SetPersonalKeyRequest, SetQuotaRequest, SetSeatsRequest, UpdateCompanyRequest,
    orgs_service_client::OrgsServiceClient,
};

use crate::admin::{AgentCommand, GroupCommand, InvitationCommand, UserCommand};

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

#[derive(Subcommand)]
enum CompanyCommand {
    /// Correct the company's details (owners and admins).
    Update {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        industry: Option<String>,
        #[arg(long)]
        employees: Option<i64>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        city: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        postal_code: Option<String>,
        /// Days without a completed backup before a machine raises an alert.
        #[arg(long)]
        idle_alert_days: Option<i32>,
    },
    /// How the number of employees changed over time.
    Employees,
    /// Set the number of seats bought (the owner).
    Seats { seats: i64 },
    /// Set the storage quota, e.g. 500GiB; 0 for none (the owner).
    Quota { size: String },
    /// Seal the company's data key with a passphrase Cairn never sees
    /// (personal-key mode; the owner, before the first machine is enrolled).
    /// Enrolling a machine and restoring then need the passphrase; if it is
    /// lost, nobody can restore the company's backups.
    PersonalKey {
        /// File holding the passphrase; else CAIRN_KEY_PASSPHRASE.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a one-time enrollment key.
    Create {
        /// Hours the key stays valid (1 to 720).
        #[arg(long, default_value_t = 72)]
        ttl_hours: u32,
        /// Whose machine it is (a user id; owners and admins). Default: yours.
        #[arg(long)]
        for_user: Option<String>,
        /// The machine's group (id or name; owners and admins). Default: its owner's.
        #[arg(long)]
        group: Option<String>,
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
type Orgs = OrgsServiceClient<Channel>;

/// A channel to `endpoint` with the shared transport limits, connected now.
pub(crate) async fn connect(endpoint: &str) -> anyhow::Result<Channel> {
    Ok(ClientConfig::new(endpoint).connect().await?)
}

/// A connection to `endpoint` without credentials, connected now.
pub(crate) async fn connection(endpoint: &str) -> anyhow::Result<Connection> {
    Ok(Connection::connect(ClientConfig::new(endpoint)).await?)
}

/// The directory, connected now.
pub(crate) async fn directory(endpoint: &str) -> anyhow::Result<Directory> {
    Ok(Directory::on(connection(endpoint).await?))
}

pub(crate) fn status(what: &str) -> impl Fn(tonic::Status) -> anyhow::Error + '_ {
    move |s| anyhow::anyhow!("{what}: {} ({:?})", s.message(), s.code())
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
                .map_err(|e| match e.code() {
                    tonic::Code::NotFound => {
                        anyhow::anyhow!("login failed: wrong email or password")
                    }
                    _ => failed("login failed")(e),
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
        Command::Company { command } => {
            let (_, conn) = session_connection(&session_path).await?;
            let c = match command {
                None => conn
                    .unary(
                        Idempotency::Idempotent,
                        GetCompanyRequest {},
                        |mut c: Orgs, r| async move { c.get_company(r).await },
                    )
                    .await
                    .map_err(failed("cannot show the company"))?,
                Some(CompanyCommand::Update {
                    name,
                    industry,
                    employees,
                    phone,
                    city,
                    state,
                    postal_code,
                    idle_alert_days,
                }) => {
                    let request = UpdateCompanyRequest {
                        name,
                        industry,
                        employees,
                        phone,
                        city,
                        state,
                        postal_code,
                        idle_alert_days,
                    };
                    conn.unary(
                        Idempotency::NotIdempotent,
                        request,
                        |mut c: Orgs, r| async move { c.update_company(r).await },
                    )
                    .await
                    .map_err(failed("cannot update the company"))?
                }
                Some(CompanyCommand::Quota { size }) => conn
                    .unary(
                        Idempotency::NotIdempotent,
                        SetQuotaRequest {
                            quota_bytes: admin::parse_size("quota", &size)?,
                        },
                        |mut c: Orgs, r| async move { c.set_quota(r).await },
                    )
                    .await
                    .map_err(failed("cannot set the quota"))?,
                Some(CompanyCommand::PersonalKey { passphrase_file }) => {
                    let passphrase =
                        cairn_core::secret::read_passphrase(passphrase_file.as_deref())?.context(
                            "give the passphrase with --passphrase-file or CAIRN_KEY_PASSPHRASE",
                        )?;
                    if passphrase.chars().count() < 12 {
                        anyhow::bail!("the passphrase must be at least 12 characters long");
                    }
                    let key = cairn_crypto::DataKey::generate()?;
                    let sealed = cairn_crypto::PersonalKey::seal(&key, &passphrase)?;
                    conn.unary(
                        Idempotency::NotIdempotent,
                        SetPersonalKeyRequest {
                            personal_key: sealed.to_bytes(),
                        },
                        |mut c: Orgs, r| async move { c.set_personal_key(r).await },
                    )
                    .await
                    .map_err(failed("cannot set the personal key"))?
                }
                Some(CompanyCommand::Seats { seats }) => conn
                    .unary(
                        Idempotency::NotIdempotent,
                        SetSeatsRequest { seats },
                        |mut c: Orgs, r| async move { c.set_seats(r).await },
                    )
                    .await
                    .map_err(failed("cannot set seats"))?,
                Some(CompanyCommand::Employees) => {
                    let changes = conn
                        .unary(
                            Idempotency::Idempotent,
                            ListEmployeeCountsRequest {},
                            |mut c: Orgs, r| async move { c.list_employee_counts(r).await },
                        )
                        .await
                        .map_err(failed("cannot list employee counts"))?
                        .changes;
                    for c in changes {
                        writeln!(
                            out,
                            "{}  {} -> {}  by {}",
                            c.changed_at, c.previous, c.employees, c.changed_by
                        )?;
                    }
                    return Ok(());
                }
            };
            writeln!(
                out,
                "{} ({}), {} employees, {}; seats {} used of {}; storage {} of {}{}",
                c.name,
                c.industry,
                c.employees,
                c.country,
                c.seats_used,
                c.seats_total,
                admin::size(c.stored_bytes),
                match c.quota_bytes {
                    0 => "no quota".to_owned(),
                    q => admin::size(q),
                },
                if c.personal_key { "; personal key" } else { "" }
            )?;
        }
        Command::EnrollmentKey {
            command:
                KeyCommand::Create {
                    ttl_hours,
                    for_user,
                    group,
                },
        } => {
            let session = load_session(&session_path).await?;
            let group_id = match group {
                Some(g) => admin::group(&session, &g).await?.group_id,
                None => String::new(),
            };
            let request = CreateEnrollmentKeyRequest {
                ttl_hours,
                owner_user_id: for_user.unwrap_or_default(),
                group_id,
            };
            let (_, conn) = session_connection(&session_path).await?;
            let key = conn
                .unary(
                    Idempotency::NotIdempotent,
                    request,
                    |mut c: Orgs, r| async move { c.create_enrollment_key(r).await },
                )
                .await
                .map_err(failed("cannot create an enrollment key"))?;
            writeln!(out, "{}", key.key)?;
        }
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
