//! Every refusal carries a stable reason a client can branch on, in the
//! status's ErrorInfo, with what the client needs to act on it: the field,
//! the other region's endpoint, when to retry. And a client that gives up
//! on a request stream midway leaves nothing half done behind.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use cairn_core::reason::{self, info_key};
use cairn_core::{RETRY_AFTER_METADATA, Reason, Region};
use cairn_e2e::{Cluster, authed, backends};
use cairn_entity::regional::pack;
use cairn_proto::accounts::v1::{
    LoginRequest, SignUpRequest, accounts_service_client::AccountsServiceClient,
};
use cairn_proto::backup::v1::{
    ChunkIds, ChunkRecord, CommitSnapshotRequest, ListSnapshotsRequest, PackHeader, SnapshotHeader,
    UploadPackRequest, commit_snapshot_request, upload_pack_request,
};
use cairn_proto::orgs::v1::{
    EnrollAgentRequest, RevokeAgentRequest, orgs_service_client::OrgsServiceClient,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tonic::Code;

fn signup(country: &str, email: &str) -> SignUpRequest {
    SignUpRequest {
        company_name: "Kilo".into(),
        industry: "Retail".into(),
        employees: 12,
        country: country.into(),
        owner_name: "Kim Kilo".into(),
        email: email.into(),
        password: "correct horse battery".into(),
        seats: 1,
        phone: "+1 (555) 010-0300".into(),
        owner_title: "Director".into(),
        city: "Cork".into(),
        state: String::new(),
        postal_code: "T12 X70A".into(),
        username: "kim".into(),
        age_confirmed: true,
    }
}

/// The status's code and its reason, both as expected.
#[track_caller]
fn assert_reason(status: &tonic::Status, code: Code, reason: Reason) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(Reason::of(status), Some(reason), "{status:?}");
}

fn pack(body: &[u8]) -> Vec<UploadPackRequest> {
    vec![
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Header(PackHeader {
                pack_id: blake3::hash(body).as_bytes().to_vec(),
                size: body.len() as u64,
                chunks: vec![ChunkRecord {
                    id: vec![9; 32],
                    offset: 0,
                    length: body.len() as u32,
                    raw_length: body.len() as u32,
                }],
            })),
        },
        UploadPackRequest {
            part: Some(upload_pack_request::Part::Data(body.to_vec().into())),
        },
    ]
}

fn commit(ids: Vec<Vec<u8>>) -> Vec<CommitSnapshotRequest> {
    vec![
        CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::Header(SnapshotHeader {
                tree_id: vec![7; 32],
                hostname: "kilo-1".into(),
                paths: vec!["/data".into()],
                ..SnapshotHeader::default()
            })),
        },
        CommitSnapshotRequest {
            part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds { ids })),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_a_reason_and_what_to_act_on() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let mut eu = AccountsServiceClient::new(cluster.channel(Region::Eu).await);

        // A bad field is named in the reason's metadata.
        let status = eu
            .sign_up(SignUpRequest {
                employees: 0,
                ..signup("IE", "k@kilo.ie")
            })
            .await
            .unwrap_err();
        assert_reason(&status, Code::InvalidArgument, Reason::InvalidArgument);
        assert_eq!(reason::field(&status).as_deref(), Some("employees"));

        // A US company at the eu cell: sent to the us cell's endpoint.
        let status = eu.sign_up(signup("US", "k@kilo.com")).await.unwrap_err();
        assert_reason(&status, Code::FailedPrecondition, Reason::WrongRegion);
        assert_eq!(
            reason::info(&status, info_key::ENDPOINT),
            Some(cluster.cell_endpoint(Region::Us))
        );
        assert_eq!(
            reason::info(&status, info_key::REGION).as_deref(),
            Some("us")
        );

        // The only seat is held: the next machine is told so.
        let (session, _) = cluster.signup("Kilo", "IE", "k@kilo.ie", 1).await;
        let state = cluster.enroll(&session, "kilo-1").await;
        let state = cairn_agent::AgentState::load(&state).unwrap();
        let mut backup = cairn_agent::AgentClient::connect(&state)
            .await
            .unwrap()
            .backup;
        let key = cluster
            .ctl(&session, &["enrollment-key", "create"])
            .await
            .unwrap();
        let mut orgs = OrgsServiceClient::new(cluster.channel(Region::Eu).await);
        let status = orgs
            .enroll_agent(EnrollAgentRequest {
                enrollment_key: key.trim().into(),
                hostname: "kilo-2".into(),
            })
            .await
            .unwrap_err();
        assert_reason(&status, Code::ResourceExhausted, Reason::NoSeatLeft);

        // Another company's machine is not found, whatever it is.
        let (_, _) = cluster.signup("Lima", "DE", "l@lima.de", 1).await;
        let lima = cluster.user_token(Region::Eu, "l@lima.de").await;
        let status = orgs
            .revoke_agent(authed(
                &lima,
                RevokeAgentRequest {
                    agent_id: state.agent_id.to_string(),
                },
            ))
            .await
            .unwrap_err();
        assert_reason(&status, Code::NotFound, Reason::NotFound);
        assert_eq!(
            reason::info(&status, info_key::KIND).as_deref(),
            Some("agent")
        );

        // A snapshot naming a chunk the company does not hold.
        let status = backup
            .commit_snapshot(futures::stream::iter(commit(vec![vec![6; 32]])))
            .await
            .unwrap_err();
        assert_reason(&status, Code::InvalidArgument, Reason::ChunksNotStored);
        assert_eq!(reason::field(&status).as_deref(), Some("chunk_ids"));
        // The tree (all sevens) is lacking too; the lowest id comes first.
        assert_eq!(
            reason::info(&status, info_key::FIRST),
            Some("06".repeat(32))
        );

        // A quota below one pack: the upload is refused as over quota.
        cluster
            .ctl(&session, &["company", "quota", "1"])
            .await
            .unwrap();
        let status = backup
            .upload_pack(futures::stream::iter(pack(&[1u8; 100])))
            .await
            .unwrap_err();
        assert_reason(&status, Code::ResourceExhausted, Reason::QuotaExceeded);

        // Failed logins lock the login; the answer says when to retry.
        let login = |password: &str| LoginRequest {
            email: "k@kilo.ie".into(),
            password: password.into(),
        };
        for _ in 0..4 {
            let status = eu.login(login("not the password")).await.unwrap_err();
            assert_reason(&status, Code::Unauthenticated, Reason::Unauthenticated);
        }
        // The fifth failure locks it; even the right password waits.
        eu.login(login("not the password")).await.unwrap_err();
        let status = eu.login(login("correct horse battery")).await.unwrap_err();
        assert_reason(&status, Code::ResourceExhausted, Reason::RateLimited);
        let header: u64 = status
            .metadata()
            .get(RETRY_AFTER_METADATA)
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            reason::retry_delay(&status),
            Some(Duration::from_secs(header))
        );
        cluster.stop().await;
    }
}

