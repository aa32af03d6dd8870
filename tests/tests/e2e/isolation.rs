//! Tenant isolation: a company never sees, restores or deletes another
//! company's snapshots, agents or chunks (NOT_FOUND), and a token used at the
//! wrong region's cell is sent to its own (FAILED_PRECONDITION + endpoint).

#![allow(clippy::unwrap_used)]

use std::fs;

use cairn_core::{REGION_ENDPOINT_METADATA, Region};
use cairn_e2e::{Cluster, authed, backends, code_of};
use cairn_proto::backup::v1::{
    DeleteSnapshotRequest, GetSnapshotRequest, ListSnapshotsRequest, ReadChunksRequest,
    backup_service_client::BackupServiceClient,
};
use cairn_proto::orgs::v1::{RevokeAgentRequest, orgs_service_client::OrgsServiceClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_companys_objects_are_not_found() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        // Two companies in the same cell: Ireland and Germany both live in eu.
        let (a_session, _) = cluster.signup("Alpha", "IE", "a@alpha.ie", 2).await;
        let (b_session, _) = cluster.signup("Beta", "DE", "b@beta.de", 2).await;
        let a_agent = cluster.enroll(&a_session, "alpha-pc").await;
        let b_agent = cluster.enroll(&b_session, "beta-pc").await;

        let data = cluster.path("alpha-data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("payroll.csv"), "name,salary\n").unwrap();
        let out = cluster
            .agent(&a_agent, &["backup", data.to_str().unwrap()])
            .await
            .unwrap();
        let a_snapshot = out.split_whitespace().nth(1).unwrap().to_owned();
        let a_state = cairn_agent::AgentState::load(&a_agent).unwrap();

        // B's agent and B's owner, each with a valid token of their own.
        let b_state = cairn_agent::AgentState::load(&b_agent).unwrap();
        let b_agent_client = cairn_agent::AgentClient::connect(&b_state)
            .await
            .unwrap()
            .backup;
        let b_owner = cluster.user_token(Region::Eu, "b@beta.de").await;
        let channel = cluster.channel(Region::Eu).await;

        let mut a_client = cairn_agent::AgentClient::connect(&a_state)
            .await
            .unwrap()
            .backup;
        let tree = a_client
            .get_snapshot(GetSnapshotRequest {
                snapshot_id: a_snapshot.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .snapshot
            .unwrap()
            .tree_id;

        let mut b = b_agent_client.clone();
        assert_eq!(
            code_of(
                b.get_snapshot(GetSnapshotRequest {
                    snapshot_id: a_snapshot.clone()
                })
                .await
            ),
            tonic::Code::NotFound
        );
        // A machine deletes no snapshot at all, its own or another's.
        assert_eq!(
            code_of(
                b.delete_snapshot(DeleteSnapshotRequest {
                    snapshot_id: a_snapshot.clone()
                })
                .await
            ),
            tonic::Code::PermissionDenied
        );
        assert_eq!(
            code_of(
                b.read_chunks(ReadChunksRequest {
                    chunk_ids: vec![tree.clone()],
                    snapshot_id: a_snapshot.clone(),
                })
                .await
            ),
            tonic::Code::NotFound
        );
        assert_eq!(
            code_of(
                b.list_snapshots(ListSnapshotsRequest {
                    agent_id: a_state.agent_id.to_string()
                })
                .await
            ),
            tonic::Code::NotFound
        );
        let listed = b
            .list_snapshots(ListSnapshotsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .snapshots;
        assert!(listed.is_empty(), "B lists A's snapshots: {listed:?}");

        let mut b_user = BackupServiceClient::new(channel.clone());
        assert_eq!(
            code_of(
                b_user
                    .get_snapshot(authed(
                        &b_owner,
                        GetSnapshotRequest {
                            snapshot_id: a_snapshot.clone()
                        }
                    ))
                    .await
            ),
            tonic::Code::NotFound
        );
        assert_eq!(
            code_of(
                b_user
                    .delete_snapshot(authed(
                        &b_owner,
                        DeleteSnapshotRequest {
                            snapshot_id: a_snapshot.clone()
                        }
                    ))
                    .await
            ),
            tonic::Code::NotFound
        );
        assert_eq!(
            code_of(
                OrgsServiceClient::new(channel.clone())
                    .revoke_agent(authed(
                        &b_owner,
                        RevokeAgentRequest {
                            agent_id: a_state.agent_id.to_string()
                        }
                    ))
                    .await
            ),
            tonic::Code::NotFound
        );

        // The restore command of B's agent cannot fetch A's snapshot either.
        let err = cluster
            .agent(
                &b_agent,
                &[
                    "restore",
                    &a_snapshot,
                    "--target",
                    cluster.path("stolen").to_str().unwrap(),
                ],
            )
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("not found"), "{err:#}");

        // A still has everything.
        let target = cluster.path("alpha-restore");
        cluster
            .agent(
                &a_agent,
                &["restore", &a_snapshot, "--target", target.to_str().unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(
            fs::read(target.join("alpha-data/payroll.csv")).unwrap(),
            b"name,salary\n"
        );

        // An eu token at the us cell is redirected to eu.
        let status = BackupServiceClient::new(cluster.channel(Region::Us).await)
            .list_snapshots(authed(&b_owner, ListSnapshotsRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(
            status
                .metadata()
                .get(REGION_ENDPOINT_METADATA)
                .unwrap()
                .to_str()
                .unwrap(),
            cluster.cell_endpoint(Region::Eu)
        );
        cluster.stop().await;
    }
}
