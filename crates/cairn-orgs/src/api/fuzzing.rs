//! Entry points for the fuzz targets (`fuzz/`, and the corpora replayed by
//! `tests/tests/fuzz_corpora.rs`): each runs one request conversion of this
//! adapter on a message decoded from arbitrary bytes. Not an API.

use cairn_core::Error;
use cairn_proto::orgs::v1 as pb;

use super::convert::{MoveAgent, RenameAgent, agent_id, group_id};
use crate::company::CompanyUpdate;
use crate::enroll::KeyRequest;
use crate::groups::{GroupChange, NewGroup};
use crate::usage::UsageQuery;

pub fn update_company(req: pb::UpdateCompanyRequest) -> Result<(), Error> {
    CompanyUpdate::try_from(req).map(drop)
}

pub fn create_enrollment_key(req: &pb::CreateEnrollmentKeyRequest) -> Result<(), Error> {
    KeyRequest::try_from(req).map(drop)
}

pub fn rename_agent(req: &pb::RenameAgentRequest) -> Result<(), Error> {
    RenameAgent::try_from(req).map(drop)
}

pub fn move_agent(req: &pb::MoveAgentRequest) -> Result<(), Error> {
    MoveAgent::try_from(req).map(drop)
}

/// `RevokeAgent`'s id.
pub fn revoke_agent(req: &pb::RevokeAgentRequest) -> Result<(), Error> {
    agent_id(&req.agent_id).map(drop)
}

pub fn create_group(req: pb::CreateGroupRequest) -> Result<(), Error> {
    NewGroup::try_from(req).map(drop)
}

pub fn update_group(req: pb::UpdateGroupRequest) -> Result<(), Error> {
    GroupChange::try_from(req).map(drop)
}

/// `DeleteGroup`'s id.
pub fn delete_group(req: &pb::DeleteGroupRequest) -> Result<(), Error> {
    group_id(&req.group_id).map(drop)
}

pub fn get_usage(req: &pb::GetUsageRequest) -> Result<(), Error> {
    UsageQuery::try_from(req).map(drop)
}
