//! Entry points for the fuzz targets (`fuzz/`, and the corpora replayed by
//! `tests/tests/fuzz_corpora.rs`): each runs one request conversion of the
//! adapters on a message decoded from arbitrary bytes. Not an API.

use cairn_core::Error;
use cairn_proto::accounts::v1 as pb;

use crate::profile::ProfileChanges;
use crate::users::accept::Acceptance;
use crate::users::invite::Invitee;
use crate::users::roles::{GroupMove, RoleChange};

pub fn update_profile(req: pb::UpdateProfileRequest) -> Result<(), Error> {
    ProfileChanges::try_from(req).map(drop)
}

pub fn invite_user(req: &pb::InviteUserRequest) -> Result<(), Error> {
    Invitee::try_from(req).map(drop)
}

pub fn change_user_role(req: &pb::ChangeUserRoleRequest) -> Result<(), Error> {
    RoleChange::try_from(req).map(drop)
}

pub fn set_user_group(req: &pb::SetUserGroupRequest) -> Result<(), Error> {
    GroupMove::try_from(req).map(drop)
}

pub fn accept_invitation(req: pb::AcceptInvitationRequest) -> Result<(), Error> {
    Acceptance::try_from(req).map(drop)
}
