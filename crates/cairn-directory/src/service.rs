//! gRPC adapter of the directory.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use cairn_auth::{PrincipalKind, TokenVerifier};
use cairn_core::validate::{Country, Email};
use cairn_core::{CompanyId, EntityKind, Error, Region};
use cairn_proto::directory::v1 as pb;

use crate::DirectoryRepo;

pub struct DirectoryService {
    repo: DirectoryRepo,
    cells: BTreeMap<Region, String>,
    verifier: Arc<TokenVerifier>,
}

impl DirectoryService {
    /// `cells` maps each region to its public endpoint; `verifier` trusts the
    /// signing keys of those cells.
    pub fn new(
        repo: DirectoryRepo,
        cells: BTreeMap<Region, String>,
        verifier: Arc<TokenVerifier>,
    ) -> Self {
        DirectoryService {
            repo,
            cells,
            verifier,
        }
    }

    fn cell(&self, region: Region) -> Result<pb::Cell, Error> {
        let endpoint = self
            .cells
            .get(&region)
            .ok_or_else(|| Error::Unavailable(format!("no endpoint known for region {region}")))?;
        Ok(pb::Cell {
            region: region.to_proto(),
            endpoint: endpoint.clone(),
        })
    }

    /// Only a cell may change the directory; returns the cell's region.
    fn calling_cell<T>(&self, request: &Request<T>) -> Result<Region, Error> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Error::Unauthenticated("missing authorization bearer token".into()))?;
        let claims = self.verifier.verify(token)?;
        claims.require_kind(PrincipalKind::Cell)?;
        Ok(claims.region)
    }
}

#[tonic::async_trait]
impl pb::directory_service_server::DirectoryService for DirectoryService {
    async fn list_cells(
        &self,
        _: Request<pb::ListCellsRequest>,
    ) -> Result<Response<pb::ListCellsResponse>, Status> {
        let cells = self
            .cells
            .keys()
            .map(|r| self.cell(*r))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListCellsResponse { cells }))
    }

    async fn resolve_country(
        &self,
        request: Request<pb::ResolveCountryRequest>,
    ) -> Result<Response<pb::ResolveCountryResponse>, Status> {
        let country = Country::parse("country", &request.get_ref().country)?;
        Ok(Response::new(pb::ResolveCountryResponse {
            cell: Some(self.cell(country.region())?),
        }))
    }

    async fn locate_login(
        &self,
        request: Request<pb::LocateLoginRequest>,
    ) -> Result<Response<pb::LocateLoginResponse>, Status> {
        let login = Email::parse("login", &request.get_ref().login)?;
        let region = self
            .repo
            .locate(login.as_str())
            .await?
            .ok_or_else(|| Error::not_found(EntityKind::Login, "for this email"))?;
        Ok(Response::new(pb::LocateLoginResponse {
            cell: Some(self.cell(region)?),
        }))
    }

    async fn register_login(
        &self,
        request: Request<pb::RegisterLoginRequest>,
    ) -> Result<Response<pb::RegisterLoginResponse>, Status> {
        let region = self.calling_cell(&request)?;
        let req = request.into_inner();
        let login = Email::parse("login", &req.login)?;
        let company = CompanyId::parse(&req.company_id, "company_id")?;
        self.repo.register(login.as_str(), company, region).await?;
        Ok(Response::new(pb::RegisterLoginResponse {}))
    }

    async fn unregister_login(
        &self,
        request: Request<pb::UnregisterLoginRequest>,
    ) -> Result<Response<pb::UnregisterLoginResponse>, Status> {
        let region = self.calling_cell(&request)?;
        let login = Email::parse("login", &request.get_ref().login)?;
        self.repo.unregister(login.as_str(), region).await?;
        Ok(Response::new(pb::UnregisterLoginResponse {}))
    }
}
