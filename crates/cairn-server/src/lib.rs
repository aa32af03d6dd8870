//! Wiring of a Cairn server process: binds the listeners, opens each cell's
//! database and bucket, loads or creates keys, and serves the directory and
//! the cells' services with health and reflection until shut down.
//!
//! No business logic here: it lives in the service crates.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::Server;
use tonic::transport::server::Router;
use tower_layer::{Identity, Stack};

use cairn_accounts::{AccountsService, DirectoryLink, Mail, UsersService};
use cairn_auth::{Authenticator, SigningKey, TokenIssuer, TokenVerifier};
use cairn_backup::BackupService;
use cairn_core::Region;
use cairn_core::config::ServerConfig;
use cairn_core::secret::load_or_create_hex;
use cairn_core::transport::{CONNECTION_WINDOW, MAX_FRAME, MAX_MESSAGE_SIZE, STREAM_WINDOW};
use cairn_crypto::MasterKey;
use cairn_directory::{DirectoryRepo, DirectoryService, Hasher};
use cairn_orgs::OrgsService;
use cairn_outbox::{Mailer, OutboxWorker};
use cairn_proto::accounts::v1::accounts_service_server::AccountsServiceServer;
use cairn_proto::accounts::v1::users_service_server::UsersServiceServer;
use cairn_proto::backup::v1::backup_service_server::BackupServiceServer;
use cairn_proto::directory::v1::directory_service_server::DirectoryServiceServer;
use cairn_proto::orgs::v1::orgs_service_server::OrgsServiceServer;
use cairn_store::CellStore;

use crate::answers::{AnswersLayer, CALL_LIMIT};
use crate::edge::{EdgeLayer, PerAddress, Tokens};

mod answers;
mod edge;
mod incoming;

/// A listener's router: every answer carries a reason, every call a time
/// limit, and a call that needs a token is checked before its body is read.
type CairnRouter = Router<Stack<EdgeLayer, Stack<AnswersLayer, Identity>>>;

/// The log filter when `RUST_LOG` is not set. Database drivers stay at
/// `warn`: their debug output would carry statement parameters.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Staging files of pack uploads are swept at start once this old: a
/// server stopped mid-upload left them.
const STAGING_SWEEP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Concurrent requests per connection; bounds memory held by uploads. The
/// HTTP/2 limit on open streams is the same, so no stream waits for a turn
/// with its body piling up unread in the transport.
const CONCURRENCY_PER_CONNECTION: usize = 64;

/// HTTP/2 pings on a quiet connection, and how long the answer may take
/// before the connection is closed: a peer that vanished frees its slot.
const HTTP2_KEEPALIVE: Duration = Duration::from_secs(30);
const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The largest request header block: a bearer token is under 1 KiB.
const MAX_HEADER_LIST: u32 = 16 * 1024;

/// A started server: where it listens, and how to stop it.
pub struct Running {
    pub directory: Option<SocketAddr>,
    pub cells: BTreeMap<Region, SocketAddr>,
    cancel: CancellationToken,
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Running {
    pub fn directory_endpoint(&self) -> Option<String> {
        self.directory.map(|a| format!("http://{a}"))
    }

    /// Stops accepting, lets running requests finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.cancel.cancel();
        while let Some(done) = self.tasks.join_next().await {
            done.context("server task panicked")??;
        }
        Ok(())
    }

    /// Waits until a listener fails (a running server never returns otherwise).
    pub async fn wait_for_failure(&mut self) -> anyhow::Result<()> {
        match self.tasks.join_next().await {
            Some(done) => done.context("server task panicked")?,
            None => Ok(()),
        }
    }
}

fn endpoint(public: &Option<String>, addr: SocketAddr) -> String {
    public.clone().unwrap_or_else(|| format!("http://{addr}"))
}