/// A request stream of `messages` that then stays open, and a signal that
/// fires once the client has taken them all.
fn stalling<T: Send + 'static>(
    messages: Vec<T>,
) -> (
    impl futures::Stream<Item = T> + Send + 'static,
    tokio::sync::oneshot::Receiver<()>,
) {
    let (taken_tx, taken) = tokio::sync::oneshot::channel();
    let mut taken_tx = Some(taken_tx);
    let tail = futures::stream::poll_fn(move |_| {
        if let Some(tx) = taken_tx.take() {
            let _ = tx.send(());
        }
        std::task::Poll::Pending
    });
    (
        futures::StreamExt::chain(futures::stream::iter(messages), tail),
        taken,
    )
}

/// Gives up on `call` once its stream's messages are taken: the transport
/// resets the stream midway, as for a client that is stopped or cancelled.
async fn give_up(
    call: tokio::task::JoinHandle<Result<(), tonic::Status>>,
    taken: tokio::sync::oneshot::Receiver<()>,
) {
    taken.await.unwrap();
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_given_up_midway_leaves_nothing_half_done() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, company) = cluster.signup("Mike", "US", "m@mike.com", 1).await;
        let state = cluster.enroll(&session, "mike-1").await;
        let data = cluster.path("mike-data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("ledger.csv"), "date,amount\n").unwrap();
        cluster
            .agent(&state, &["backup", data.to_str().unwrap()])
            .await
            .unwrap();
        let state = cairn_agent::AgentState::load(&state).unwrap();
        let client = cairn_agent::AgentClient::connect(&state)
            .await
            .unwrap()
            .backup;
        let snapshots = |mut backup: cairn_agent::Backup| async move {
            backup
                .list_snapshots(ListSnapshotsRequest::default())
                .await
                .unwrap()
                .into_inner()
                .snapshots
        };
        let before = snapshots(client.clone()).await;
        assert_eq!(before.len(), 1);
        let db = cluster.cell_db(Region::Us).await;
        let packs = || async {
            pack::Entity::find()
                .filter(pack::Column::CompanyId.eq(uuid::Uuid::parse_str(&company).unwrap()))
                .count(&db)
                .await
                .unwrap()
        };
        let packs_before = packs().await;

        // Half a pack, then the client goes away: nothing is indexed.
        let mut half = pack(&[3u8; 100]);
        if let Some(upload_pack_request::Part::Data(data)) = &mut half[1].part {
            *data = data.slice(..50);
        }
        let (stream, taken) = stalling(half);
        let mut backup = client.clone();
        let call = tokio::spawn(async move { backup.upload_pack(stream).await.map(|_| ()) });
        give_up(call, taken).await;

        // A commit whose stream, ended there, would make a valid snapshot
        // (its tree is stored), then the client goes away: nothing is
        // committed.
        let mut header = commit(vec![]);
        if let Some(commit_snapshot_request::Part::Header(h)) = &mut header[0].part {
            h.tree_id = before[0].tree_id.clone();
        }
        let (stream, taken) = stalling(header);
        let mut backup = client.clone();
        let call = tokio::spawn(async move { backup.commit_snapshot(stream).await.map(|_| ()) });
        give_up(call, taken).await;

        // The server goes on serving the same client, and holds nothing of
        // either call.
        let after = snapshots(client.clone()).await;
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!(packs().await, packs_before);
        cluster.stop().await;
    }
}

/// Answers the gRPC library makes itself (a method this listener does not
/// serve, a request larger than it accepts) carry a reason like Cairn's own.
#[tokio::test]
async fn answers_the_library_makes_carry_a_reason_too() {
    use cairn_proto::directory::v1::{
        ListCellsRequest, directory_service_client::DirectoryServiceClient,
    };
    let backend = backends().into_iter().next().unwrap();
    let cluster = Cluster::start(backend).await;

    // A cell's listener serves no directory.
    let mut not_here = DirectoryServiceClient::new(cluster.channel(Region::Us).await);
    let status = not_here.list_cells(ListCellsRequest {}).await.unwrap_err();
    assert_reason(&status, Code::Unimplemented, Reason::Unimplemented);

    // A login of 5 MiB is past what the accounts service decodes.
    let mut accounts = AccountsServiceClient::new(cluster.channel(Region::Us).await);
    let status = accounts
        .login(LoginRequest {
            email: "x".repeat(5 << 20),
            password: "p".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(Reason::of(&status), Some(Reason::for_code(status.code())));
    assert_ne!(Reason::of(&status), Some(Reason::Internal), "{status:?}");

    cluster.stop().await;
}
