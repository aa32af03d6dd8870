//! Bad input and refused calls get the right status, naming what was wrong,
//! and never touch data: sign-up validation, wrong region, duplicate logins,
//! wrong passwords, missing tokens, seats, enrollment keys, malformed packs.

#![allow(clippy::unwrap_used)]

use cairn_core::{REGION_ENDPOINT_METADATA, Region};
use cairn_e2e::{Cluster, authed, backends, code_of};
use cairn_proto::accounts::v1::{
    LoginRequest, SignUpRequest, accounts_service_client::AccountsServiceClient,
};
use cairn_proto::backup::v1::{
    ChunkIds, ChunkRecord, CommitSnapshotRequest, FindMissingChunksRequest, ListSnapshotsRequest,
    PackHeader, SnapshotHeader, UploadPackRequest, backup_service_client::BackupServiceClient,
    commit_snapshot_request, upload_pack_request,
};
use cairn_proto::orgs::v1::{
    CreateEnrollmentKeyRequest, EnrollAgentRequest, GetCompanyRequest, RevokeAgentRequest,
    orgs_service_client::OrgsServiceClient,
};

fn signup(country: &str, email: &str) -> SignUpRequest {
    SignUpRequest {
        company_name: "Gamma".into(),
        industry: "Retail".into(),
        employees: 40,
        country: country.into(),
        owner_name: "Gale Gamma".into(),
        email: email.into(),
        password: "correct horse battery".into(),
        seats: 1,
        phone: "+1 (555) 010-0200".into(),
        owner_title: "Director".into(),
        city: "Galway".into(),
        state: String::new(),
        postal_code: "H91 E2K3".into(),
        username: "gale".into(),
        age_confirmed: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_and_login_refuse_bad_input_by_name() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let mut eu = AccountsServiceClient::new(cluster.channel(Region::Eu).await);
        let cases: Vec<(SignUpRequest, &str)> = vec![
            (
                SignUpRequest {
                    company_name: " ".into(),
                    ..signup("IE", "x@g.ie")
                },
                "company_name",
            ),
            (
                SignUpRequest {
                    employees: 0,
                    ..signup("IE", "x@g.ie")
                },
                "employees",
            ),
            (
                SignUpRequest {
                    employees: -3,
                    ..signup("IE", "x@g.ie")
                },
                "employees",
            ),
            (
                SignUpRequest {
                    country: "XX".into(),
                    ..signup("IE", "x@g.ie")
                },
                "country",
            ),
            (signup("IE", "not an email"), "email"),
            (
                SignUpRequest {
                    password: "short".into(),
                    ..signup("IE", "x@g.ie")
                },
                "password",
            ),
            (
                SignUpRequest {
                    seats: 0,
                    ..signup("IE", "x@g.ie")
                },
                "seats",
            ),
        ];
        for (request, field) in cases {
            let status = eu.sign_up(request).await.unwrap_err();
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "{field}: {status:?}"
            );
            assert!(
                status.message().contains(field),
                "{field}: {}",
                status.message()
            );
        }

        // A US company at the eu cell is sent to the us cell.
        let status = eu.sign_up(signup("US", "x@g.com")).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition);
        assert_eq!(
            status
                .metadata()
                .get(REGION_ENDPOINT_METADATA)
                .unwrap()
                .to_str()
                .unwrap(),
            cluster.cell_endpoint(Region::Us)
        );

        // One login across all regions.
        let mut us = AccountsServiceClient::new(cluster.channel(Region::Us).await);
        us.sign_up(signup("US", "same@g.com")).await.unwrap();
        assert_eq!(
            code_of(eu.sign_up(signup("IE", "Same@G.com")).await),
            tonic::Code::AlreadyExists
        );

        let login = |email: &str, password: &str| LoginRequest {
            email: email.into(),
            password: password.into(),
        };
        assert_eq!(
            code_of(us.login(login("same@g.com", "wrong password!")).await),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            code_of(
                us.login(login("nobody@g.com", "correct horse battery"))
                    .await
            ),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            code_of(us.login(login("", "")).await),
            tonic::Code::Unauthenticated
        );
        us.login(login("same@g.com", "correct horse battery"))
            .await
            .unwrap();

        // No token, or a forged one: nothing is read.
        let mut orgs = OrgsServiceClient::new(cluster.channel(Region::Us).await);
        assert_eq!(
            code_of(orgs.get_company(GetCompanyRequest {}).await),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            code_of(
                orgs.get_company(authed("eyJhbGciOiJub25lIn0.e30.", GetCompanyRequest {}))
                    .await
            ),
            tonic::Code::Unauthenticated
        );
        let mut backup = BackupServiceClient::new(cluster.channel(Region::Us).await);
        assert_eq!(
            code_of(
                backup
                    .list_snapshots(authed("garbage", ListSnapshotsRequest::default()))
                    .await
            ),
            tonic::Code::Unauthenticated
        );
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_and_enrollment_keys() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, _) = cluster.signup("Delta", "FR", "d@delta.fr", 1).await;
        let first = cluster.enroll(&session, "delta-1").await;

        // The only seat is taken: the next machine is refused, saying why.
        let key = cluster
            .ctl(&session, &["enrollment-key", "create"])
            .await
            .unwrap();
        let err = cluster
            .agent(
                &cluster.path("delta-2.agent"),
                &["enroll", "--key", key.trim()],
            )
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("no seat left"), "{err:#}");
        let mut orgs = OrgsServiceClient::new(cluster.channel(Region::Eu).await);
        let status = orgs
            .enroll_agent(EnrollAgentRequest {
                enrollment_key: key.trim().into(),
                hostname: "delta-2".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(
            status.message().contains("1 of 1 seats"),
            "{}",
            status.message()
        );

        // Revoking the first agent frees its seat and kills its credential.
        let agent_id = cairn_agent::AgentState::load(&first)
            .unwrap()
            .agent_id
            .to_string();
        let token = cluster.user_token(Region::Eu, "d@delta.fr").await;
        orgs.revoke_agent(authed(&token, RevokeAgentRequest { agent_id }))
            .await
            .unwrap();
        let err = cluster.agent(&first, &["snapshots"]).await.unwrap_err();
        assert!(format!("{err:#}").contains("revoked"), "{err:#}");
        orgs.enroll_agent(EnrollAgentRequest {
            enrollment_key: key.trim().into(),
            hostname: "delta-2".into(),
        })
        .await
        .unwrap();

        // A key works once; a malformed one is named.
        let status = orgs
            .enroll_agent(EnrollAgentRequest {
                enrollment_key: key.trim().into(),
                hostname: "delta-3".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        let status = orgs
            .enroll_agent(EnrollAgentRequest {
                enrollment_key: "eu-nope".into(),
                hostname: "x".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("enrollment_key"));
        let status = orgs
            .create_enrollment_key(authed(
                &token,
                CreateEnrollmentKeyRequest {
                    ttl_hours: 100_000,
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert!(status.message().contains("ttl_hours"));
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packs_and_snapshots_are_refused() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let (session, company) = cluster.signup("Echo", "US", "e@echo.com", 2).await;
        let mut client = cluster.backup_client(&session, "echo-1").await;

        let upload = |header: PackHeader, body: Vec<u8>| {
            futures::stream::iter(vec![
                UploadPackRequest {
                    part: Some(upload_pack_request::Part::Header(header)),
                },
                UploadPackRequest {
                    part: Some(upload_pack_request::Part::Data(body.into())),
                },
            ])
        };
        let record = |offset, length| ChunkRecord {
            id: vec![9; 32],
            offset,
            length,
            raw_length: length,
        };
        let body = vec![1u8; 100];
        let good_id = blake3::hash(&body).as_bytes().to_vec();

        let status = client
            .upload_pack(upload(
                PackHeader {
                    pack_id: vec![0; 32],
                    size: 100,
                    chunks: vec![record(0, 100)],
                },
                body.clone(),
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("pack_id"), "{}", status.message());

        // A record larger than any chunk the engine makes, by its claimed
        // plaintext or by its stored length: refused, naming the record.
        for (raw_length, says) in [
            (cairn_engine::MAX_BLOB_SIZE as u32 + 1, "raw_length"),
            (4, "sealing 4"),
        ] {
            let status = client
                .upload_pack(upload(
                    PackHeader {
                        pack_id: Vec::new(),
                        size: 100,
                        chunks: vec![ChunkRecord {
                            raw_length,
                            ..record(0, 100)
                        }],
                    },
                    body.clone(),
                ))
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert!(
                status.message().contains("pack record 0"),
                "{}",
                status.message()
            );
            assert!(status.message().contains(says), "{}", status.message());
        }

        let overlapping = vec![
            record(0, 60),
            ChunkRecord {
                id: vec![8; 32],
                ..record(50, 50)
            },
        ];
        let status = client
            .upload_pack(upload(
                PackHeader {
                    pack_id: good_id.clone(),
                    size: 100,
                    chunks: overlapping,
                },
                body.clone(),
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("header.chunks"),
            "{}",
            status.message()
        );

        let status = client
            .upload_pack(upload(
                PackHeader {
                    pack_id: good_id.clone(),
                    size: 100,
                    chunks: vec![record(0, 100)],
                },
                vec![1; 50],
            ))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        // Refused packs leave nothing in the bucket, stored or staged.
        let (mut files, mut dirs) = (Vec::new(), vec![cluster.bucket_dir(Region::Us)]);
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        assert!(files.is_empty(), "{files:?}");

        let status = client
            .find_missing_chunks(FindMissingChunksRequest {
                chunk_ids: vec![vec![1; 31]],
                digests: Vec::new(),
            })
            .await
            .unwrap_err();
        assert!(
            status.message().contains("chunk_ids"),
            "{}",
            status.message()
        );

        // A snapshot may reference only chunks the company holds.
        let commit = futures::stream::iter(vec![
            CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::Header(SnapshotHeader {
                    tree_id: vec![7; 32],
                    hostname: "echo-1".into(),
                    paths: vec!["/data".into()],
                    ..SnapshotHeader::default()
                })),
            },
            CommitSnapshotRequest {
                part: Some(commit_snapshot_request::Part::ChunkIds(ChunkIds {
                    ids: vec![vec![6; 32]],
                })),
            },
        ]);
        let status = client.commit_snapshot(commit).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("not stored for this company"),
            "{}",
            status.message()
        );

        // Users do not upload; only enrolled agents do.
        let token = cluster.user_token(Region::Us, "e@echo.com").await;
        let status = BackupServiceClient::new(cluster.channel(Region::Us).await)
            .find_missing_chunks(authed(&token, FindMissingChunksRequest::default()))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);

        // Nothing of it was stored.
        assert_eq!(cluster.company_objects(Region::Us, &company).await, (0, 0));
        cluster.stop().await;
    }
}
