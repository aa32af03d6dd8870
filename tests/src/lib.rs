//! Test harness: a real Cairn server (directory and both cells) on loopback
//! port 0 with a temporary data directory, SQLite or PostgreSQL databases,
//! and helpers that drive it through the real `cairnctl` and `cairn-agent`
//! command lines.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

pub mod smtp;

use std::path::{Path, PathBuf};

use sea_orm::{ColumnTrait, Database, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_core::Region;
use cairn_core::config::ServerConfig;
use cairn_entity::regional::audit;
use cairn_migration::testing::TestDatabase;
use cairn_server::Running;
use cairn_store::CellStore;

/// Which database backend a test cluster runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL too when `CAIRN_TEST_DATABASE_URL` is set.
/// `len` incompressible, reproducible bytes (xorshift from `seed`).
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if std::env::var(cairn_migration::testing::TEST_DATABASE_ENV).is_ok() {
        all.push(Backend::Postgres);
    }
    all
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub config: ServerConfig,
    pub directory: String,
    running: Option<Running>,
    _databases: Vec<TestDatabase>,
}

impl Cluster {
    pub async fn start(backend: Backend) -> Cluster {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts with `configure` applied to the embedded configuration.
    pub async fn start_with(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::embedded_on(dir.path().join("server-data"), [0, 0, 0]);
        configure(&mut config);
        let mut databases = Vec::new();
        if backend == Backend::Postgres {
            let directory_db = cairn_migration::testing::postgres().await.unwrap().unwrap();
            config.directory.as_mut().unwrap().database_url = Some(directory_db.url.clone());
            databases.push(directory_db);
            for cell in config.cells.values_mut() {
                let db = cairn_migration::testing::postgres().await.unwrap().unwrap();
                cell.database_url = Some(db.url.clone());
                databases.push(db);
            }
        }
        let running = cairn_server::start(config.clone()).await.unwrap();
        let directory = running.directory_endpoint().unwrap();
        Cluster {
            dir,
            config,
            directory,
            running: Some(running),
            _databases: databases,
        }
    }

    pub fn cell_endpoint(&self, region: Region) -> String {
        format!("http://{}", self.running.as_ref().unwrap().cells[&region])
    }

    /// A fresh folder under the cluster's temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `cairnctl` with this cluster's directory and `session` file.
    pub async fn ctl(&self, session: &Path, args: &[&str]) -> anyhow::Result<String> {
        let mut argv = vec![
            "cairnctl".to_owned(),
            "--directory".to_owned(),
            self.directory.clone(),
            "--session".to_owned(),
            session.display().to_string(),
        ];
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut out = Vec::new();
        cairnctl::run(argv, &mut out).await?;
        Ok(String::from_utf8(out)?)
    }

    /// Runs `cairn-agent` with its state in `state`.
    pub async fn agent(&self, state: &Path, args: &[&str]) -> anyhow::Result<String> {
        let mut argv = vec![
            "cairn-agent".to_owned(),
            "--state-dir".to_owned(),
            state.display().to_string(),
        ];
        for arg in args {
            argv.push(arg.to_string());
            if *arg == "enroll" {
                argv.push("--directory".to_owned());
                argv.push(self.directory.clone());
            }
        }
        let mut out = Vec::new();
        cairn_agent::cli::run(argv, &mut out).await?;
        Ok(String::from_utf8(out)?)
    }

    /// Signs a company up, logs its owner in, and returns the session file and company id.
    pub async fn signup(
        &self,
        name: &str,
        country: &str,
        email: &str,
        seats: u32,
    ) -> (PathBuf, String) {
        let session = self.path(&format!("{email}.session"));
        let out = self
            .ctl(
                &session,
                &[
                    "signup",
                    "--company",
                    name,
                    "--industry",
                    "Accounting",
                    "--employees",
                    "25",
                    "--country",
                    country,
                    "--name",
                    "Owner Person",
                    "--email",
                    email,
                    "--password",
                    "correct horse battery",
                    "--seats",
                    &seats.to_string(),
                    "--phone",
                    "+1 555 0100 200",
                    "--title",
                    "Office Manager",
                    "--city",
                    "Springfield",
                    "--postal-code",
                    "12345",
                    "--username",
                    "owner",
                    "--i-am-13-or-older",
                ],
            )
            .await
            .unwrap();
        let company = out.split_whitespace().nth(1).unwrap().to_owned();
        let region: Region = out
            .split_whitespace()
            .nth(5)
            .unwrap()
            .trim_end_matches(';')
            .parse()
            .unwrap();
        self.ctl(
            &session,
            &[
                "login",
                "--email",
                email,
                "--password",
                "correct horse battery",
            ],
        )
        .await
        .unwrap();
        let code = self.mailed_code(region, email, "Confirm your email").await;
        self.ctl(&session, &["account", "confirm", "--token", &code])
            .await
            .unwrap();
        (session, company)
    }

    /// Creates a key and enrolls an agent; returns its state directory.
    pub async fn enroll(&self, session: &Path, name: &str) -> PathBuf {
        let key = self
            .ctl(session, &["enrollment-key", "create"])
            .await
            .unwrap();
        let state = self.path(&format!("{name}.agent"));
        self.agent(&state, &["enroll", "--key", key.trim(), "--hostname", name])
            .await
            .unwrap();
        state
    }

    /// Enrolls a machine named `name` and connects its agent's backup
    /// client, for tests that speak the backup API directly.
    pub async fn backup_client(&self, session: &Path, name: &str) -> cairn_agent::Backup {
        let state = self.enroll(session, name).await;
        let state = cairn_agent::AgentState::load(&state).unwrap();
        cairn_agent::AgentClient::connect(&state)
            .await
            .unwrap()
            .backup
    }

    /// Waits for the mail to `to` whose subject starts with `subject` in
    /// `region`'s mail folder (no SMTP configured) and returns its code.
    pub async fn mailed_code(&self, region: Region, to: &str, subject: &str) -> String {
        let folder = self.config.cell_mail_folder(region);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(entries) = std::fs::read_dir(&folder) {
                for entry in entries {
                    let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
                    if text.contains(&format!("To: {to}"))
                        && text.contains(&format!("Subject: {subject}"))
                        && let Some(code) = find_code(&text, region)
                    {
                        return code;
                    }
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail `{subject}` to {to} in {}",
                folder.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Waits for a mail without a code (a notice) to `to` with `subject`.
    pub async fn mailed_code_or_notice(&self, region: Region, to: &str, subject: &str) {
        let folder = self.config.cell_mail_folder(region);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found = std::fs::read_dir(&folder)
                .into_iter()
                .flatten()
                .any(|entry| {
                    let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
                    text.contains(&format!("To: {to}"))
                        && text.contains(&format!("Subject: {subject}"))
                });
            if found {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no mail `{subject}` to {to} in {}",
                folder.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn cell_db(&self, region: Region) -> DatabaseConnection {
        let url = self
            .config
            .cell_database_url(region, &self.config.cells[&region]);
        Database::connect(url.as_str()).await.unwrap()
    }

    pub fn cell_store(&self, region: Region) -> CellStore {
        CellStore::open(&self.config.cell_bucket(region, &self.config.cells[&region])).unwrap()
    }

    /// The folder of `region`'s local-disk bucket.
    pub fn bucket_dir(&self, region: Region) -> PathBuf {
        let url = self.config.cell_bucket(region, &self.config.cells[&region]);
        PathBuf::from(url.strip_prefix("file://").unwrap_or(&url))
    }

    pub async fn directory_db(&self) -> DatabaseConnection {
        let dir = self.config.directory.as_ref().unwrap();
        Database::connect(self.config.directory_database_url(dir).as_str())
            .await
            .unwrap()
    }

    /// Rows of `company` in every tenant table of `region`'s database.
    pub async fn company_rows(&self, region: Region, company: &str) -> u64 {
        let db = self.cell_db(region).await;
        let id = cairn_core::CompanyId::parse(company, "company").unwrap();
        cairn_tenancy::registry::rows_per_table(&db, id)
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum()
    }

    /// The audit log of `company` in `region`, sorted by action and field
    /// (entries written in one transaction share their time).
    pub async fn audit_log(&self, region: Region, company: &str) -> Vec<audit::Model> {
        let db = self.cell_db(region).await;
        let mut rows = audit::Entity::find()
            .filter(audit::Column::CompanyId.eq(uuid::Uuid::parse_str(company).unwrap()))
            .all(&db)
            .await
            .unwrap();
        rows.sort_by(|a, b| (&a.action, &a.field).cmp(&(&b.action, &b.field)));
        rows
    }

    /// Objects of `company` anywhere in `region`'s bucket, and their bytes.
    pub async fn company_objects(&self, region: Region, company: &str) -> (usize, u64) {
        let all = self.cell_store(region).list(None).await.unwrap();
        let mine: Vec<_> = all
            .iter()
            .filter(|(key, _)| key.contains(company))
            .collect();
        // Deletion removes the registry's prefix: nothing may lie outside it.
        let id = cairn_core::CompanyId::parse(company, "company").unwrap();
        let prefix = cairn_tenancy::registry::object_prefix(id);
        for (key, _) in &mine {
            assert!(key.starts_with(&prefix), "{key} is outside {prefix}");
        }
        (mine.len(), mine.iter().map(|(_, size)| size).sum())
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.unwrap();
        }
    }
}

/// A request carrying `Bearer token`.
pub fn authed<T>(token: &str, message: T) -> tonic::Request<T> {
    cairn_client::with_bearer(token, message).unwrap()
}

impl Cluster {
    /// A plain channel to a cell.
    pub async fn channel(&self, region: Region) -> tonic::transport::Channel {
        cairn_client::ClientConfig::new(self.cell_endpoint(region))
            .connect()
            .await
            .unwrap()
    }

    /// An owner's access token, straight from the Login RPC.
    pub async fn user_token(&self, region: Region, email: &str) -> String {
        use cairn_client::{ClientConfig, Connection, Idempotency};
        use cairn_proto::accounts::v1::{
            LoginRequest, accounts_service_client::AccountsServiceClient,
        };
        type Accounts = AccountsServiceClient<tonic::transport::Channel>;
        let request = LoginRequest {
            email: email.to_owned(),
            password: "correct horse battery".to_owned(),
        };
        Connection::lazy(ClientConfig::new(self.cell_endpoint(region)))
            .unwrap()
            .unary(
                Idempotency::NotIdempotent,
                request,
                |mut c: Accounts, r| async move { c.login(r).await },
            )
            .await
            .unwrap()
            .access_token
            .unwrap()
            .token
    }
}

/// The status code of a call that must fail.
pub fn code_of<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> tonic::Code {
    match result {
        Ok(response) => panic!("expected an error, got {response:?}"),
        Err(status) => status.code(),
    }
}

/// The `<region>-<64 hex>` code on its own line of a mail.
pub fn find_code(text: &str, region: Region) -> Option<String> {
    let prefix = format!("{region}-");
    text.lines()
        .map(str::trim)
        .find(|line| {
            line.strip_prefix(&prefix)
                .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .map(str::to_owned)
}
