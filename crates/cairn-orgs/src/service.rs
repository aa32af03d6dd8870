//! gRPC adapter of the organisations service.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use cairn_auth::{Authenticator, PrincipalKind, Role, TokenIssuer, client_ip};
use cairn_core::validate::text;
use cairn_core::{AgentId, Error, GroupId, UserId};
use cairn_crypto::MasterKey;
use cairn_entity::CompanyScope;
use cairn_entity::audit_log::Actor;
use cairn_entity::regional::agent;
use cairn_proto::common::v1::AccessToken;
use cairn_proto::orgs::v1 as pb;

use crate::{agents, company, enroll, groups, usage};
use cairn_tenancy::access::{self, ADMINS, EVERYONE};

pub struct OrgsService {
    db: DatabaseConnection,
    auth: Authenticator,
    issuer: Arc<TokenIssuer>,
    master: Arc<MasterKey>,
}

impl OrgsService {
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        issuer: Arc<TokenIssuer>,
        master: Arc<MasterKey>,
    ) -> Self {
        OrgsService {
            db,
            auth,
            issuer,
            master,
        }
    }

    async fn user<T>(
        &self,
        request: &Request<T>,
        roles: &[Role],
    ) -> Result<access::UserCaller, Error> {
        let claims = self.auth.authenticate(request)?;
        access::user_from_claims(&self.db, claims, roles).await
    }

    /// The calling agent; a revoked agent is refused at once.
    async fn agent<T>(&self, request: &Request<T>) -> Result<(agent::Model, CompanyScope), Error> {
        let claims = self.auth.authenticate(request)?;
        access::agent_from_claims(&self.db, &claims).await
    }
}

fn actor<'a>(caller: &access::UserCaller, ip: &'a str) -> Actor<'a> {
    Actor {
        id: caller.actor_id(),
        ip,
    }
}

impl OrgsService {
    async fn company(&self, scope: CompanyScope) -> Result<pb::GetCompanyResponse, Error> {
        let (company, used) = agents::company_with_seats(&self.db, scope).await?;
        Ok(pb::GetCompanyResponse {
            company_id: company.id.to_string(),
            name: company.name,
            industry: company.industry,
            employees: company.employees,
            country: company.country,
            region: self.auth.region().to_proto(),
            seats_total: company.seats,
            seats_used: used,
            phone: company.phone,
            city: company.city,
            state: company.state,
            postal_code: company.postal_code,
            quota_bytes: company.quota_bytes.unwrap_or(0),
            stored_bytes: cairn_tenancy::quota::company_stored_bytes(&self.db, scope).await?,
            idle_alert_days: company.idle_alert_days,
            personal_key: company.personal_key.is_some(),
        })
    }
}

#[tonic::async_trait]
impl pb::orgs_service_server::OrgsService for OrgsService {
    async fn get_company(
        &self,
        request: Request<pb::GetCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let caller = self.user(&request, EVERYONE).await?;
        Ok(Response::new(self.company(caller.scope).await?))
    }

    async fn update_company(
        &self,
        request: Request<pb::UpdateCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let ip = client_ip(&request);
        let scope = caller.scope;
        company::update(&self.db, scope, &actor(&caller, &ip), request.into_inner()).await?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn list_employee_counts(
        &self,
        request: Request<pb::ListEmployeeCountsRequest>,
    ) -> Result<Response<pb::ListEmployeeCountsResponse>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let changes = company::employee_counts(&self.db, caller.scope)
            .await?
            .into_iter()
            .map(|c| pb::EmployeeCountChange {
                previous: c.previous,
                employees: c.employees,
                changed_at: c.changed_at.timestamp(),
                changed_by: c.changed_by,
            })
            .collect();
        Ok(Response::new(pb::ListEmployeeCountsResponse { changes }))
    }