/// A router with health and reflection; reflection advertises `services`
/// (the ones this listener serves) and the standard ones.
async fn base(
    router_name: &str,
    services: &[&str],
    tokens: Tokens,
) -> anyhow::Result<(CairnRouter, tonic_health::server::HealthReporter)> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = || {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(cairn_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name("grpc.health.v1.Health")
            .with_service_name("grpc.reflection.v1.ServerReflection")
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for service in services {
            builder = builder.with_service_name(*service);
        }
        builder
    };
    let reflection_v1 = reflection()
        .build_v1()
        .with_context(|| format!("building reflection for {router_name}"))?;
    // Many stock clients (grpcio's reflection database, older grpcurl) still ask v1alpha.
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .with_context(|| format!("building reflection for {router_name}"))?;
    let listener = router_name.to_owned();
    let router = Server::builder()
        .trace_fn(move |request| tracing::info_span!("rpc", listener = %listener, method = %request.uri().path()))
        .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
        .max_concurrent_streams(CONCURRENCY_PER_CONNECTION as u32)
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .http2_max_header_list_size(MAX_HEADER_LIST)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_frame_size(MAX_FRAME)
        .layer(AnswersLayer::new(CALL_LIMIT))
        .layer(EdgeLayer::new(tokens))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    Ok((router, reporter))
}

