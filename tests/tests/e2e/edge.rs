//! The edge, without credentials: unfinished requests without a token hold
//! no server memory while honest clients keep working, logins cannot be
//! guessed in bursts, the directory does not tell who has an account, and
//! the files the server writes are its own user's only.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinSet;
use tonic::Code;
use tonic::codegen::http;

use cairn_core::{Reason, Region};
use cairn_e2e::{Backend, Cluster, authed, backends};
use cairn_proto::accounts::v1::{LoginRequest, accounts_service_client::AccountsServiceClient};
use cairn_proto::directory::v1::{
    LocateLoginRequest, directory_service_client::DirectoryServiceClient,
};
use cairn_proto::orgs::v1::{GetCompanyRequest, orgs_service_client::OrgsServiceClient};

const OWNER: &str = "owner@echo.example.com";
const PASSWORD: &str = "correct horse battery";

/// Tells the child process to serve.
const CHILD: &str = "CAIRN_E2E_EDGE_SERVER";

/// The server that `unauthenticated_requests_hold_no_memory` attacks: this
/// test binary, running only this function, so its memory is the server's.
/// Prints `READY <cell endpoint>` and serves until its stdin closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of unauthenticated_requests_hold_no_memory"]
async fn edge_server_child() {
    std::env::var(CHILD).expect("started by unauthenticated_requests_hold_no_memory");
    let cluster = Cluster::start(Backend::Sqlite).await;
    cluster.signup("Echo", "US", OWNER, 1).await;
    println!("READY {}", cluster.cell_endpoint(Region::Us));
    tokio::task::spawn_blocking(|| std::io::stdin().lines().count())
        .await
        .unwrap();
    cluster.stop().await;
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Opens one HTTP/2 connection to `addr` and starts `streams` calls of
/// `path` without a token, each declaring a message of `declared` bytes
/// and sending as much of it as the server takes, never finishing, until
/// `until`. Returns the bytes the server accepted.
async fn attack(
    addr: SocketAddr,
    path: &str,
    streams: usize,
    declared: u32,
    until: Instant,
) -> u64 {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut tasks = JoinSet::new();
    let until = tokio::time::Instant::from_std(until);
    for _ in 0..streams {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .unwrap();
        let Ok((response, mut send)) = client.send_request(request, false) else {
            break;
        };
        client = match client.ready().await {
            Ok(client) => client,
            Err(_) => break,
        };
        tasks.spawn(async move {
            let mut prefix = vec![0u8];
            prefix.extend(declared.to_be_bytes());
            let _ = send.send_data(Bytes::from(prefix), false);
            let block = Bytes::from(vec![7u8; 256 * 1024]);
            let mut sent = 0u64;
            while sent + (block.len() as u64) < u64::from(declared) {
                send.reserve_capacity(block.len());
                let granted = tokio::time::timeout_at(
                    until,
                    std::future::poll_fn(|cx| send.poll_capacity(cx)),
                )
                .await;
                let Ok(Some(Ok(n))) = granted else { break };
                if send
                    .send_data(block.slice(..n.min(block.len())), false)
                    .is_err()
                {
                    break;
                }
                sent += n as u64;
            }
            // Unfinished: the stream stays open until the attack ends.
            tokio::time::sleep_until(until).await;
            drop(response);
            sent
        });
    }
    let mut accepted = 0;
    while let Some(sent) = tasks.join_next().await {
        accepted += sent.unwrap();
    }
    accepted
}

/// An honest user logs in and reads the company.
async fn honest_call(endpoint: &str) {
    let channel = cairn_client::ClientConfig::new(endpoint.to_owned())
        .connect()
        .await
        .unwrap();
    let login = AccountsServiceClient::new(channel.clone())
        .login(LoginRequest {
            email: OWNER.into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = login.access_token.unwrap().token;
    OrgsServiceClient::new(channel)
        .get_company(authed(&token, GetCompanyRequest {}))
        .await
        .unwrap();
}

/// The attack: many unfinished large requests without a token, on
/// one connection and on several, to a method that needs a token and to a
/// public one. The server's memory stays under the bound while an honest
/// client's calls succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_hold_no_memory() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "edge::edge_server_child",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let endpoint = loop {
        let line = lines.next().expect("the server child ended").unwrap();
        // libtest may print the test's name on the same line first.
        if let Some((_, endpoint)) = line.split_once("READY ") {
            break endpoint.trim().to_owned();
        }
    };
    let addr: SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    honest_call(&endpoint).await;
    let before = rss(child.id());

    let until = Instant::now() + Duration::from_secs(6);
    let mut attacks = JoinSet::new();
    // Sixty unfinished 15 MiB requests on one connection...
    attacks.spawn(attack(
        addr,
        "/cairn.backup.v1.BackupService/FindMissingChunks",
        60,
        15 << 20,
        until,
    ));
    // ...and public calls declaring almost 4 MiB, on two more.
    for _ in 0..2 {
        attacks.spawn(attack(
            addr,
            "/cairn.accounts.v1.AccountsService/Login",
            12,
            (4 << 20) - 64,
            until,
        ));
    }
    let mut peak = before;
    tokio::time::sleep(Duration::from_secs(2)).await;
    honest_call(&endpoint).await;
    while Instant::now() < until {
        peak = peak.max(rss(child.id()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut accepted = 0;
    while let Some(bytes) = attacks.join_next().await {
        accepted += bytes.unwrap();
    }
    honest_call(&endpoint).await;
    drop(child.stdin.take());
    child.wait().unwrap();

    let grew = peak.saturating_sub(before);
    println!(
        "server rss {} MiB before, peak {} MiB during; {} MiB of request bodies accepted",
        before >> 20,
        peak >> 20,
        accepted >> 20
    );
    assert!(
        grew < 48 << 20,
        "the server grew by {} MiB under requests without a token",
        grew >> 20
    );
}

async fn login(endpoint: &str, email: &str, password: &str) -> Result<(), tonic::Status> {
    let channel = cairn_client::ClientConfig::new(endpoint.to_owned())
        .connect()
        .await
        .unwrap();
    AccountsServiceClient::new(channel)
        .login(LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
        .map(|_| ())
}

/// Thirty wrong guesses at once check no more than the limit, none answers
/// INTERNAL, and the right password is refused afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_checks_at_most_the_limit() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        cluster.signup("Echo", "US", OWNER, 1).await;
        let endpoint = cluster.cell_endpoint(Region::Us);
        let mut guesses = JoinSet::new();
        for i in 0..30 {
            let endpoint = endpoint.clone();
            guesses.spawn(async move { login(&endpoint, OWNER, &format!("guess {i}")).await });
        }
        let (mut wrong, mut limited) = (0, 0);
        while let Some(answer) = guesses.join_next().await {
            let status = answer.unwrap().unwrap_err();
            match Reason::of(&status) {
                Some(Reason::Unauthenticated) => wrong += 1,
                Some(Reason::RateLimited) => limited += 1,
                other => panic!("{backend:?}: {other:?} {status:?}"),
            }
        }
        assert_eq!((wrong, limited), (5, 25), "{backend:?}");
        let after = login(&endpoint, OWNER, PASSWORD).await.unwrap_err();
        assert_eq!(Reason::of(&after), Some(Reason::RateLimited), "{backend:?}");
        cluster.stop().await;
    }
}

/// LocateLogin answers a registered and an unknown login alike; the cell it
/// names answers both with the same message; lookups are rate-limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_does_not_tell_who_has_an_account() {
    let cluster = Cluster::start(Backend::Sqlite).await;
    cluster.signup("Echo", "US", OWNER, 1).await;
    let mut directory = DirectoryServiceClient::new(
        cairn_client::ClientConfig::new(cluster.directory.clone())
            .connect()
            .await
            .unwrap(),
    );
    let mut messages = Vec::new();
    for email in [OWNER, "nobody@echo.example.com"] {
        let cell = directory
            .locate_login(LocateLoginRequest {
                login: email.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("{email}: {e:?}"))
            .into_inner()
            .cell
            .unwrap();
        let status = login(&cell.endpoint, email, "not the password")
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated, "{email}");
        messages.push(status.message().to_owned());
    }
    assert_eq!(messages[0], messages[1]);
    assert!(
        messages[0].ends_with("wrong email or password"),
        "{}",
        messages[0]
    );

    // 200 lookups in a row from one address: most are refused, with a wait.
    let mut refused = 0;
    for i in 0..200 {
        if let Err(status) = directory
            .locate_login(LocateLoginRequest {
                login: format!("probe{i}@echo.example.com"),
            })
            .await
        {
            assert_eq!(Reason::of(&status), Some(Reason::RateLimited));
            assert!(cairn_core::reason::retry_delay(&status).is_some());
            refused += 1;
        }
    }
    assert!(refused >= 150, "only {refused} of 200 lookups were refused");
    cluster.stop().await;
}

/// After sign-up (mail), enrollment and a backup (packs), every file the
/// server wrote is 0600 and every folder 0700.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_the_server_writes_are_its_own() {
    let cluster = Cluster::start(Backend::Sqlite).await;
    let (session, _) = cluster.signup("Echo", "US", OWNER, 1).await;
    let state = cluster.enroll(&session, "echo-1").await;
    let data = cluster.path("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), b"hello").unwrap();
    cluster
        .agent(&state, &["backup", data.to_str().unwrap()])
        .await
        .unwrap();
    // While the server runs: the SQLite -wal and -shm files are there too.
    let root = cluster.config.data_dir.clone();
    let mut seen = (0, 0);
    for entry in walkdir::WalkDir::new(&root).min_depth(1) {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o7777;
        let expected = if entry.file_type().is_dir() {
            seen.1 += 1;
            0o700
        } else {
            seen.0 += 1;
            0o600
        };
        assert_eq!(mode, expected, "{} is {mode:o}", entry.path().display());
    }
    let names: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "cell.db",
        "master.key",
        "signing.key",
        "hmac.key",
        "directory.db",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no {expected} was checked"
        );
    }
    assert!(
        names.iter().any(|n| n.ends_with(".eml")),
        "no mail was checked"
    );
    assert!(
        names.iter().any(|n| n == "cell.db-wal"),
        "no write-ahead log was checked"
    );
    assert!(seen.0 > 5 && seen.1 > 5, "{seen:?}");
    cluster.stop().await;
}
