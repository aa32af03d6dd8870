//! The request of each RPC, built to reach company A's data with A's ids.
//! Where a call that is allowed changes or removes what it names, the
//! callers allowed to make it (the admin, then the owner, who call last)
//! each get a target of their own, so every answer is the same whatever
//! came before.

use prost::Message;

use cairn_proto::accounts::v1 as accounts;
use cairn_proto::backup::v1 as backup;
use cairn_proto::directory::v1 as directory;
use cairn_proto::orgs::v1 as orgs;

use super::Who;
use super::fixture::{A_ADMIN, A_OWNER, Fixture, PASSWORD};

/// A well-formed code or token that was never issued.
fn never_issued(len: usize) -> String {
    format!("eu-{}", "7".repeat(len))
}

/// Pick the admin's or the owner's own target, the first for everyone else.
fn own(who: Who, targets: &[String; 2]) -> &str {
    if who == Who::Owner {
        &targets[1]
    } else {
        &targets[0]
    }
}

/// The request messages (one for a unary call) of `method` as `who` sends them.
pub(super) fn messages(method: &str, who: Who, fx: &Fixture) -> Vec<Vec<u8>> {
    let one = |m: &dyn Fn() -> Vec<u8>| vec![m()];
    let rpc = method.rsplit('/').next().unwrap_or(method);
    let service = method.split('/').nth(1).unwrap_or("");
    match (service, rpc) {
        // Directory.
        (_, "ListCells") => one(&|| directory::ListCellsRequest {}.encode_to_vec()),
        (_, "ResolveCountry") => one(&|| {
            directory::ResolveCountryRequest {
                country: "IE".into(),
            }
            .encode_to_vec()
        }),
        (_, "LocateLogin") => one(&|| {
            directory::LocateLoginRequest {
                login: A_OWNER.into(),
            }
            .encode_to_vec()
        }),
        (_, "RegisterLogin") => one(&|| {
            directory::RegisterLoginRequest {
                login: "intruder@alpha.ie".into(),
                company_id: fx.a_company.clone(),
            }
            .encode_to_vec()
        }),
        (_, "UnregisterLogin") => one(&|| {
            directory::UnregisterLoginRequest {
                login: A_OWNER.into(),
            }
            .encode_to_vec()
        }),
        // Accounts.
        (_, "SignUp") => one(&|| {
            accounts::SignUpRequest {
                company_name: "Alpha Again".into(),
                industry: "Accounting".into(),
                employees: 5,
                country: "IE".into(),
                owner_name: "Someone Else".into(),
                email: A_OWNER.into(),
                password: "a different strong passphrase".into(),
                seats: 1,
                phone: "+353 1 555 0100".into(),
                owner_title: "Intruder".into(),
                city: "Dublin".into(),
                state: String::new(),
                postal_code: "D01".into(),
                username: "intruder".into(),
                age_confirmed: true,
            }
            .encode_to_vec()
        }),
        (_, "Login") => one(&|| {
            accounts::LoginRequest {
                email: A_ADMIN.into(),
                password: PASSWORD.into(),
            }
            .encode_to_vec()
        }),
        (_, "Refresh") => one(&|| {
            accounts::RefreshRequest {
                refresh_token: fx.spent_refresh.clone(),
            }
            .encode_to_vec()
        }),
        (_, "Logout") => one(&|| {
            accounts::LogoutRequest {
                refresh_token: fx.spent_refresh.clone(),
            }
            .encode_to_vec()
        }),
        (_, "ConfirmEmail") => one(&|| {
            accounts::ConfirmEmailRequest {
                token: never_issued(64),
            }
            .encode_to_vec()
        }),
        (_, "RequestPasswordReset") => one(&|| {
            accounts::RequestPasswordResetRequest {
                email: A_OWNER.into(),
            }
            .encode_to_vec()
        }),
        (_, "ResetPassword") => one(&|| {
            accounts::ResetPasswordRequest {
                token: never_issued(64),
                new_password: "a different strong passphrase".into(),
            }
            .encode_to_vec()
        }),
        (_, "ChangePassword") => one(&|| {
            accounts::ChangePasswordRequest {
                current_password: PASSWORD.into(),
                new_password: PASSWORD.into(),
            }
            .encode_to_vec()
        }),
        (_, "SetMarketingPreference") => {
            one(&|| accounts::SetMarketingPreferenceRequest { opt_out: true }.encode_to_vec())
        }
        (_, "GetProfile") => one(&|| accounts::GetProfileRequest {}.encode_to_vec()),
        (_, "UpdateProfile") => one(&|| {
            accounts::UpdateProfileRequest {
                title: Some("Analyst".into()),
                ..Default::default()
            }
            .encode_to_vec()
        }),
        (_, "ExportData") => one(&|| {
            accounts::ExportDataRequest {
                whole_company: true,
            }
            .encode_to_vec()
        }),
        (_, "DeleteAccount") => one(&|| {
            accounts::DeleteAccountRequest {
                password: PASSWORD.into(),
                confirm_company_name: "Alpha".into(),
            }
            .encode_to_vec()
        }),
        // Users.
        (_, "ListUsers") => one(&|| accounts::ListUsersRequest {}.encode_to_vec()),
        (_, "InviteUser") => one(&|| {
            accounts::InviteUserRequest {
                email: format!("invitee-{}@alpha.ie", who.name()),
                role: "member".into(),
                group_id: fx.group.clone(),
            }
            .encode_to_vec()
        }),
        (_, "RevokeInvitation") => one(&|| {
            accounts::RevokeInvitationRequest {
                invitation_id: own(who, &fx.invitations).into(),
            }
            .encode_to_vec()
        }),
        (_, "ChangeUserRole") => one(&|| {
            accounts::ChangeUserRoleRequest {
                user_id: fx.member_id.clone(),
                role: "member".into(),
            }
            .encode_to_vec()
        }),
        (_, "SetUserGroup") => one(&|| {
            accounts::SetUserGroupRequest {
                user_id: fx.member_id.clone(),
                group_id: fx.group.clone(),
            }
            .encode_to_vec()
        }),
        (_, "RemoveUser") => one(&|| {
            accounts::RemoveUserRequest {
                user_id: own(who, &fx.spare_users).into(),
                backups: accounts::MemberBackups::Keep as i32,
            }
            .encode_to_vec()
        }),
        (_, "AcceptInvitation") => one(&|| {
            accounts::AcceptInvitationRequest {
                code: never_issued(64),
                name: "Intruder".into(),
                title: String::new(),
                username: "intruder".into(),
                password: "a different strong passphrase".into(),
                age_confirmed: true,
            }
            .encode_to_vec()
        }),
        // Organisations.
        (_, "GetCompany") => one(&|| orgs::GetCompanyRequest {}.encode_to_vec()),
        (_, "UpdateCompany") => one(&|| {
            orgs::UpdateCompanyRequest {
                city: Some("Cork".into()),
                ..Default::default()
            }
            .encode_to_vec()
        }),
        (_, "ListEmployeeCounts") => one(&|| orgs::ListEmployeeCountsRequest {}.encode_to_vec()),
        (_, "SetSeats") => one(&|| orgs::SetSeatsRequest { seats: 10 }.encode_to_vec()),
        (_, "CreateEnrollmentKey") => one(&|| {
            orgs::CreateEnrollmentKeyRequest {
                ttl_hours: 1,
                owner_user_id: String::new(),
                group_id: fx.group.clone(),
            }
            .encode_to_vec()
        }),
        (_, "ListEnrollmentKeys") => one(&|| orgs::ListEnrollmentKeysRequest {}.encode_to_vec()),
        (_, "RevokeEnrollmentKey") => one(&|| {
            orgs::RevokeEnrollmentKeyRequest {
                key_id: fx.owners_key.clone(),
            }
            .encode_to_vec()
        }),
        (_, "EnrollAgent") => one(&|| {
            orgs::EnrollAgentRequest {
                enrollment_key: fx.removed_users_key.clone(),
                hostname: format!("intruder-{}", who.name()),
            }
            .encode_to_vec()
        }),
        (_, "AgentToken") => one(&|| {
            orgs::AgentTokenRequest {
                agent_id: fx.member_agent.clone(),
                credential: "not the credential".into(),
            }
            .encode_to_vec()
        }),
        (_, "ListAgents") => one(&|| orgs::ListAgentsRequest {}.encode_to_vec()),
        (_, "RevokeAgent") => one(&|| {
            orgs::RevokeAgentRequest {
                agent_id: own(who, &fx.spare_agents).into(),
            }
            .encode_to_vec()
        }),
        (_, "RenameAgent") => one(&|| {
            orgs::RenameAgentRequest {
                agent_id: fx.member_agent.clone(),
                hostname: "alpha-member-pc".into(),
            }
            .encode_to_vec()
        }),
        (_, "MoveAgent") => one(&|| {
            orgs::MoveAgentRequest {
                agent_id: fx.member_agent.clone(),
                group_id: fx.group.clone(),
            }
            .encode_to_vec()
        }),
        (_, "ListGroups") => one(&|| orgs::ListGroupsRequest {}.encode_to_vec()),
        (_, "CreateGroup") => one(&|| {
            orgs::CreateGroupRequest {
                name: format!("Group of {}", who.name()),
                ..Default::default()
            }
            .encode_to_vec()
        }),
        (_, "UpdateGroup") => one(&|| {
            orgs::UpdateGroupRequest {
                group_id: fx.group.clone(),
                name: Some("Engineering".into()),
                ..Default::default()
            }
            .encode_to_vec()
        }),
        (_, "DeleteGroup") => one(&|| {
            orgs::DeleteGroupRequest {
                group_id: own(who, &fx.spare_groups).into(),
            }
            .encode_to_vec()
        }),
        (_, "SetQuota") => one(&|| orgs::SetQuotaRequest { quota_bytes: 0 }.encode_to_vec()),
        (_, "SetPersonalKey") => one(&|| {
            orgs::SetPersonalKeyRequest {
                personal_key: fx.personal_key.clone(),
            }
            .encode_to_vec()
        }),
        (_, "GetUsage") => one(&|| orgs::GetUsageRequest::default().encode_to_vec()),
        (_, "CheckIn") => one(&|| orgs::CheckInRequest { policy_version: 0 }.encode_to_vec()),
        (_, "ReportBackup") => one(&|| {
            orgs::ReportBackupRequest {
                ok: false,
                error: "the authorization matrix".into(),
            }
            .encode_to_vec()
        }),
        // Backup.
        (_, "FindMissingChunks") => one(&|| {
            // No digest: the widest question (it matches any copy).
            backup::FindMissingChunksRequest {
                chunk_ids: vec![fx.owner_tree.clone()],
                digests: Vec::new(),
            }
            .encode_to_vec()
        }),
        (_, "UploadPack") => {
            // Garbage under the id of the owner's root tree.
            let garbage = vec![0x5a; 64];
            let header = backup::PackHeader {
                pack_id: Vec::new(),
                size: garbage.len() as u64,
                chunks: vec![backup::ChunkRecord {
                    id: fx.owner_tree.clone(),
                    offset: 0,
                    length: garbage.len() as u32,
                    raw_length: garbage.len() as u32,
                }],
            };
            use backup::upload_pack_request::Part;
            vec![
                backup::UploadPackRequest {
                    part: Some(Part::Header(header)),
                }
                .encode_to_vec(),
                backup::UploadPackRequest {
                    part: Some(Part::Data(garbage.into())),
                }
                .encode_to_vec(),
            ]
        }
        (_, "CommitSnapshot") => {
            // A snapshot of the caller's machine pointing at the owner's tree.
            use backup::commit_snapshot_request::Part;
            vec![
                backup::CommitSnapshotRequest {
                    part: Some(Part::Header(backup::SnapshotHeader {
                        tree_id: fx.owner_tree.clone(),
                        hostname: "alpha-member-pc".into(),
                        paths: vec!["/home/member".into()],
                        started_at: 1_700_000_000,
                        finished_at: 1_700_000_001,
                        stats: None,
                    })),
                }
                .encode_to_vec(),
                backup::CommitSnapshotRequest {
                    part: Some(Part::ChunkIds(backup::ChunkIds {
                        ids: vec![fx.owner_tree.clone()],
                    })),
                }
                .encode_to_vec(),
            ]
        }
        (_, "ListSnapshots") => one(&|| {
            backup::ListSnapshotsRequest {
                agent_id: fx.owner_agent.clone(),
            }
            .encode_to_vec()
        }),
        (_, "GetSnapshot") => one(&|| {
            backup::GetSnapshotRequest {
                snapshot_id: fx.owner_snapshots[0].clone(),
            }
            .encode_to_vec()
        }),
        (_, "DeleteSnapshot") => one(&|| {
            let snapshot_id = match who {
                Who::Admin => fx.owner_snapshots[1].clone(),
                Who::Owner => fx.owner_snapshots[2].clone(),
                _ => fx.member_snapshot.clone(),
            };
            backup::DeleteSnapshotRequest { snapshot_id }.encode_to_vec()
        }),
        (_, "ReadChunks") => one(&|| {
            // The owner's tree, from the owner's first snapshot.
            backup::ReadChunksRequest {
                chunk_ids: vec![fx.owner_tree.clone()],
                snapshot_id: fx.owner_snapshots[0].clone(),
            }
            .encode_to_vec()
        }),
        _ => panic!("{method} has no request in the matrix: write one in requests.rs"),
    }
}
