//! The handlers: authenticate, convert, call the domain, convert back.

use tonic::{Request, Response, Status};

use cairn_auth::{PrincipalKind, client_ip};
use cairn_core::AgentId;
use cairn_core::limits::{Hostname, QuotaBytes, Seats};
use cairn_proto::common::v1::AccessToken;
use cairn_proto::orgs::v1 as pb;

use super::OrgsService;
use super::convert::{MoveAgent, RenameAgent, agent_id, key_id};
use crate::caller::{ADMINS, Caller, EVERYONE, OWNER};
use crate::{agents, company, enroll, groups, keys, usage};

/// Builds the domain caller of a request: the user and the client address.
macro_rules! caller {
    ($self:ident, $request:ident, $roles:expr) => {{
        let user = $self.user(&$request, $roles).await?;
        (user, client_ip(&$request))
    }};
}

impl OrgsService {
    fn company_response(&self, view: company::CompanyView) -> pb::GetCompanyResponse {
        super::convert::company(view, self.auth.region())
    }
}

#[tonic::async_trait]
impl pb::orgs_service_server::OrgsService for OrgsService {
    async fn get_company(
        &self,
        request: Request<pb::GetCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (user, ip) = caller!(self, request, EVERYONE);
        let view = company::get(&self.db, &Caller::new(&user, &ip)).await?;
        Ok(Response::new(self.company_response(view)))
    }

    async fn update_company(
        &self,
        request: Request<pb::UpdateCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let change = company::CompanyUpdate::try_from(request.into_inner())?;
        let view = company::update(&self.db, &Caller::new(&user, &ip), change).await?;
        Ok(Response::new(self.company_response(view)))
    }

