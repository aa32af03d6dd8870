//! gRPC adapter of the backup service.

use sea_orm::DatabaseConnection;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use cairn_auth::{Authenticator, Claims, PrincipalKind, Role};
use cairn_core::{AgentId, Error, SnapshotId};
use cairn_entity::CompanyScope;
use cairn_proto::backup::v1 as pb;
use cairn_store::CellStore;

use crate::index::{parse_ids, present};
use crate::{ingest, read, snapshots};

pub struct BackupService {
    db: DatabaseConnection,
    store: CellStore,
    auth: Authenticator,
}

impl BackupService {
    pub fn new(db: DatabaseConnection, store: CellStore, auth: Authenticator) -> Self {
        BackupService { db, store, auth }
    }

    /// An agent of the company, or one of its users. An agent's token stops
    /// working the moment the agent is revoked or its company deleted.
    async fn caller<T>(&self, request: &Request<T>) -> Result<(Claims, CompanyScope), Error> {
        let claims = self.auth.authenticate(request)?;
        let scope = CompanyScope::new(claims.company_id()?);
        if claims.kind == PrincipalKind::Agent {
            let agent = AgentId::parse(&claims.sub, "token.sub")?;
            if !snapshots::agent_is_live(&self.db, scope, agent).await? {
                return Err(Error::Unauthenticated("this agent was revoked".into()));
            }
        } else {
            claims.require_role(&[Role::Owner, Role::Admin, Role::Member])?;
        }
        Ok((claims, scope))
    }

    /// Only an enrolled agent writes backups.
    async fn agent<T>(&self, request: &Request<T>) -> Result<(AgentId, CompanyScope), Error> {
        let (claims, scope) = self.caller(request).await?;
        claims.require_kind(PrincipalKind::Agent)?;
        Ok((AgentId::parse(&claims.sub, "token.sub")?, scope))
    }
}

type ReadStream = ReceiverStream<Result<pb::ReadChunksResponse, Status>>;

#[tonic::async_trait]
impl pb::backup_service_server::BackupService for BackupService {
    async fn find_missing_chunks(
        &self,
        request: Request<pb::FindMissingChunksRequest>,
    ) -> Result<Response<pb::FindMissingChunksResponse>, Status> {
        let (_, scope) = self.agent(&request).await?;
        let ids = parse_ids("chunk_ids", &request.get_ref().chunk_ids)?;
        let held = present(&self.db, scope, &ids).await?;
        let missing = ids
            .into_iter()
            .filter(|id| !held.contains(id))
            .map(|id| id.0.to_vec())
            .collect();
        Ok(Response::new(pb::FindMissingChunksResponse { missing }))
    }

    async fn upload_pack(
        &self,
        request: Request<Streaming<pb::UploadPackRequest>>,
    ) -> Result<Response<pb::UploadPackResponse>, Status> {
        let (_, scope) = self.agent(&request).await?;
        let (header, body) = ingest::receive(request.into_inner()).await?;
        let chunks_added = ingest::store_pack(&self.db, &self.store, scope, header, body).await?;
        Ok(Response::new(pb::UploadPackResponse { chunks_added }))
    }

    async fn commit_snapshot(
        &self,
        request: Request<Streaming<pb::CommitSnapshotRequest>>,
    ) -> Result<Response<pb::CommitSnapshotResponse>, Status> {
        let (agent, scope) = self.agent(&request).await?;
        let commit = snapshots::receive(request.into_inner()).await?;
        let row = snapshots::commit(&self.db, scope, agent, commit).await?;
        Ok(Response::new(pb::CommitSnapshotResponse {
            snapshot: Some(snapshots::to_proto(row)),
        }))
    }

    async fn list_snapshots(
        &self,
        request: Request<pb::ListSnapshotsRequest>,
    ) -> Result<Response<pb::ListSnapshotsResponse>, Status> {
        let (_, scope) = self.caller(&request).await?;
        let agent = match request.get_ref().agent_id.as_str() {
            "" => None,
            id => Some(AgentId::parse(id, "agent_id")?),
        };
        let rows = snapshots::list(&self.db, scope, agent).await?;
        Ok(Response::new(pb::ListSnapshotsResponse {
            snapshots: rows.into_iter().map(snapshots::to_proto).collect(),
        }))
    }

    async fn get_snapshot(
        &self,
        request: Request<pb::GetSnapshotRequest>,
    ) -> Result<Response<pb::GetSnapshotResponse>, Status> {
        let (_, scope) = self.caller(&request).await?;
        let id = SnapshotId::parse(&request.get_ref().snapshot_id, "snapshot_id")?;
        let row = snapshots::get(&self.db, scope, id).await?;
        Ok(Response::new(pb::GetSnapshotResponse {
            snapshot: Some(snapshots::to_proto(row)),
        }))
    }

    async fn delete_snapshot(
        &self,
        request: Request<pb::DeleteSnapshotRequest>,
    ) -> Result<Response<pb::DeleteSnapshotResponse>, Status> {
        let (claims, scope) = self.caller(&request).await?;
        if claims.kind != PrincipalKind::Agent {
            claims.require_role(&[Role::Owner, Role::Admin])?;
        }
        let id = SnapshotId::parse(&request.get_ref().snapshot_id, "snapshot_id")?;
        snapshots::delete(&self.db, scope, id).await?;
        Ok(Response::new(pb::DeleteSnapshotResponse {}))
    }

    type ReadChunksStream = ReadStream;

    async fn read_chunks(
        &self,
        request: Request<pb::ReadChunksRequest>,
    ) -> Result<Response<Self::ReadChunksStream>, Status> {
        let (_, scope) = self.caller(&request).await?;
        let ids = parse_ids("chunk_ids", &request.get_ref().chunk_ids)?;
        let rx = read::read_chunks(&self.db, self.store.clone(), scope, ids).await?;
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
