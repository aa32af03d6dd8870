//! gRPC adapter of the organisations service.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tonic::{Request, Response, Status};

use cairn_auth::{Authenticator, Claims, PrincipalKind, Role, TokenIssuer, client_ip};
use cairn_core::validate::text;
use cairn_core::{AgentId, Error, UserId};
use cairn_crypto::MasterKey;
use cairn_entity::CompanyScope;
use cairn_entity::audit_log::Actor;
use cairn_proto::common::v1::AccessToken;
use cairn_proto::orgs::v1 as pb;

use crate::{agents, company, enroll};

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

    /// An authenticated user of the company with one of `roles`.
    fn admin<T>(
        &self,
        request: &Request<T>,
        roles: &[Role],
    ) -> Result<(Claims, CompanyScope), Error> {
        let claims = self.auth.authenticate(request)?;
        claims.require_role(roles)?;
        let scope = CompanyScope::new(claims.company_id()?);
        Ok((claims, scope))
    }
}

const ADMINS: &[Role] = &[Role::Owner, Role::Admin];

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
        })
    }
}

#[tonic::async_trait]
impl pb::orgs_service_server::OrgsService for OrgsService {
    async fn get_company(
        &self,
        request: Request<pb::GetCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (_, scope) = self.admin(&request, &[Role::Owner, Role::Admin, Role::Member])?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn update_company(
        &self,
        request: Request<pb::UpdateCompanyRequest>,
    ) -> Result<Response<pb::GetCompanyResponse>, Status> {
        let (claims, scope) = self.admin(&request, ADMINS)?;
        let ip = client_ip(&request);
        let actor = Actor {
            id: format!("user:{}", claims.sub),
            ip: &ip,
        };
        company::update(&self.db, scope, &actor, request.into_inner()).await?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn list_employee_counts(
        &self,
        request: Request<pb::ListEmployeeCountsRequest>,
    ) -> Result<Response<pb::ListEmployeeCountsResponse>, Status> {
        let (_, scope) = self.admin(&request, ADMINS)?;
        let changes = company::employee_counts(&self.db, scope)
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
        let (claims, scope) = self.admin(&request, &[Role::Owner])?;
        let ip = client_ip(&request);
        let actor = Actor {
            id: format!("user:{}", claims.sub),
            ip: &ip,
        };
        company::set_seats(&self.db, scope, &actor, request.get_ref().seats).await?;
        Ok(Response::new(self.company(scope).await?))
    }

    async fn create_enrollment_key(
        &self,
        request: Request<pb::CreateEnrollmentKeyRequest>,
    ) -> Result<Response<pb::CreateEnrollmentKeyResponse>, Status> {
        let (claims, scope) = self.admin(&request, ADMINS)?;
        let user = UserId::parse(&claims.sub, "token.sub")?;
        enroll::require_confirmed(&self.db, scope, user).await?;
        let key = enroll::create_key(
            &self.db,
            scope,
            self.auth.region(),
            user,
            request.get_ref().ttl_hours,
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
        Ok(Response::new(pb::EnrollAgentResponse {
            agent_id: done.agent.to_string(),
            company_id: done.company.to_string(),
            region: region.to_proto(),
            credential: done.credential,
            data_key: done.data_key.as_bytes().to_vec(),
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
        let (_, scope) = self.admin(&request, ADMINS)?;
        let agents = agents::list(&self.db, scope)
            .await?
            .into_iter()
            .map(|a| pb::Agent {
                agent_id: a.id.to_string(),
                hostname: a.hostname,
                enrolled_at: a.enrolled_at.timestamp(),
            })
            .collect();
        Ok(Response::new(pb::ListAgentsResponse { agents }))
    }

    async fn revoke_agent(
        &self,
        request: Request<pb::RevokeAgentRequest>,
    ) -> Result<Response<pb::RevokeAgentResponse>, Status> {
        let (_, scope) = self.admin(&request, ADMINS)?;
        let agent_id = AgentId::parse(&request.get_ref().agent_id, "agent_id")?;
        agents::revoke(&self.db, scope, agent_id).await?;
        Ok(Response::new(pb::RevokeAgentResponse {}))
    }
}
