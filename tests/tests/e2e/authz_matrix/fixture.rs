//! The companies, people, machines and data the matrix calls against:
//! company A (eu) with an owner, an admin, a member, a removed member and
//! two spare members; company B (eu) with its owner and a machine; a US
//! company whose owner's token is the other region's.

use std::path::{Path, PathBuf};

use cairn_core::Region;
use cairn_e2e::{Cluster, authed};
use cairn_proto::accounts::v1::users_service_client::UsersServiceClient;
use cairn_proto::accounts::v1::{
    InviteUserRequest, ListUsersRequest, LoginRequest, RefreshRequest, RemoveUserRequest,
    accounts_service_client::AccountsServiceClient,
};
use cairn_proto::backup::v1::{GetSnapshotRequest, backup_service_client::BackupServiceClient};
use cairn_proto::orgs::v1::{
    AgentTokenRequest, CreateGroupRequest, orgs_service_client::OrgsServiceClient,
};

use super::Who;

pub(super) const PASSWORD: &str = "correct horse battery";
pub(super) const A_OWNER: &str = "owner@alpha.ie";
pub(super) const A_ADMIN: &str = "admin@alpha.ie";
pub(super) const A_MEMBER: &str = "member@alpha.ie";
const A_REMOVED: &str = "removed@alpha.ie";

/// Everything a request of the matrix may name, and every caller's token.
pub(super) struct Fixture {
    pub(super) a_company: String,
    pub(super) member_id: String,
    pub(super) spare_users: [String; 2],
    /// The owner's machine, its three snapshots (the first is read, the
    /// others are deleted) and the first one's root tree.
    pub(super) owner_agent: String,
    pub(super) owner_snapshots: [String; 3],
    pub(super) owner_tree: Vec<u8>,
    /// The member's machine ("A's agent") and its snapshot.
    pub(super) member_agent: String,
    pub(super) member_snapshot: String,
    pub(super) spare_agents: [String; 2],
    pub(super) group: String,
    pub(super) spare_groups: [String; 2],
    pub(super) invitations: [String; 2],
    /// An unused 720-hour key the removed member created before removal.
    pub(super) removed_users_key: String,
    /// The id of an unused key the owner created.
    pub(super) owners_key: String,
    /// A well-formed personal-key record (a new data key, sealed).
    pub(super) personal_key: Vec<u8>,
    /// A refresh token of A's admin, already spent.
    pub(super) spent_refresh: String,
    tokens: Vec<(Who, String)>,
    /// Strings and bytes of A that no caller outside A may receive.
    pub(super) a_markers: Vec<Vec<u8>>,
    /// What of the owner's machine the member (and the member's machine)
    /// may not receive.
    pub(super) owner_markers: Vec<Vec<u8>>,
}

impl Fixture {
    pub(super) fn token(&self, who: Who) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.as_str())
    }
}

/// Invites `email` into the company of `owner` as `role` and accepts it.
async fn invite(cluster: &Cluster, owner: &Path, email: &str, role: &str) -> PathBuf {
    cluster
        .ctl(owner, &["users", "invite", email, "--role", role])
        .await
        .unwrap();
    let code = cluster
        .mailed_code(Region::Eu, email, "Alpha invites you")
        .await;
    let session = cluster.path(&format!("{email}.session"));
    let username = email.split('@').next().unwrap();
    cluster
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
    cluster
        .ctl(
            &session,
            &["login", "--email", email, "--password", PASSWORD],
        )
        .await
        .unwrap();
    session
}

async fn backup(cluster: &Cluster, agent: &Path, data: &Path, file: &str, text: &str) -> String {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join(file), text).unwrap();
    let out = cluster
        .agent(agent, &["backup", data.to_str().unwrap()])
        .await
        .unwrap();
    out.split_whitespace().nth(1).unwrap().to_owned()
}