    async fn set_seats(
        &self,
        request: Request<pb::SetSeatsRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        // Seats are billing: the owner's call.
        let caller = self.user(&request, &[Role::Owner]).await?;
        let ip = client_ip(&request);
        let scope = caller.scope;
        company::set_seats(
            &self.db,
            scope,
            &actor(&caller, &ip),
            request.get_ref().seats,
        )
        .await?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn create_enrollment_key(
        &self,
        request: Request<pb::CreateEnrollmentKeyRequest>,
    ) -> Result<Response<pb::CreateEnrollmentKeyResponse>, Status> {
        // Members enroll their own machines; admins anyone's.
        let caller = self.user(&request, EVERYONE).await?;
        let scope = caller.scope;
        let req = request.get_ref();
        enroll::require_confirmed(&self.db, scope, caller.id()).await?;
        let owner = match req.owner_user_id.as_str() {
            "" => caller.id(),
            id => {
                let owner = UserId::parse(id, "owner_user_id")?;
                if owner != caller.id() && !caller.is_admin() {
                    return Err(Error::PermissionDenied(
                        "members can only enroll their own machines".into(),
                    )
                    .into());
                }
                access::find_user(&self.db, scope, owner).await?;
                owner
            }
        };
        let group = match req.group_id.as_str() {
            "" => None,
            _ if !caller.is_admin() => {
                return Err(Error::PermissionDenied(
                    "only owners and admins choose an agent's group".into(),
                )
                .into());
            }
            id => Some(
                groups::find(&self.db, scope, GroupId::parse(id, "group_id")?)
                    .await?
                    .id,
            ),
        };
        let key = enroll::create_key(
            &self.db,
            scope,
            self.auth.region(),
            caller.id(),
            owner,
            group,
            req.ttl_hours,
        )
        .await?;
        Ok(Response::new(pb::CreateEnrollmentKeyResponse {
            key: key.key,
            key_id: key.id.to_string(),
            expires_at: key.expires_at,
        }))
    }

    async fn enroll_agent(
        &self,
        request: Request<pb::EnrollAgentRequest>,
    ) -> Result<Response<pb::EnrollAgentResponse>, Status> {
        let req = request.into_inner();
        let (region, secret) = enroll::parse_key(&req.enrollment_key)?;
        if region != self.auth.region() {
            return Err(self.auth.wrong_region(region).into());
        }
        let hostname = text("hostname", &req.hostname, 253)?;
        let done = enroll::enroll(&self.db, &self.master, secret, hostname).await?;
        let (data_key, personal_key) = match done.key {
            enroll::CompanyKey::Managed(key) => (key.as_bytes().to_vec(), Vec::new()),
            enroll::CompanyKey::Personal(sealed) => (Vec::new(), sealed),
        };
        Ok(Response::new(pb::EnrollAgentResponse {
            agent_id: done.agent.to_string(),
            company_id: done.company.to_string(),
            region: region.to_proto(),
            credential: done.credential,
            data_key,
            personal_key,
        }))
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
        let caller = self.user(&request, EVERYONE).await?;
        // Members see their own machines.
        let owner = (!caller.is_admin()).then_some(caller.user.id);
        let agents = agents::list(&self.db, caller.scope, owner).await?;
        Ok(Response::new(pb::ListAgentsResponse { agents }))
    }

    async fn revoke_agent(
        &self,
        request: Request<pb::RevokeAgentRequest>,
    ) -> Result<Response<pb::RevokeAgentResponse>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let agent_id = AgentId::parse(&request.get_ref().agent_id, "agent_id")?;
        agents::revoke(&self.db, caller.scope, agent_id).await?;
        Ok(Response::new(pb::RevokeAgentResponse {}))
    }

    async fn rename_agent(
        &self,
        request: Request<pb::RenameAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let req = request.get_ref();
        let agent_id = AgentId::parse(&req.agent_id, "agent_id")?;
        let hostname = text("hostname", &req.hostname, 253)?;
        Ok(Response::new(
            agents::rename(&self.db, caller.scope, agent_id, hostname).await?,
        ))
    }

    async fn move_agent(
        &self,
        request: Request<pb::MoveAgentRequest>,
    ) -> Result<Response<pb::Agent>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let req = request.get_ref();
        let agent_id = AgentId::parse(&req.agent_id, "agent_id")?;
        let group = GroupId::parse(&req.group_id, "group_id")?;
        Ok(Response::new(
            agents::move_to(&self.db, caller.scope, agent_id, group).await?,
        ))
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let caller = self.user(&request, EVERYONE).await?;
        let groups = groups::list(&self.db, caller.scope).await?;
        Ok(Response::new(pb::ListGroupsResponse { groups }))
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let ip = client_ip(&request);
        let group = groups::create(
            &self.db,
            caller.scope,
            &actor(&caller, &ip),
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(group))
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let ip = client_ip(&request);
        let group = groups::update(
            &self.db,
            caller.scope,
            &actor(&caller, &ip),
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(group))
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let ip = client_ip(&request);
        let id = GroupId::parse(&request.get_ref().group_id, "group_id")?;
        groups::delete(&self.db, caller.scope, &actor(&caller, &ip), id).await?;
        Ok(Response::new(pb::DeleteGroupResponse {}))
    }

    async fn set_quota(
        &self,
        request: Request<pb::SetQuotaRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        // The quota is what the company pays for: the owner's call.
        let caller = self.user(&request, &[Role::Owner]).await?;
        let ip = client_ip(&request);
        let scope = caller.scope;
        company::set_quota(
            &self.db,
            scope,
            &actor(&caller, &ip),
            request.get_ref().quota_bytes,
        )
        .await?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn set_personal_key(
        &self,
        request: Request<pb::SetPersonalKeyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let caller = self.user(&request, &[Role::Owner]).await?;
        let ip = client_ip(&request);
        let scope = caller.scope;
        company::set_personal_key(
            &self.db,
            scope,
            &actor(&caller, &ip),
            &request.get_ref().personal_key,
        )
        .await?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let caller = self.user(&request, ADMINS).await?;
        let days = usage::get(&self.db, caller.scope, request.get_ref()).await?;
        Ok(Response::new(pb::GetUsageResponse { days }))
    }

    async fn check_in(
        &self,
        request: Request<pb::CheckInRequest>,
    ) -> Result<Response<pb::CheckInResponse>, Status> {
        let (agent, scope) = self.agent(&request).await?;
        let version = request.get_ref().policy_version;
        Ok(Response::new(
            agents::check_in(&self.db, scope, agent, version).await?,
        ))
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
