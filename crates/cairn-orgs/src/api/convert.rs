//! Conversions between the organisations protos and the domain: requests
//! into validated domain inputs (`TryFrom`, each limit checked by its
//! newtype in `cairn_core::limits`), domain results into responses.

use cairn_core::limits::{
    City, CompanyName, Employees, EnrollmentKeyHours, GroupName, Hostname, IdleAlertDays,
    QuotaBytes, StateName,
};
use cairn_core::policy::Policy;
use cairn_core::validate::{industry, phone, postal_code};
use cairn_core::{AgentId, Error, GroupId, Region, UserId};
use cairn_entity::regional::employee_count;
use cairn_proto::orgs::v1 as pb;

use crate::agents::{AgentView, CheckIn};
use crate::company::{CompanyUpdate, CompanyView};
use crate::enroll::{CompanyKey, Enrolled, KeyRequest};
use crate::groups::{GroupChange, GroupView, NewGroup};
use crate::keys::KeyView;
use crate::usage::{UsageDay, UsageQuery, parse_day};

pub(super) fn agent_id(value: &str) -> Result<AgentId, Error> {
    AgentId::parse(value, "agent_id")
}

pub(super) fn group_id(value: &str) -> Result<GroupId, Error> {
    GroupId::parse(value, "group_id")
}