/// Accepted connections with Nagle's algorithm off (many calls are small
/// requests answered by a stream, which Nagle and delayed acknowledgements
/// would hold back for tens of milliseconds each), limited per address.
fn incoming(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<incoming::Counted>> {
    incoming::incoming(listener, PerAddress::default())
}

/// Binds, opens and starts everything `config` asks for.
pub async fn start(config: ServerConfig) -> anyhow::Result<Running> {
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();

    // Bind first: endpoints (port 0 included) are known before services start.
    let directory_listener = match &config.directory {
        Some(dir) => Some(
            TcpListener::bind(dir.listen)
                .await
                .with_context(|| format!("binding the directory on {}", dir.listen))?,
        ),
        None => None,
    };
    let mut cell_listeners = BTreeMap::new();
    for (region, cell) in &config.cells {
        let listener = TcpListener::bind(cell.listen)
            .await
            .with_context(|| format!("binding cell {region} on {}", cell.listen))?;
        cell_listeners.insert(*region, listener);
    }
    let directory_addr = directory_listener
        .as_ref()
        .map(|l| l.local_addr())
        .transpose()?;
    let mut endpoints = BTreeMap::new();
    let mut cell_addrs = BTreeMap::new();
    for (region, listener) in &cell_listeners {
        let addr = listener.local_addr()?;
        cell_addrs.insert(*region, addr);
        endpoints.insert(
            *region,
            endpoint(&config.cells[region].public_endpoint, addr),
        );
    }
    let endpoints = Arc::new(endpoints);

    // Each cell signs with its own key; this process trusts the keys of the
    // cells it runs.
    let mut verifier = TokenVerifier::new();
    let mut issuers = BTreeMap::new();
    for (region, cell) in &config.cells {
        let path = config.cell_signing_key_file(*region, cell);
        let seed = load_or_create_hex(&path, 32)?;
        let key = SigningKey::from_seed(*region, &seed)?;
        verifier.trust(&key);
        issuers.insert(*region, Arc::new(TokenIssuer::new(key)));
    }
    let verifier = Arc::new(verifier);

    if let (Some(dir), Some(listener)) = (&config.directory, directory_listener) {
        let url = config.directory_database_url(dir);
        let db = cairn_migration::open_directory(&url)
            .await
            .context("opening the directory database")?;
        let hmac: [u8; 32] = load_or_create_hex(&config.directory_hmac_key_file(dir), 32)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("directory hmac key must be 32 bytes"))?;
        let service = DirectoryService::new(
            DirectoryRepo::new(db, Hasher::new(hmac)),
            (*endpoints).clone(),
            verifier.clone(),
        );
        let (router, reporter) = base(
            "directory",
            &["cairn.directory.v1.DirectoryService"],
            Tokens::Directory(verifier.clone()),
        )
        .await?;
        reporter
            .set_serving::<DirectoryServiceServer<DirectoryService>>()
            .await;
        let router = router.add_service(DirectoryServiceServer::new(service));
        let shutdown = cancel.clone();
        tasks.spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming(listener), shutdown.cancelled())
                .await
                .context("directory listener")
        });
    }
    let directory_endpoint = directory_addr.map(|a| {
        endpoint(
            &config
                .directory
                .as_ref()
                .and_then(|d| d.public_endpoint.clone()),
            a,
        )
    });

    for (region, listener) in cell_listeners {
        let cell = &config.cells[&region];
        let db = cairn_migration::open_regional(&config.cell_database_url(region, cell))
            .await
            .with_context(|| format!("opening the {region} database"))?;
        match cairn_backup::sweep_unfinished_commits(&db).await {
            Ok(0) => {}
            Ok(pages) => {
                tracing::info!(%region, pages, "removed pages of unfinished snapshot commits")
            }
            Err(err) => {
                tracing::warn!(%region, error = %err, "could not sweep unfinished snapshot commits")
            }
        }
        let store = CellStore::open(&config.cell_bucket(region, cell))?;
        // In the background: a large bucket takes a while to walk.
        let sweeping = store.clone();
        tokio::spawn(async move {
            match sweeping.sweep_staging(STAGING_SWEEP_AGE).await {
                Ok(0) => {}
                Ok(files) => tracing::info!(%region, files, "removed unfinished pack uploads"),
                Err(err) => {
                    tracing::warn!(%region, error = %err, "could not sweep unfinished pack uploads")
                }
            }
        });
        let master = Arc::new(MasterKey::from_bytes(&load_or_create_hex(
            &config.cell_master_key_file(region, cell),
            32,
        )?)?);
        let issuer = issuers[&region].clone();
        let auth = Authenticator::new(region, verifier.clone(), endpoints.clone());
        let directory_url = cell
            .directory_endpoint
            .clone()
            .or_else(|| directory_endpoint.clone())
            .context("a cell needs a directory endpoint")?;
        let link = DirectoryLink::new(&directory_url, issuer.clone())?;

        let mail_folder = config.cell_mail_folder(region);
        let mailer = Mailer::new(cell.smtp_url.as_deref(), &mail_folder)?;
        if cell.smtp_url.is_none() {
            tracing::info!(
                %region,
                folder = %mail_folder.display(),
                "no SMTP server configured: mail is written as .eml files"
            );
        }
        let outbox = OutboxWorker::new(
            db.clone(),
            mailer.clone(),
            cell.mail_from
                .as_deref()
                .unwrap_or("Cairn <no-reply@cairn.invalid>"),
        )?;
        let wake_mail = outbox.waker();
        let stop_mail = cancel.clone();
        tasks.spawn(async move {
            outbox.run(stop_mail).await;
            Ok(())
        });

        let maintenance_db = db.clone();
        let every = Duration::from_secs(cell.maintenance_every_secs.unwrap_or(300).max(1));
        let wake = wake_mail.clone();
        let stop_maintenance = cancel.clone();
        tasks.spawn(async move {
            cairn_orgs::maintenance::run(maintenance_db, every, wake, stop_maintenance).await;
            Ok(())
        });

        let users = UsersService::new(
            db.clone(),
            auth.clone(),
            link.clone(),
            wake_mail.clone(),
            mailer.clone(),
        );
        let accounts = AccountsService::new(
            db.clone(),
            auth.clone(),
            issuer.clone(),
            master.clone(),
            link,
            Mail {
                wake: wake_mail,
                mailer,
            },
            store.clone(),
        );
        let orgs = OrgsService::new(db.clone(), auth.clone(), issuer, master);
        let backup = BackupService::new(db, store, auth.clone());
        let (router, reporter) = base(
            region.as_str(),
            &[
                "cairn.accounts.v1.AccountsService",
                "cairn.accounts.v1.UsersService",
                "cairn.orgs.v1.OrgsService",
                "cairn.backup.v1.BackupService",
            ],
            Tokens::Cell(auth.clone()),
        )
        .await?;
        reporter
            .set_serving::<AccountsServiceServer<AccountsService>>()
            .await;
        reporter
            .set_serving::<UsersServiceServer<UsersService>>()
            .await;
        reporter
            .set_serving::<OrgsServiceServer<OrgsService>>()
            .await;
        reporter
            .set_serving::<BackupServiceServer<BackupService>>()
            .await;
        let router = router
            .add_service(AccountsServiceServer::new(accounts))
            .add_service(UsersServiceServer::new(users))
            .add_service(OrgsServiceServer::new(orgs))
            .add_service(
                BackupServiceServer::new(backup)
                    .max_decoding_message_size(MAX_MESSAGE_SIZE)
                    .max_encoding_message_size(MAX_MESSAGE_SIZE),
            );
        let shutdown = cancel.clone();
        tasks.spawn(async move {
            router
                .serve_with_incoming_shutdown(incoming(listener), shutdown.cancelled())
                .await
                .with_context(|| format!("cell {region} listener"))
        });
    }

    Ok(Running {
        directory: directory_addr,
        cells: cell_addrs,
        cancel,
        tasks,
    })
}