    async fn list_employee_counts(
        &self,
        request: Request<pb::ListEmployeeCountsRequest>,
    ) -> Result<Response<pb::ListEmployeeCountsResponse>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let changes = company::employee_counts(&self.db, &Caller::new(&user, &ip))
            .await?
            .into_iter()
            .map(super::convert::employee_count)
            .collect();
        Ok(Response::new(pb::ListEmployeeCountsResponse { changes }))
    }

    async fn set_seats(
        &self,
        request: Request<pb::SetSeatsRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (user, ip) = caller!(self, request, OWNER);
        let seats = Seats::try_from(request.get_ref().seats)?;
        let view = company::set_seats(&self.db, &Caller::new(&user, &ip), seats).await?;
        Ok(Response::new(self.company_response(view)))
    }

    async fn create_enrollment_key(
        &self,
        request: Request<pb::CreateEnrollmentKeyRequest>,
    ) -> Result<Response<pb::CreateEnrollmentKeyResponse>, Status> {
        let (user, ip) = caller!(self, request, EVERYONE);
        let ask = enroll::KeyRequest::try_from(request.get_ref())?;
        let region = self.auth.region();
        let key = enroll::create_key(&self.db, &Caller::new(&user, &ip), region, ask).await?;
        Ok(Response::new(pb::CreateEnrollmentKeyResponse {
            key: key.key,
            key_id: key.id.to_string(),
            expires_at: key.expires_at,
        }))
    }

    async fn list_enrollment_keys(
        &self,
        request: Request<pb::ListEnrollmentKeysRequest>,
    ) -> Result<Response<pb::ListEnrollmentKeysResponse>, Status> {
        let (user, ip) = caller!(self, request, EVERYONE);
        let keys = keys::list(&self.db, &Caller::new(&user, &ip))
            .await?
            .into_iter()
            .map(pb::EnrollmentKey::from)
            .collect();
        Ok(Response::new(pb::ListEnrollmentKeysResponse { keys }))
    }

    async fn revoke_enrollment_key(
        &self,
        request: Request<pb::RevokeEnrollmentKeyRequest>,
    ) -> Result<Response<pb::EnrollmentKey>, Status> {
        let (user, ip) = caller!(self, request, EVERYONE);
        let id = key_id(&request.get_ref().key_id)?;
        let view = keys::revoke(&self.db, &Caller::new(&user, &ip), id).await?;
        Ok(Response::new(view.into()))
    }

    async fn enroll_agent(
        &self,
        request: Request<pb::EnrollAgentRequest>,
    ) -> Result<Response<pb::EnrollAgentResponse>, Status> {
        let req = request.get_ref();
        // The region first: a key of another cell is redirected there.
        let (region, secret) = enroll::parse_key(&req.enrollment_key)?;
        if region != self.auth.region() {
            return Err(self.auth.wrong_region(region).into());
        }
        let hostname = Hostname::parse("hostname", &req.hostname)?;
        let done = enroll::enroll(&self.db, &self.master, secret, hostname).await?;
        Ok(Response::new(super::convert::enrolled(done, region)))
    }

    async fn agent_token(
        &self,
        request: Request<pb::AgentTokenRequest>,
    ) -> Result<Response<pb::AgentTokenResponse>, Status> {
        let req = request.into_inner();
        let agent_id = AgentId::parse(&req.agent_id, "agent_id")?;
        let found = agents::check_credential(&self.db, agent_id, &req.credential).await?;
        let (token, expires_at) = self.issuer.issue(
            PrincipalKind::Agent,
            &found.id.to_string(),
            &found.company_id.to_string(),
            vec![],
        )?;
        Ok(Response::new(pb::AgentTokenResponse {
            access_token: Some(AccessToken { token, expires_at }),
        }))
    }

    async fn list_agents(
        &self,
        request: Request<pb::ListAgentsRequest>,
    ) -> Result<Response<pb::ListAgentsResponse>, Status> {
        let (user, ip) = caller!(self, request, EVERYONE);
        let agents = agents::list(&self.db, &Caller::new(&user, &ip))
            .await?
            .into_iter()
            .map(pb::Agent::from)
            .collect();
        Ok(Response::new(pb::ListAgentsResponse { agents }))
    }

    async fn revoke_agent(
        &self,
        request: Request<pb::RevokeAgentRequest>,
    ) -> Result<Response<pb::RevokeAgentResponse>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let id = agent_id(&request.get_ref().agent_id)?;
        agents::revoke(&self.db, &Caller::new(&user, &ip), id).await?;
        Ok(Response::new(pb::RevokeAgentResponse {}))
    }

    async fn rename_agent(
        &self,
        request: Request<pb::RenameAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let ask = RenameAgent::try_from(request.get_ref())?;
        let caller = Caller::new(&user, &ip);
        let view = agents::rename(&self.db, &caller, ask.id, ask.hostname).await?;
        Ok(Response::new(view.into()))
    }

    async fn move_agent(
        &self,
        request: Request<pb::MoveAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let ask = MoveAgent::try_from(request.get_ref())?;
        let caller = Caller::new(&user, &ip);
        let view = agents::move_to(&self.db, &caller, ask.id, ask.group).await?;
        Ok(Response::new(view.into()))
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let (user, ip) = caller!(self, request, EVERYONE);
        let groups = groups::list(&self.db, &Caller::new(&user, &ip))
            .await?
            .into_iter()
            .map(pb::Group::from)
            .collect();
        Ok(Response::new(pb::ListGroupsResponse { groups }))
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let new = groups::NewGroup::try_from(request.into_inner())?;
        let view = groups::create(&self.db, &Caller::new(&user, &ip), new).await?;
        Ok(Response::new(view.into()))
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let change = groups::GroupChange::try_from(request.into_inner())?;
        let view = groups::update(&self.db, &Caller::new(&user, &ip), change).await?;
        Ok(Response::new(view.into()))
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let id = super::convert::group_id(&request.get_ref().group_id)?;
        groups::delete(&self.db, &Caller::new(&user, &ip), id).await?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    async fn set_quota(
        &self,
        request: Request<pb::SetQuotaRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (user, ip) = caller!(self, request, OWNER);
        let quota = QuotaBytes::try_from(request.get_ref().quota_bytes)?;
        let view = company::set_quota(&self.db, &Caller::new(&user, &ip), quota).await?;
        Ok(Response::new(self.company_response(view)))
    }

    async fn set_personal_key(
        &self,
        request: Request<pb::SetPersonalKeyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (user, ip) = caller!(self, request, OWNER);
        let sealed = &request.get_ref().personal_key;
        let view = company::set_personal_key(&self.db, &Caller::new(&user, &ip), sealed).await?;
        Ok(Response::new(self.company_response(view)))
    }

    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let (user, ip) = caller!(self, request, ADMINS);
        let query = usage::UsageQuery::try_from(request.get_ref())?;
        let days = usage::get(&self.db, &Caller::new(&user, &ip), query)
            .await?
            .into_iter()
            .map(pb::UsageDay::from)
            .collect();
        Ok(Response::new(pb::GetUsageResponse { days }))
    }

    async fn check_in(
        &self,
        request: Request<pb::CheckInRequest>,
    ) -> Result<Response<pb::CheckInResponse>, Status> {
        let (agent, scope) = self.agent(&request).await?;
        let version = request.get_ref().policy_version;
        let done = agents::check_in(&self.db, scope, agent, version).await?;
        Ok(Response::new(done.into()))
    }

    async fn report_backup(
        &self,
        request: Request<pb::ReportBackupRequest>,
    ) -> Result<Response<pb::ReportBackupResponse>, Status> {
        let (agent, _) = self.agent(&request).await?;
        let req = request.get_ref();
        agents::report(&self.db, &agent, req.ok, &req.error).await?;
        Ok(Response::new(pb::ReportBackupResponse {}))
    }
}