/// An empty string is "not given".
fn given(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

impl TryFrom<pb::UpdateCompanyRequest> for CompanyUpdate {
    type Error = Error;

    fn try_from(req: pb::UpdateCompanyRequest) -> Result<Self, Error> {
        Ok(CompanyUpdate {
            name: req
                .name
                .map(|v| CompanyName::parse("name", &v))
                .transpose()?,
            industry: req.industry.map(|v| industry("industry", &v)).transpose()?,
            employees: req.employees.map(Employees::try_from).transpose()?,
            phone: req.phone.map(|v| phone("phone", &v)).transpose()?,
            city: req.city.map(|v| City::parse("city", &v)).transpose()?,
            state: req
                .state
                .map(|v| StateName::parse("state", &v))
                .transpose()?,
            postal_code: req
                .postal_code
                .map(|v| postal_code("postal_code", &v))
                .transpose()?,
            idle_alert_days: req
                .idle_alert_days
                .map(IdleAlertDays::try_from)
                .transpose()?,
        })
    }
}

/// The company as `GetCompany` answers; `region` is this cell's.
pub(super) fn company(view: CompanyView, region: Region) -> pb::GetCompanyResponse {
    let c = view.company;
    pb::GetCompanyResponse {
        company_id: c.id.to_string(),
        name: c.name,
        industry: c.industry,
        employees: c.employees,
        country: c.country,
        region: region.to_proto(),
        seats_total: c.seats,
        seats_used: view.seats_used,
        phone: c.phone,
        city: c.city,
        state: c.state,
        postal_code: c.postal_code,
        quota_bytes: QuotaBytes::to_wire(c.quota_bytes),
        stored_bytes: view.stored_bytes,
        idle_alert_days: c.idle_alert_days,
        personal_key: c.personal_key.is_some(),
    }
}

pub(super) fn employee_count(c: employee_count::Model) -> pb::EmployeeCountChange {
    pb::EmployeeCountChange {
        previous: c.previous,
        employees: c.employees,
        changed_at: c.changed_at.timestamp(),
        changed_by: c.changed_by,
    }
}

impl TryFrom<&pb::CreateEnrollmentKeyRequest> for KeyRequest {
    type Error = Error;

    fn try_from(req: &pb::CreateEnrollmentKeyRequest) -> Result<Self, Error> {
        Ok(KeyRequest {
            ttl: EnrollmentKeyHours::try_from(req.ttl_hours)?,
            owner: given(&req.owner_user_id)
                .map(|id| UserId::parse(id, "owner_user_id"))
                .transpose()?,
            group: given(&req.group_id).map(group_id).transpose()?,
        })
    }
}

pub(super) fn key_id(value: &str) -> Result<cairn_core::EnrollmentKeyId, Error> {
    cairn_core::EnrollmentKeyId::parse(value, "key_id")
}

impl From<KeyView> for pb::EnrollmentKey {
    fn from(view: KeyView) -> Self {
        let k = view.key;
        pb::EnrollmentKey {
            key_id: k.id.to_string(),
            created_by: k.created_by.to_string(),
            owner_user_id: k.owner_user_id.unwrap_or(k.created_by).to_string(),
            group_id: k.group_id.map(|g| g.to_string()).unwrap_or_default(),
            created_at: k.created_at.timestamp(),
            expires_at: k.expires_at.timestamp(),
            state: view.state.as_str().to_owned(),
            agent_id: k.used_by_agent.map(|a| a.to_string()).unwrap_or_default(),
            used_at: k.used_at.map_or(0, |t| t.timestamp()),
            revoked_at: k.revoked_at.map_or(0, |t| t.timestamp()),
        }
    }
}

/// What an enrolled agent receives.
pub(super) fn enrolled(done: Enrolled, region: Region) -> pb::EnrollAgentResponse {
    let (data_key, personal_key) = match done.key {
        CompanyKey::Managed(key) => (key.as_bytes().to_vec(), Vec::new()),
        CompanyKey::Personal(sealed) => (Vec::new(), sealed),
    };
    pb::EnrollAgentResponse {
        agent_id: done.agent.to_string(),
        company_id: done.company.to_string(),
        region: region.to_proto(),
        credential: done.credential,
        data_key,
        personal_key,
    }
}

/// A validated `RenameAgent`.
pub(super) struct RenameAgent {
    pub(super) id: AgentId,
    pub(super) hostname: Hostname,
}

impl TryFrom<&pb::RenameAgentRequest> for RenameAgent {
    type Error = Error;

    fn try_from(req: &pb::RenameAgentRequest) -> Result<Self, Error> {
        Ok(RenameAgent {
            id: agent_id(&req.agent_id)?,
            hostname: Hostname::parse("hostname", &req.hostname)?,
        })
    }
}

/// A validated `MoveAgent`.
pub(super) struct MoveAgent {
    pub(super) id: AgentId,
    pub(super) group: GroupId,
}

impl TryFrom<&pb::MoveAgentRequest> for MoveAgent {
    type Error = Error;

    fn try_from(req: &pb::MoveAgentRequest) -> Result<Self, Error> {
        Ok(MoveAgent {
            id: agent_id(&req.agent_id)?,
            group: group_id(&req.group_id)?,
        })
    }
}

impl From<AgentView> for pb::Agent {
    fn from(v: AgentView) -> Self {
        let a = v.agent;
        pb::Agent {
            agent_id: a.id.to_string(),
            hostname: a.hostname,
            enrolled_at: a.enrolled_at.timestamp(),
            owner_user_id: a.owner_user_id.map(|u| u.to_string()).unwrap_or_default(),
            owner_email: v.owner_email,
            group_id: v.group_id.to_string(),
            group_name: v.group_name,
            last_backup_at: a.last_backup_at.map_or(0, |t| t.timestamp()),
            last_result: a.last_result,
            last_error: a.last_error,
            bytes_protected: a.bytes_protected,
            last_seen_at: a.last_seen_at.map_or(0, |t| t.timestamp()),
            idle: v.idle,
            policy_version_seen: a.policy_version_seen,
            policy_version: v.policy_version,
        }
    }
}

impl From<CheckIn> for pb::CheckInResponse {
    fn from(c: CheckIn) -> Self {
        pb::CheckInResponse {
            policy: Some(c.policy.to_proto()),
            policy_version: c.policy_version,
            group_id: c.group_id.to_string(),
            group_name: c.group_name,
            hostname: c.hostname,
        }
    }
}

impl TryFrom<pb::CreateGroupRequest> for NewGroup {
    type Error = Error;

    fn try_from(req: pb::CreateGroupRequest) -> Result<Self, Error> {
        Ok(NewGroup {
            name: GroupName::parse("name", &req.name)?,
            quota: QuotaBytes::try_from(req.quota_bytes)?,
            policy: req
                .policy
                .as_ref()
                .map(|p| Policy::from_proto("policy", p))
                .transpose()?,
        })
    }
}

impl TryFrom<pb::UpdateGroupRequest> for GroupChange {
    type Error = Error;

    fn try_from(req: pb::UpdateGroupRequest) -> Result<Self, Error> {
        Ok(GroupChange {
            id: group_id(&req.group_id)?,
            name: req.name.map(|n| GroupName::parse("name", &n)).transpose()?,
            policy: req
                .policy
                .as_ref()
                .map(|p| Policy::from_proto("policy", p))
                .transpose()?,
            quota: req.quota_bytes.map(QuotaBytes::try_from).transpose()?,
        })
    }
}

impl From<GroupView> for pb::Group {
    fn from(g: GroupView) -> Self {
        pb::Group {
            group_id: g.id.to_string(),
            name: g.name,
            is_default: g.is_default,
            policy: Some(g.policy.to_proto()),
            policy_version: g.policy_version,
            quota_bytes: QuotaBytes::to_wire(g.quota_bytes),
            stored_bytes: g.stored_bytes,
            users: g.users,
            agents: g.agents,
        }
    }
}

impl TryFrom<&pb::GetUsageRequest> for UsageQuery {
    type Error = Error;

    fn try_from(req: &pb::GetUsageRequest) -> Result<Self, Error> {
        // `to` first: it is the one the default of `from` hangs on.
        let to = given(&req.to).map(|v| parse_day("to", v)).transpose()?;
        let from = given(&req.from).map(|v| parse_day("from", v)).transpose()?;
        Ok(UsageQuery { from, to })
    }
}

impl From<UsageDay> for pb::UsageDay {
    fn from(d: UsageDay) -> Self {
        pb::UsageDay {
            day: d.day,
            seats_used: d.seats_used,
            logical_bytes: d.logical_bytes,
            stored_bytes: d.stored_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of<T: std::fmt::Debug>(result: Result<T, Error>) -> String {
        match result {
            Err(Error::InvalidArgument { field, .. }) => field,
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    fn group() -> pb::CreateGroupRequest {
        pb::CreateGroupRequest {
            name: "Sales".into(),
            policy: Some(Policy::default().to_proto()),
            quota_bytes: 0,
        }
    }

    #[test]
    fn group_requests_name_the_bad_field() {
        let bad_policy = pb::Policy {
            include_paths: vec![String::new()],
            ..Policy::default().to_proto()
        };
        let cases = [
            (
                pb::CreateGroupRequest {
                    policy: Some(bad_policy.clone()),
                    ..group()
                },
                "policy.include_paths",
            ),
            (
                pb::CreateGroupRequest {
                    name: " ".into(),
                    ..group()
                },
                "name",
            ),
            (
                pb::CreateGroupRequest {
                    quota_bytes: -1,
                    ..group()
                },
                "quota_bytes",
            ),
        ];
        for (request, field) in cases {
            assert_eq!(field_of(NewGroup::try_from(request)), field);
        }
        let change = pb::UpdateGroupRequest {
            group_id: GroupId::new().to_string(),
            name: None,
            policy: Some(bad_policy),
            quota_bytes: None,
        };
        assert_eq!(
            field_of(GroupChange::try_from(change.clone())),
            "policy.include_paths"
        );
        let no_id = pb::UpdateGroupRequest {
            group_id: "nope".into(),
            ..change
        };
        assert_eq!(field_of(GroupChange::try_from(no_id)), "group_id");
        let fine = NewGroup::try_from(group()).map(|g| g.quota);
        assert_eq!(fine.ok(), Some(QuotaBytes::NONE));
    }

    #[test]
    fn company_updates_name_the_bad_field() {
        let cases = [
            (
                pb::UpdateCompanyRequest {
                    employees: Some(0),
                    ..Default::default()
                },
                "employees",
            ),
            (
                pb::UpdateCompanyRequest {
                    idle_alert_days: Some(366),
                    ..Default::default()
                },
                "idle_alert_days",
            ),
            (
                pb::UpdateCompanyRequest {
                    name: Some("x".repeat(201)),
                    ..Default::default()
                },
                "name",
            ),
            (
                pb::UpdateCompanyRequest {
                    city: Some(String::new()),
                    ..Default::default()
                },
                "city",
            ),
        ];
        for (request, field) in cases {
            assert_eq!(field_of(CompanyUpdate::try_from(request)), field);
        }
        // An empty state is allowed; nothing given changes nothing.
        let state = CompanyUpdate::try_from(pb::UpdateCompanyRequest {
            state: Some(" ".into()),
            ..Default::default()
        });
        assert_eq!(
            state.ok().and_then(|u| u.state).map(StateName::into_string),
            Some(String::new())
        );
    }

    #[test]
    fn key_and_usage_requests_name_the_bad_field() {
        let key = |ttl_hours, owner: &str| pb::CreateEnrollmentKeyRequest {
            ttl_hours,
            owner_user_id: owner.into(),
            group_id: String::new(),
        };
        assert_eq!(field_of(KeyRequest::try_from(&key(721, ""))), "ttl_hours");
        assert_eq!(
            field_of(KeyRequest::try_from(&key(1, "nope"))),
            "owner_user_id"
        );
        let asked = KeyRequest::try_from(&key(0, "")).ok();
        assert_eq!(asked.map(|k| (k.ttl.get(), k.owner)), Some((72, None)));

        let usage = |from: &str, to: &str| pb::GetUsageRequest {
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(
            field_of(UsageQuery::try_from(&usage("2026-13-01", ""))),
            "from"
        );
        assert_eq!(field_of(UsageQuery::try_from(&usage("x", "y"))), "to");
        let all = UsageQuery::try_from(&usage("", "")).ok();
        assert_eq!(all.map(|q| (q.from, q.to)), Some((None, None)));
    }
}
