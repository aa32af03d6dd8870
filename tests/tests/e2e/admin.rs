//! Company administration: the role matrix, invitations, groups and their
//! policies (an excluded *.mp3 stays out of the snapshot), quotas refusing an
//! upload mid-backup with nothing partial committed, usage matching the
//! bucket, idle-agent alerts sent exactly once, and the agent daemon
//! following a changed policy at its next check-in.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

use cairn_core::Region;
use cairn_e2e::{Cluster, authed, backends, noise};
use cairn_entity::regional::agent;
use cairn_proto::accounts::v1::users_service_client::UsersServiceClient;
use cairn_proto::accounts::v1::{
    ChangeUserRoleRequest, InviteUserRequest, ListUsersRequest, MemberBackups, RemoveUserRequest,
};
use cairn_proto::backup::v1::DeleteSnapshotRequest;
use cairn_proto::backup::v1::backup_service_client::BackupServiceClient;
use cairn_proto::orgs::v1::orgs_service_client::OrgsServiceClient;
use cairn_proto::orgs::v1::{
    CreateEnrollmentKeyRequest, CreateGroupRequest, DeleteGroupRequest, GetCompanyRequest,
    GetUsageRequest, ListAgentsRequest, ListEmployeeCountsRequest, ListEnrollmentKeysRequest,
    ListGroupsRequest, MoveAgentRequest, Policy, RenameAgentRequest, RevokeAgentRequest,
    RevokeEnrollmentKeyRequest, SetQuotaRequest, SetSeatsRequest, UpdateCompanyRequest,
    UpdateGroupRequest,
};

const PASSWORD: &str = "correct horse battery";

/// Invites `email` as `role`, accepts the mailed invitation, logs in.
async fn invite(
    cluster: &Cluster,
    owner: &Path,
    region: Region,
    email: &str,
    role: &str,
) -> std::path::PathBuf {
    cluster
        .ctl(owner, &["users", "invite", email, "--role", role])
        .await
        .unwrap();
    let code = cluster
        .mailed_code(region, email, "Rolly invites you")
        .await;
    let session = cluster.path(&format!("{email}.session"));
    let username = email.split('@').next().unwrap();
    let accepted = cluster
        .ctl(
            &session,
            &[
                "invitation",
                "accept",
                "--code",
                &code,
                "--name",
                "Invited Person",
                "--username",
                username,
                "--password",
                PASSWORD,
                "--i-am-13-or-older",
            ],
        )
        .await
        .unwrap();
    assert!(accepted.contains("account"), "{accepted}");
    // The code is spent.
    let again = cluster
        .ctl(
            &session,
            &[
                "invitation",
                "accept",
                "--code",
                &code,
                "--name",
                "Someone Else",
                "--username",
                "other",
                "--password",
                PASSWORD,
                "--i-am-13-or-older",
            ],
        )
        .await
        .unwrap_err();
    assert!(
        format!("{again:#}").contains("FailedPrecondition"),
        "{again:#}"
    );
    cluster
        .ctl(
            &session,
            &["login", "--email", email, "--password", PASSWORD],
        )
        .await
        .unwrap();
    session
}