async fn agent_token(cluster: &Cluster, state: &Path) -> (String, String) {
    let state = cairn_agent::AgentState::load(state).unwrap();
    let token = OrgsServiceClient::new(cluster.channel(state.region).await)
        .agent_token(AgentTokenRequest {
            agent_id: state.agent_id.to_string(),
            credential: state.credential.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
        .unwrap()
        .token;
    (state.agent_id.to_string(), token)
}

pub(super) async fn build(cluster: &Cluster) -> Fixture {
    let eu = cluster.channel(Region::Eu).await;
    let (a_owner, a_company) = cluster.signup("Alpha", "IE", A_OWNER, 10).await;
    let (b_owner, b_company) = cluster.signup("Beta", "DE", "owner@beta.de", 3).await;
    cluster.signup("Gamma", "US", "owner@gamma.com", 1).await;
    invite(cluster, &a_owner, A_ADMIN, "admin").await;
    let member = invite(cluster, &a_owner, A_MEMBER, "member").await;
    let removed = invite(cluster, &a_owner, A_REMOVED, "member").await;
    for spare in ["spare1@alpha.ie", "spare2@alpha.ie"] {
        invite(cluster, &a_owner, spare, "member").await;
    }
    let owner_token = cluster.user_token(Region::Eu, A_OWNER).await;

    // Machines: the owner's, the member's, two spares, and B's.
    let owner_pc = cluster.enroll(&a_owner, "alpha-owner-pc").await;
    let member_pc = cluster.enroll(&member, "alpha-member-pc").await;
    let spare_pcs = [
        cluster.enroll(&a_owner, "alpha-spare-1").await,
        cluster.enroll(&a_owner, "alpha-spare-2").await,
    ];
    let b_pc = cluster.enroll(&b_owner, "beta-pc").await;
    let removed_users_key = cluster
        .ctl(
            &removed,
            &["enrollment-key", "create", "--ttl-hours", "720"],
        )
        .await
        .unwrap()
        .trim()
        .to_owned();

    let owner_data = cluster.path("owner-data");
    let mut owner_snapshots = Vec::new();
    for round in 0..3 {
        let text = format!("name,salary\nowner,{round}\n");
        owner_snapshots.push(backup(cluster, &owner_pc, &owner_data, "payroll.csv", &text).await);
    }
    let member_snapshot = backup(
        cluster,
        &member_pc,
        &cluster.path("member-data"),
        "notes.txt",
        "the member's notes\n",
    )
    .await;
    let owner_tree = BackupServiceClient::new(eu.clone())
        .get_snapshot(authed(
            &owner_token,
            GetSnapshotRequest {
                snapshot_id: owner_snapshots[0].clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .snapshot
        .unwrap()
        .tree_id;

    let mut orgs = OrgsServiceClient::new(eu.clone());
    let mut groups = Vec::new();
    for name in ["Engineering", "Spare one", "Spare two"] {
        let group = orgs
            .create_group(authed(
                &owner_token,
                CreateGroupRequest {
                    name: name.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        groups.push(group.group_id);
    }
    // An unused key of the owner's, for the revocation row.
    let owners_key = orgs
        .create_enrollment_key(authed(
            &owner_token,
            cairn_proto::orgs::v1::CreateEnrollmentKeyRequest {
                ttl_hours: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .key_id;
    let mut users = UsersServiceClient::new(eu.clone());
    let mut invitations = Vec::new();
    for email in ["pending1@alpha.ie", "pending2@alpha.ie"] {
        let invitation = users
            .invite_user(authed(
                &owner_token,
                InviteUserRequest {
                    email: email.into(),
                    role: "member".into(),
                    group_id: String::new(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        invitations.push(invitation.invitation_id);
    }
    let listed = users
        .list_users(authed(&owner_token, ListUsersRequest {}))
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

    // Tokens, the removed member's taken before the removal.
    let mut tokens = vec![
        (Who::Owner, owner_token.clone()),
        (Who::Admin, cluster.user_token(Region::Eu, A_ADMIN).await),
        (Who::Member, cluster.user_token(Region::Eu, A_MEMBER).await),
        (
            Who::Removed,
            cluster.user_token(Region::Eu, A_REMOVED).await,
        ),
        (
            Who::OwnerB,
            cluster.user_token(Region::Eu, "owner@beta.de").await,
        ),
        (
            Who::OtherRegion,
            cluster.user_token(Region::Us, "owner@gamma.com").await,
        ),
    ];
    let (member_agent, token) = agent_token(cluster, &member_pc).await;
    tokens.push((Who::AgentA, token));
    let (_, token) = agent_token(cluster, &b_pc).await;
    tokens.push((Who::AgentB, token));
    users
        .remove_user(authed(
            &owner_token,
            RemoveUserRequest {
                user_id: id_of(A_REMOVED),
                backups: cairn_proto::accounts::v1::MemberBackups::Keep as i32,
            },
        ))
        .await
        .unwrap();

    // A refresh token of the admin's, spent once.
    let mut accounts = AccountsServiceClient::new(eu.clone());
    let spent_refresh = accounts
        .login(LoginRequest {
            email: A_ADMIN.into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .refresh_token;
    accounts
        .refresh(RefreshRequest {
            refresh_token: spent_refresh.clone(),
        })
        .await
        .unwrap();

    let owner_agent = cairn_agent::AgentState::load(&owner_pc)
        .unwrap()
        .agent_id
        .to_string();
    let spare_agents = [
        cairn_agent::AgentState::load(&spare_pcs[0]).unwrap(),
        cairn_agent::AgentState::load(&spare_pcs[1]).unwrap(),
    ]
    .map(|s| s.agent_id.to_string());
    let mut owner_markers: Vec<Vec<u8>> = vec![owner_agent.clone().into(), owner_tree.clone()];
    owner_markers.extend(owner_snapshots.iter().map(|s| s.clone().into_bytes()));
    let mut a_markers: Vec<Vec<u8>> = vec![
        a_company.clone().into(),
        member_agent.clone().into(),
        member_snapshot.clone().into(),
        A_OWNER.into(),
        A_ADMIN.into(),
        A_MEMBER.into(),
    ];
    a_markers.extend(groups.iter().map(|g| g.clone().into_bytes()));
    a_markers.extend(listed.iter().map(|u| u.user_id.clone().into_bytes()));
    a_markers.extend(owner_markers.iter().cloned());
    assert!(!a_markers.iter().any(|m| m == b_company.as_bytes()));
    Fixture {
        a_company,
        member_id: id_of(A_MEMBER),
        spare_users: [id_of("spare1@alpha.ie"), id_of("spare2@alpha.ie")],
        owner_agent,
        owner_snapshots: owner_snapshots.try_into().unwrap(),
        owner_tree,
        member_agent,
        member_snapshot,
        spare_agents,
        group: groups[0].clone(),
        spare_groups: [groups[1].clone(), groups[2].clone()],
        invitations: invitations.try_into().unwrap(),
        removed_users_key,
        owners_key,
        personal_key: cairn_crypto::PersonalKey::seal(
            &cairn_crypto::DataKey::generate().unwrap(),
            "a passphrase nobody knows",
        )
        .unwrap()
        .to_bytes(),
        spent_refresh,
        tokens,
        a_markers,
        owner_markers,
    }
}
