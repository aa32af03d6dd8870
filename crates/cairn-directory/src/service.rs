//! gRPC adapter of the directory.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use tonic::{Request, Response, Status};

use cairn_auth::{PrincipalKind, TokenVerifier};
use cairn_core::validate::{Country, Email};
use cairn_core::{CompanyId, Error, Region};
use cairn_proto::directory::v1 as pb;

use crate::DirectoryRepo;

/// LocateLogin lookups one client address may make: a few a second, in
/// bursts of [`LOOKUP_BURST`] (a person logs in once; the cells' own
/// requests carry cell tokens and are not looked up this way).
const LOOKUPS_PER_SECOND: NonZeroU32 = NonZeroU32::new(5).unwrap();
const LOOKUP_BURST: NonZeroU32 = NonZeroU32::new(20).unwrap();
/// The lookup limiter forgets addresses it has not seen for a while every
/// this many lookups, so its memory does not grow with the addresses seen.
const FORGET_EVERY: u64 = 4096;

pub struct DirectoryService {
    repo: DirectoryRepo,
    cells: BTreeMap<Region, String>,
    verifier: Arc<TokenVerifier>,
    lookups: DefaultKeyedRateLimiter<IpAddr>,
    lookups_made: AtomicU64,
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
            lookups: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(LOOKUPS_PER_SECOND).allow_burst(LOOKUP_BURST),
            ),
            lookups_made: AtomicU64::new(0),
        }
    }

    /// Refuses a client address past its share of lookups (RATE_LIMITED,
    /// with the wait). A request without an address (not over TCP) is not
    /// limited here.
    fn limit_lookups<T>(&self, request: &Request<T>) -> Result<(), Error> {
        if self.lookups_made.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.lookups.retain_recent();
            self.lookups.shrink_to_fit();
        }
        let Some(addr) = request.remote_addr() else {
            return Ok(());
        };
        self.lookups.check_key(&addr.ip()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::RateLimited {
                message: "too many login lookups from this address".into(),
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
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
        self.limit_lookups(&request)?;
        let login = Email::parse("login", &request.get_ref().login)?;
        // An unknown login gets a cell too, the same one every time (chosen
        // by its keyed hash), where logging in answers "wrong email or
        // password" as for a wrong password: the answer does not tell
        // whether the login exists.
        let regions: Vec<Region> = self.cells.keys().copied().collect();
        let region = match self.repo.locate(login.as_str()).await? {
            Some(region) => region,
            None => self
                .repo
                .stand_in(login.as_str(), &regions)
                .ok_or_else(|| Error::Unavailable("no cell is known".into()))?,
        };
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