fn code<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced_on_every_admin_call() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        let region = Region::Us;
        let (owner, _) = cluster.signup("Rolly", "US", "owner@rolly.com", 5).await;
        invite(&cluster, &owner, region, "admin@rolly.com", "admin").await;
        let member = invite(&cluster, &owner, region, "member@rolly.com", "member").await;
        cluster.enroll(&owner, "owner-laptop").await;
        cluster.enroll(&member, "member-laptop").await;

        let tokens = [
            ("owner", cluster.user_token(region, "owner@rolly.com").await),
            ("admin", cluster.user_token(region, "admin@rolly.com").await),
            (
                "member",
                cluster.user_token(region, "member@rolly.com").await,
            ),
        ];
        let channel = cluster.channel(region).await;
        let mut orgs = OrgsServiceClient::new(channel.clone());
        let mut users = UsersServiceClient::new(channel.clone());
        let mut backup = BackupServiceClient::new(channel.clone());
        let owner_token = &tokens[0].1;
        let agents = orgs
            .list_agents(authed(owner_token, ListAgentsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .agents;
        assert_eq!(agents.len(), 2);
        let owner_agent = agents
            .iter()
            .find(|a| a.hostname == "owner-laptop")
            .unwrap();
        assert_eq!(owner_agent.owner_email, "owner@rolly.com");
        let listed = users
            .list_users(authed(owner_token, ListUsersRequest {}))
            .await
            .unwrap()
            .into_inner()
            .users;
        let id_of = |email: &str| {
            listed
                .iter()
                .find(|u| u.email == email)
                .unwrap()
                .user_id
                .clone()
        };
        let (owner_id, member_id) = (id_of("owner@rolly.com"), id_of("member@rolly.com"));
        let groups = orgs
            .list_groups(authed(owner_token, ListGroupsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .groups;
        let default_group = groups
            .iter()
            .find(|g| g.is_default)
            .unwrap()
            .group_id
            .clone();
        // Listed in one pass: each agent with its owner and its group.
        for agent in &agents {
            assert_eq!(agent.group_id, default_group, "{agent:?}");
            assert_eq!(agent.group_name, "Default", "{agent:?}");
        }
        let member_agent = agents
            .iter()
            .find(|a| a.hostname == "member-laptop")
            .unwrap();
        assert_eq!(member_agent.owner_email, "member@rolly.com");
        assert_eq!(member_agent.owner_user_id, member_id);
        let unknown = uuid::Uuid::now_v7().to_string();

        // Expected codes for owner, admin, member.
        use Code::{InvalidArgument as Inv, NotFound as Nf, Ok as Yes, PermissionDenied as No};
        for (i, (role, token)) in tokens.iter().enumerate() {
            let t = token.as_str();
            let mut got: Vec<(&str, Code, [Code; 3])> = Vec::new();
            macro_rules! check {
                ($name:expr, $call:expr, $expected:expr) => {
                    got.push(($name, code($call.await), $expected));
                };
            }
            check!(
                "GetCompany",
                orgs.get_company(authed(t, GetCompanyRequest {})),
                [Yes, Yes, Yes]
            );
            check!(
                "UpdateCompany",
                orgs.update_company(authed(
                    t,
                    UpdateCompanyRequest {
                        city: Some("Dayton".into()),
                        ..Default::default()
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "ListEmployeeCounts",
                orgs.list_employee_counts(authed(t, ListEmployeeCountsRequest {})),
                [Yes, Yes, No]
            );
            check!(
                "SetSeats",
                orgs.set_seats(authed(t, SetSeatsRequest { seats: 6 })),
                [Yes, No, No]
            );
            check!(
                "SetQuota",
                orgs.set_quota(authed(t, SetQuotaRequest { quota_bytes: 0 })),
                [Yes, No, No]
            );
            check!(
                "CreateEnrollmentKey (own machine)",
                orgs.create_enrollment_key(authed(t, CreateEnrollmentKeyRequest::default())),
                [Yes, Yes, Yes]
            );
            check!(
                "ListEnrollmentKeys",
                orgs.list_enrollment_keys(authed(t, ListEnrollmentKeysRequest {})),
                [Yes, Yes, Yes]
            );
            check!(
                "RevokeEnrollmentKey (unknown)",
                orgs.revoke_enrollment_key(authed(
                    t,
                    RevokeEnrollmentKeyRequest {
                        key_id: unknown.clone()
                    }
                )),
                [Nf, Nf, Nf]
            );
            check!(
                "RemoveUser (no choice for the backups)",
                users.remove_user(authed(
                    t,
                    RemoveUserRequest {
                        user_id: member_id.clone(),
                        backups: MemberBackups::Unspecified as i32,
                    }
                )),
                [Inv, Inv, No]
            );
            check!(
                "CreateEnrollmentKey (the owner's machine)",
                orgs.create_enrollment_key(authed(
                    t,
                    CreateEnrollmentKeyRequest {
                        owner_user_id: owner_id.clone(),
                        ..Default::default()
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "ListAgents",
                orgs.list_agents(authed(t, ListAgentsRequest {})),
                [Yes, Yes, Yes]
            );
            check!(
                "RevokeAgent",
                orgs.revoke_agent(authed(
                    t,
                    RevokeAgentRequest {
                        agent_id: unknown.clone()
                    }
                )),
                [Nf, Nf, No]
            );
            check!(
                "RenameAgent",
                orgs.rename_agent(authed(
                    t,
                    RenameAgentRequest {
                        agent_id: owner_agent.agent_id.clone(),
                        hostname: format!("laptop-{role}"),
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "MoveAgent",
                orgs.move_agent(authed(
                    t,
                    MoveAgentRequest {
                        agent_id: owner_agent.agent_id.clone(),
                        group_id: default_group.clone(),
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "ListGroups",
                orgs.list_groups(authed(t, ListGroupsRequest {})),
                [Yes, Yes, Yes]
            );
            check!(
                "CreateGroup",
                orgs.create_group(authed(
                    t,
                    CreateGroupRequest {
                        name: format!("Team {role}"),
                        ..Default::default()
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "UpdateGroup",
                orgs.update_group(authed(
                    t,
                    UpdateGroupRequest {
                        group_id: default_group.clone(),
                        quota_bytes: Some(0),
                        ..Default::default()
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "DeleteGroup",
                orgs.delete_group(authed(
                    t,
                    DeleteGroupRequest {
                        group_id: unknown.clone()
                    }
                )),
                [Nf, Nf, No]
            );
            check!(
                "GetUsage",
                orgs.get_usage(authed(t, GetUsageRequest::default())),
                [Yes, Yes, No]
            );
            check!(
                "ListUsers",
                users.list_users(authed(t, ListUsersRequest {})),
                [Yes, Yes, No]
            );
            check!(
                "InviteUser (member)",
                users.invite_user(authed(
                    t,
                    InviteUserRequest {
                        email: format!("new-{role}@rolly.com"),
                        role: "member".into(),
                        group_id: String::new(),
                    }
                )),
                [Yes, Yes, No]
            );
            check!(
                "InviteUser (admin)",
                users.invite_user(authed(
                    t,
                    InviteUserRequest {
                        email: format!("boss-{role}@rolly.com"),
                        role: "admin".into(),
                        group_id: String::new(),
                    }
                )),
                [Yes, No, No]
            );
            check!(
                "InviteUser (owner)",
                users.invite_user(authed(
                    t,
                    InviteUserRequest {
                        email: format!("owner2-{role}@rolly.com"),
                        role: "owner".into(),
                        group_id: String::new(),
                    }
                )),
                [Inv, Inv, No]
            );
            check!(
                "ChangeUserRole",
                users.change_user_role(authed(
                    t,
                    ChangeUserRoleRequest {
                        user_id: member_id.clone(),
                        role: "member".into(),
                    }
                )),
                [Yes, No, No]
            );
            check!(
                "RemoveUser (the owner)",
                users.remove_user(authed(
                    t,
                    RemoveUserRequest {
                        user_id: owner_id.clone(),
                        backups: MemberBackups::Keep as i32,
                    }
                )),
                [No, No, No]
            );
            check!(
                "DeleteSnapshot",
                backup.delete_snapshot(authed(
                    t,
                    DeleteSnapshotRequest {
                        snapshot_id: unknown.clone(),
                    }
                )),
                [Nf, Nf, No]
            );
            for (name, got, expected) in got {
                assert_eq!(got, expected[i], "{role} calling {name} on {backend:?}");
            }
        }

        // Members see their own machines only.
        let mine = orgs
            .list_agents(authed(&tokens[2].1, ListAgentsRequest {}))
            .await
            .unwrap()
            .into_inner()
            .agents;
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].hostname, "member-laptop");

        // Another company's admin gets NOT_FOUND for this company's user,
        // group and agent.
        let (other, _) = cluster.signup("Other", "US", "owner@other.com", 2).await;
        let _ = other;
        let stranger = cluster.user_token(region, "owner@other.com").await;
        let s = stranger.as_str();
        assert_eq!(
            code(
                users
                    .remove_user(authed(
                        s,
                        RemoveUserRequest {
                            user_id: member_id.clone(),
                            backups: MemberBackups::Keep as i32,
                        }
                    ))
                    .await
            ),
            Nf
        );
        assert_eq!(
            code(
                users
                    .change_user_role(authed(
                        s,
                        ChangeUserRoleRequest {
                            user_id: member_id.clone(),
                            role: "admin".into(),
                        }
                    ))
                    .await
            ),
            Nf
        );
        assert_eq!(
            code(
                orgs.update_group(authed(
                    s,
                    UpdateGroupRequest {
                        group_id: default_group.clone(),
                        name: Some("Mine".into()),
                        ..Default::default()
                    }
                ))
                .await
            ),
            Nf
        );
        assert_eq!(
            code(
                orgs.rename_agent(authed(
                    s,
                    RenameAgentRequest {
                        agent_id: owner_agent.agent_id.clone(),
                        hostname: "stolen".into(),
                    }
                ))
                .await
            ),
            Nf
        );

        // Bad input names its field.
        let mut bad = Policy {
            include_paths: vec!["~".into()],
            schedule: "sometimes".into(),
            keep_last: 3,
            ..Default::default()
        };
        let err = orgs
            .create_group(authed(
                owner_token,
                CreateGroupRequest {
                    name: "Bad".into(),
                    policy: Some(bad.clone()),
                    quota_bytes: 0,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Inv);
        assert!(
            err.message().contains("policy.schedule"),
            "{}",
            err.message()
        );
        bad.schedule = "daily 02:00".into();
        bad.exclude_patterns = vec!["[unclosed".into()];
        let err = orgs
            .create_group(authed(
                owner_token,
                CreateGroupRequest {
                    name: "Bad".into(),
                    policy: Some(bad),
                    quota_bytes: 0,
                },
            ))
            .await
            .unwrap_err();
        assert!(
            err.message().contains("policy.exclude_patterns"),
            "{}",
            err.message()
        );
        let err = orgs
            .create_group(authed(owner_token, CreateGroupRequest::default()))
            .await
            .unwrap_err();
        assert!(err.message().contains("name"), "{}", err.message());
        let err = orgs
            .set_quota(authed(owner_token, SetQuotaRequest { quota_bytes: -5 }))
            .await
            .unwrap_err();
        assert!(err.message().contains("quota_bytes"), "{}", err.message());

        // A removed member's token stops working at once.
        users
            .remove_user(authed(
                owner_token,
                RemoveUserRequest {
                    user_id: member_id.clone(),
                    backups: MemberBackups::Keep as i32,
                },
            ))
            .await
            .unwrap();
        let err = orgs
            .list_agents(authed(&tokens[2].1, ListAgentsRequest {}))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        cluster.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_quotas_and_usage() {
    for backend in backends() {
        let cluster = Cluster::start(backend).await;
        for (country, region, email) in [
            ("US", Region::Us, "it@tunes.com"),
            ("IE", Region::Eu, "it@tunes.ie"),
        ] {
            let (session, company) = cluster.signup("Tunes", country, email, 3).await;
            let created = cluster
                .ctl(
                    &session,
                    &[
                        "groups",
                        "create",
                        "No Music",
                        "--exclude",
                        "*.mp3",
                        "--schedule",
                        "daily 01:30",
                    ],
                )
                .await
                .unwrap();
            assert!(created.contains("*.mp3"), "{created}");
            let key = cluster
                .ctl(
                    &session,
                    &["enrollment-key", "create", "--group", "No Music"],
                )
                .await
                .unwrap();
            let state = cluster.path(&format!("tunes-{country}.agent"));
            cluster
                .agent(
                    &state,
                    &["enroll", "--key", key.trim(), "--hostname", "studio"],
                )
                .await
                .unwrap();

            // A *.mp3 exclusion keeps mp3 files (any case, any depth) out.
            let data = cluster.path(&format!("tunes-{country}"));
            std::fs::create_dir_all(data.join("sub")).unwrap();
            std::fs::write(data.join("song.mp3"), noise(50_000, 1)).unwrap();
            std::fs::write(data.join("LOUD.MP3"), noise(50_000, 2)).unwrap();
            std::fs::write(data.join("sub/deep.mp3"), noise(50_000, 3)).unwrap();
            std::fs::write(data.join("notes.txt"), noise(700_000, 4)).unwrap();
            std::fs::write(data.join("sub/report.doc"), noise(300_000, 5)).unwrap();
            let out = cluster
                .agent(&state, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();
            assert!(out.contains("2 files"), "{out}");
            let snapshot = out.split_whitespace().nth(1).unwrap().to_owned();
            let target = cluster.path(&format!("tunes-{country}-restored"));
            cluster
                .agent(
                    &state,
                    &["restore", &snapshot, "--target", target.to_str().unwrap()],
                )
                .await
                .unwrap();
            let name = data.file_name().unwrap();
            assert!(target.join(name).join("notes.txt").exists());
            assert!(target.join(name).join("sub/report.doc").exists());
            for gone in ["song.mp3", "LOUD.MP3", "sub/deep.mp3"] {
                assert!(
                    !target.join(name).join(gone).exists(),
                    "{gone} was backed up"
                );
            }

            // Usage matches what the bucket holds and what the snapshot protects.
            let csv = cluster.ctl(&session, &["usage", "--csv"]).await.unwrap();
            let today = csv.lines().last().unwrap().to_owned();
            let fields: Vec<&str> = today.split(',').collect();
            let (objects, bucket_bytes) = cluster.company_objects(region, &company).await;
            assert!(objects > 0);
            assert_eq!(fields[1], "1", "{csv}");
            assert_eq!(fields[2], "1000000", "{csv}");
            assert_eq!(fields[3], bucket_bytes.to_string(), "{csv}");
            let table = cluster.ctl(&session, &["usage"]).await.unwrap();
            assert!(table.contains("protected"), "{table}");
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            assert!(
                listed.contains("studio")
                    && listed.contains("group No Music")
                    && listed.contains("(ok)"),
                "{listed}"
            );

            // Quota at 95% of what is stored: the next upload raises one alert.
            let quota = bucket_bytes * 100 / 95;
            cluster
                .ctl(&session, &["company", "quota", &quota.to_string()])
                .await
                .unwrap();
            std::fs::write(data.join("small.txt"), b"a small new file").unwrap();
            cluster
                .agent(&state, &["backup", data.to_str().unwrap()])
                .await
                .unwrap();
            cluster
                .mailed_code_or_notice(region, email, "Cairn: Tunes has used")
                .await;

            // An upload past the quota is refused mid-backup: one pack fits,
            // a later one does not; no snapshot, nothing past the quota.
            let snapshots_before = cluster.agent(&state, &["snapshots"]).await.unwrap();
            let (_, stored) = cluster.company_objects(region, &company).await;
            let quota = stored + 25 * 1024 * 1024;
            cluster
                .ctl(&session, &["company", "quota", &quota.to_string()])
                .await
                .unwrap();
            std::fs::write(data.join("video.bin"), noise(60 * 1024 * 1024, 6)).unwrap();
            let err = cluster
                .agent(&state, &["backup", data.to_str().unwrap()])
                .await
                .unwrap_err();
            assert!(
                format!("{err:#}").contains("storage quota exceeded"),
                "{err:#}"
            );
            let snapshots_after = cluster.agent(&state, &["snapshots"]).await.unwrap();
            assert_eq!(snapshots_before, snapshots_after);
            let shown = cluster.ctl(&session, &["company"]).await.unwrap();
            assert!(shown.contains("storage"), "{shown}");
            let db = cluster.cell_db(region).await;
            let indexed: i64 = cairn_entity::regional::pack::Entity::find()
                .filter(
                    cairn_entity::regional::pack::Column::CompanyId
                        .eq(uuid::Uuid::parse_str(&company).unwrap()),
                )
                .all(&db)
                .await
                .unwrap()
                .iter()
                .map(|p| p.size)
                .sum();
            assert!(
                indexed as u64 > stored,
                "one pack of the failed run was kept"
            );
            assert!(indexed as u64 <= quota, "{indexed} > {quota}");
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            assert!(
                listed.contains("failed: storage quota exceeded"),
                "{listed}"
            );
            // The earlier snapshot still restores.
            let again = cluster.path(&format!("tunes-{country}-again"));
            cluster
                .agent(
                    &state,
                    &["restore", &snapshot, "--target", again.to_str().unwrap()],
                )
                .await
                .unwrap();
            assert_eq!(
                std::fs::read(again.join(name).join("notes.txt")).unwrap(),
                noise(700_000, 4)
            );
        }
        cluster.stop().await;
    }
}

fn mails_with(folder: &Path, to: &str, subject: &str) -> usize {
    std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter(|entry| {
            let text = std::fs::read_to_string(entry.as_ref().unwrap().path()).unwrap_or_default();
            text.contains(&format!("To: {to}")) && text.contains(&format!("Subject: {subject}"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_alert_once_and_daemon_follows_policy() {
    for backend in backends() {
        let cluster = Cluster::start_with(backend, |config| {
            for cell in config.cells.values_mut() {
                cell.maintenance_every_secs = Some(1);
            }
        })
        .await;
        let region = Region::Eu;
        let email = "ops@idle.ie";
        let (session, _) = cluster.signup("Idle", "IE", email, 3).await;
        let state = cluster.enroll(&session, "dusty").await;

        // Enrolled eight days ago and never backed up: one alert, however
        // many passes run.
        let db = cluster.cell_db(region).await;
        agent::Entity::update_many()
            .col_expr(
                agent::Column::EnrolledAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::days(8)),
            )
            .exec(&db)
            .await
            .unwrap();
        let subject = "Cairn: dusty has not backed up for 7 days";
        cluster.mailed_code_or_notice(region, email, subject).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let folder = cluster.config.cell_mail_folder(region);
        assert_eq!(mails_with(&folder, email, subject), 1);
        let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
        assert!(listed.contains("IDLE"), "{listed}");

        // The daemon backs up at once (never backed up), which ends the idle
        // spell, and applies a changed policy at its next check-in.
        let data = cluster.path("idle-data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("ledger.txt"), noise(10_000, 9)).unwrap();
        cluster
            .ctl(
                &session,
                &[
                    "groups",
                    "update",
                    "Default",
                    "--include",
                    data.to_str().unwrap(),
                    "--schedule",
                    "every 4h",
                ],
            )
            .await
            .unwrap();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let daemon_state = state.clone();
        let daemon = tokio::spawn(async move {
            let options = cairn_agent::daemon::DaemonOptions {
                check_in_every: Duration::from_secs(1),
                home: None,
            };
            cairn_agent::daemon::run(&daemon_state, options, stop_rx, &|_| {}).await
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            if listed.contains("(ok)") && !listed.contains("policy pending") {
                assert!(!listed.contains("IDLE"), "{listed}");
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{listed}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        cluster
            .ctl(
                &session,
                &["groups", "update", "Default", "--exclude", "*.log"],
            )
            .await
            .unwrap();
        let pending = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let listed = cluster.ctl(&session, &["agents", "list"]).await.unwrap();
            if !listed.contains("policy pending") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{pending} / {listed}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stop_tx.send(true).unwrap();
        let completed = daemon.await.unwrap().unwrap();
        assert_eq!(completed, 1, "one scheduled backup in the first four hours");
        assert_eq!(mails_with(&folder, email, subject), 1);
        cluster.stop().await;
    }
}
