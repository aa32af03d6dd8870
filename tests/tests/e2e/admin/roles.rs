//! The role matrix: every administration call as owner, admin, member,
//! another company's owner and an agent, each with its expected code.

use tonic::Code;

use cairn_core::Region;
use cairn_e2e::{Cluster, authed, backends};
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

use super::{code, invite};

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
