//! The agent against a cell that stops answering gives up with a deadline
//! error instead of waiting for the server's own one-hour limit; and a
//! parent-snapshot cache naming chunks the cell no longer holds is dropped
//! (the cell says CHUNKS_NOT_STORED) and the backup done again by reading
//! every file.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use cairn_agent::{AgentClient, AgentState, Quiet};
use cairn_client::ClientConfig;
use cairn_core::Region;
use cairn_e2e::{Cluster, backends, noise};
use cairn_entity::regional::{chunk, chunk_holding, snapshot, snapshot_ref_page};

/// A generous bound on a call that must fail quickly: reaching it means
/// the agent hung, which is what these tests rule out.
const HANG: Duration = Duration::from_secs(120);

/// A TCP relay to `upstream` that stops passing bytes, both ways and on
/// every connection, once more than `limit` bytes have gone through in one
/// direction: a cell that stalls mid-transfer, its connections left open
/// until the relay is dropped.
struct Relay {
    addr: SocketAddr,
    frozen: Arc<AtomicBool>,
    closed: tokio::sync::watch::Sender<bool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = self.closed.send(true);
    }
}

impl Relay {
    async fn start(upstream: &str, limit: u64) -> Relay {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let frozen = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let received = Arc::new(AtomicU64::new(0));
        let flag = frozen.clone();
        let (closed, close) = tokio::sync::watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pipe(
                    client_read,
                    server_write,
                    sent.clone(),
                    limit,
                    flag.clone(),
                    close.clone(),
                ));
                tokio::spawn(pipe(
                    server_read,
                    client_write,
                    received.clone(),
                    limit,
                    flag.clone(),
                    close.clone(),
                ));
            }
        });
        Relay {
            addr,
            frozen,
            closed,
            accept,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn frozen(&self) -> bool {
        self.frozen.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until the relay freezes; then holds both ends
/// open, without reading or writing, until the relay is dropped.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    moved: Arc<AtomicU64>,
    limit: u64,
    frozen: Arc<AtomicBool>,
    mut close: tokio::sync::watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if frozen.load(Ordering::SeqCst) {
            break;
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = close.wait_for(|closed| *closed) => return,
        };
        if moved.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > limit {
            frozen.store(true, Ordering::SeqCst);
        }
        if frozen.load(Ordering::SeqCst) {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _open = (from, to);
    let _ = close.wait_for(|closed| *closed).await;
}

/// The agent's state pointed at `endpoint`, and a connection to it whose
/// unary deadline (and so the floor of its stream deadlines) is shorter
/// than the default, yet ample for a cell that answers.
async fn agent_via(state: &AgentState, endpoint: String) -> (AgentState, AgentClient) {
    let mut state = state.clone();
    state.endpoint = endpoint;
    let config = ClientConfig::new(&state.endpoint).with_unary_timeout(Duration::from_secs(5));
    let client = AgentClient::connect_with(&state, config).await.unwrap();
    (state, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_cell_fails_a_backup_and_a_restore_instead_of_holding_them() {
    let backend = backends().remove(0);
    let cluster = Cluster::start(backend).await;
    let (session, _) = cluster.signup("Oscar", "IE", "o@oscar.ie", 1).await;
    let state_dir = cluster.enroll(&session, "oscar-1").await;
    let state = AgentState::load(&state_dir).unwrap();
    let cell = cluster.cell_endpoint(Region::Eu);
    // Small enough for one pack, large enough to cross the relay's limit.
    let data = cluster.path("oscar-data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("ledger.bin"), noise(300 * 1024, 7)).unwrap();

    // The cell stalls as the pack goes up: the upload's deadline ends it.
    let relay = Relay::start(&cell, 64 * 1024).await;
    let (stalled, client) = agent_via(&state, relay.endpoint()).await;
    let paths = std::slice::from_ref(&data);
    let result = tokio::time::timeout(
        HANG,
        cairn_agent::backup_using(&client, &stalled, paths, Arc::new(Quiet)),
    )
    .await
    .expect("the backup waited on a stalled cell");
    let err = result.unwrap_err();
    assert!(relay.frozen(), "the relay never stalled: {err:#}");
    let text = format!("{err:#}");
    assert!(text.contains("pack upload failed"), "{text}");
    assert!(text.contains("no answer within"), "{text}");
    drop((client, relay));

    // The same data backed up directly, then restored through a cell that
    // stalls as the chunks come down.
    let backed_up = cairn_agent::backup(&state, paths).await.unwrap();
    let relay = Relay::start(&cell, 64 * 1024).await;
    let (stalled, client) = agent_via(&state, relay.endpoint()).await;
    let target = cluster.path("oscar-restore");
    let result = tokio::time::timeout(
        HANG,
        cairn_agent::restore_using(
            &client,
            &stalled,
            &backed_up.snapshot_id,
            &target,
            &cairn_agent::RestoreOptions::default(),
            Arc::new(Quiet),
        ),
    )
    .await
    .expect("the restore waited on a stalled cell");
    let err = result.unwrap_err();
    assert!(relay.frozen(), "the relay never stalled: {err:#}");
    let text = format!("{err:#}");
    assert!(text.contains("ledger.bin"), "{text}");
    assert!(text.contains("no answer within"), "{text}");
    drop((client, relay));
    cluster.stop().await;
}

/// Waits until `path`'s change time is more than two seconds old.
async fn settle(path: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let changed = std::fs::metadata(path).unwrap().ctime();
    while cairn_core::unix_now() <= changed + 2 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_naming_chunks_the_cell_lost_is_dropped_and_the_backup_redone() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, company) = cluster.signup("Papa", "US", "p@papa.com", 1).await;
        let state_dir = cluster.enroll(&session, "papa-1").await;
        let state = AgentState::load(&state_dir).unwrap();
        let data = cluster.path("papa-data");
        std::fs::create_dir_all(&data).unwrap();
        let contents = noise(2 << 20, 11);
        std::fs::write(data.join("archive.bin"), &contents).unwrap();
        let paths = std::slice::from_ref(&data);
        // The cache trusts only files whose change time is a couple of
        // seconds old (a file changed within the same second could change
        // again unseen): wait until this one's is.
        settle(&data.join("archive.bin")).await;
        let first = cairn_agent::backup(&state, paths).await.unwrap();
        assert!(first.chunks_uploaded > 0);
        // The cache is in use: the file is taken from it unread.
        let again = cairn_agent::backup(&state, paths).await.unwrap();
        assert_eq!(again.files_unchanged, 1);

        // The cell forgets the company's snapshots and collects their
        // chunks (as retention and a sweep would): the agent's cache still
        // says the file is unchanged and stored.
        let db = cluster.cell_db(Region::Us).await;
        let company = uuid::Uuid::parse_str(&company).unwrap();
        snapshot_ref_page::Entity::delete_many()
            .filter(snapshot_ref_page::Column::CompanyId.eq(company))
            .exec(&db)
            .await
            .unwrap();
        snapshot::Entity::delete_many()
            .filter(snapshot::Column::CompanyId.eq(company))
            .exec(&db)
            .await
            .unwrap();
        chunk::Entity::delete_many()
            .filter(chunk::Column::CompanyId.eq(company))
            .exec(&db)
            .await
            .unwrap();
        chunk_holding::Entity::delete_many()
            .filter(chunk_holding::Column::CompanyId.eq(company))
            .exec(&db)
            .await
            .unwrap();

        let second = cairn_agent::backup(&state, paths).await.unwrap();
        // Read again, not taken from the cache, and stored again.
        assert_eq!(second.files_unchanged, 0);
        assert_eq!(second.bytes_read, contents.len() as u64);
        assert!(second.chunks_uploaded > 0);

        let target = cluster.path("papa-restore");
        cairn_agent::restore(&state, &second.snapshot_id, &target)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(target.join("papa-data/archive.bin")).unwrap(),
            contents
        );
        cluster.stop().await;
    }
}
