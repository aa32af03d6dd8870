//! Request messages decoded from arbitrary bytes, then converted into domain
//! input by the services' own adapters, as a handler would. The first byte
//! picks the message; the rest is its encoding (for a request stream: a
//! sequence of frames, one message each).

use prost::Message;

use cairn_proto::{accounts::v1 as accounts, backup::v1 as backup, orgs::v1 as orgs};

use crate::{frames, split};

fn decode<M: Message + Default>(bytes: &[u8]) -> Option<M> {
    M::decode(bytes).ok()
}

fn decode_all<M: Message + Default>(bytes: &[u8]) -> Option<Vec<M>> {
    frames(bytes).into_iter().map(decode).collect()
}

/// cairn-backup's `grpc/convert.rs`.
pub fn backup_requests(data: &[u8]) {
    use cairn_backup::fuzzing as f;
    let Some((pick, rest)) = split(data) else {
        return;
    };
    let _ = match pick % 6 {
        0 => decode::<backup::FindMissingChunksRequest>(rest)
            .map(|r| f::chunk_ids(&r.chunk_ids).map(drop)),
        1 => {
            decode::<backup::ReadChunksRequest>(rest).map(|r| f::chunk_ids(&r.chunk_ids).map(drop))
        }
        2 => decode::<backup::PackHeader>(rest).map(|r| f::pack_header(r).map(drop)),
        3 => decode::<backup::SnapshotHeader>(rest).map(f::snapshot_header),
        4 => decode_all::<backup::UploadPackRequest>(rest).map(|r| f::upload_stream(r).map(drop)),
        _ => {
            decode_all::<backup::CommitSnapshotRequest>(rest).map(|r| f::commit_stream(r).map(drop))
        }
    };
}

/// cairn-orgs' `api/convert.rs`, with the policies of groups.
pub fn orgs_requests(data: &[u8]) {
    use cairn_orgs::fuzzing as f;
    let Some((pick, rest)) = split(data) else {
        return;
    };
    let _ = match pick % 9 {
        0 => decode::<orgs::UpdateCompanyRequest>(rest).map(f::update_company),
        1 => decode::<orgs::CreateEnrollmentKeyRequest>(rest).map(|r| f::create_enrollment_key(&r)),
        2 => decode::<orgs::RenameAgentRequest>(rest).map(|r| f::rename_agent(&r)),
        3 => decode::<orgs::MoveAgentRequest>(rest).map(|r| f::move_agent(&r)),
        4 => decode::<orgs::RevokeAgentRequest>(rest).map(|r| f::revoke_agent(&r)),
        5 => decode::<orgs::CreateGroupRequest>(rest).map(f::create_group),
        6 => decode::<orgs::UpdateGroupRequest>(rest).map(f::update_group),
        7 => decode::<orgs::DeleteGroupRequest>(rest).map(|r| f::delete_group(&r)),
        _ => decode::<orgs::GetUsageRequest>(rest).map(|r| f::get_usage(&r)),
    };
}

/// cairn-accounts' `convert.rs` and `users_service.rs`, and sign-up's
/// conversion in cairn-core.
pub fn accounts_requests(data: &[u8]) {
    use cairn_accounts::fuzzing as f;
    let Some((pick, rest)) = split(data) else {
        return;
    };
    let _ = match pick % 6 {
        0 => decode::<accounts::UpdateProfileRequest>(rest).map(f::update_profile),
        1 => decode::<accounts::InviteUserRequest>(rest).map(|r| f::invite_user(&r)),
        2 => decode::<accounts::ChangeUserRoleRequest>(rest).map(|r| f::change_user_role(&r)),
        3 => decode::<accounts::SetUserGroupRequest>(rest).map(|r| f::set_user_group(&r)),
        4 => decode::<accounts::AcceptInvitationRequest>(rest).map(f::accept_invitation),
        _ => decode::<accounts::SignUpRequest>(rest)
            .map(|r| cairn_core::validate::SignUp::try_from(r).map(drop)),
    };
}
