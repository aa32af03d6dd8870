//! gRPC adapter of the backup service.

use futures::StreamExt;
use sea_orm::DatabaseConnection;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use cairn_auth::{Authenticator, PrincipalKind};
use cairn_core::{AgentId, Error, SnapshotId};
use cairn_entity::CompanyScope;
use cairn_entity::regional::agent;
use cairn_proto::backup::v1 as pb;
use cairn_store::CellStore;
use cairn_tenancy::access::{self, EVERYONE};

use super::convert::{
    missing_query, pack_upload, parse_ids, read_response, snapshot_commit, snapshot_to_proto,
};
use crate::holdings::{self, Holder};
use crate::snapshots::{Caller, Visible};
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

    /// An agent of the company, or one of its users, as the database knows
    /// them now: a revoked agent or a removed user is refused at once.
    async fn caller<T>(&self, request: &Request<T>) -> Result<(Caller, CompanyScope), Error> {
        let claims = self.auth.authenticate(request)?;
        if claims.kind == PrincipalKind::Agent {
            let (agent, scope) = access::agent_from_claims(&self.db, &claims).await?;
            Ok((Caller::Agent(agent), scope))
        } else {
            let user = access::user_from_claims(&self.db, claims, EVERYONE).await?;
            let scope = user.scope;
            Ok((Caller::User(user), scope))
        }
    }

    /// Only an enrolled agent writes backups.
    async fn agent<T>(&self, request: &Request<T>) -> Result<(agent::Model, CompanyScope), Error> {
        let claims = self.auth.authenticate(request)?;
        access::agent_from_claims(&self.db, &claims).await
    }

    /// Whose snapshots the caller sees.
    async fn visible(&self, caller: &Caller, scope: CompanyScope) -> Result<Visible, Error> {
        snapshots::visible(&self.db, scope, caller).await
    }
}

/// Read batches, turned into responses as they go out (one box per call).
type ReadStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<pb::ReadChunksResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::backup_service_server::BackupService for BackupService {
    async fn find_missing_chunks(
        &self,
        request: Request<pb::FindMissingChunksRequest>,
    ) -> Result<Response<pb::FindMissingChunksResponse>, Status> {
        let (agent, scope) = self.agent(&request).await?;
        let asked = missing_query(request.get_ref())?;
        let missing = holdings::missing(&self.db, scope, Holder::of(&agent), &asked)
            .await?
            .into_iter()
            .map(|id| id.0.to_vec())
            .collect();
        Ok(Response::new(pb::FindMissingChunksResponse { missing }))
    }

    async fn upload_pack(
        &self,
        request: Request<Streaming<pb::UploadPackRequest>>,
    ) -> Result<Response<pb::UploadPackResponse>, Status> {
        let (agent, scope) = self.agent(&request).await?;
        let ip = cairn_auth::client_ip(&request);
        let upload = pack_upload(request.into_inner()).await?;
        let (chunks_added, pack_id) =
            ingest::receive_and_store(&self.db, &self.store, scope, &agent, &ip, upload).await?;
        if let Err(err) = cairn_tenancy::quota::alert_if_near(&self.db, scope, &agent).await {
            tracing::warn!(error = %err, "could not check the quota alert");
        }
        Ok(Response::new(pb::UploadPackResponse {
            chunks_added,
            pack_id: pack_id.0.to_vec(),
        }))
    }

    async fn commit_snapshot(
        &self,
        request: Request<Streaming<pb::CommitSnapshotRequest>>,
    ) -> Result<Response<pb::CommitSnapshotResponse>, Status> {
        let (agent, scope) = self.agent(&request).await?;
        let commit = snapshot_commit(request.into_inner()).await?;
        let row = snapshots::commit_for_agent(&self.db, scope, &agent, commit).await?;
        Ok(Response::new(pb::CommitSnapshotResponse {
            snapshot: Some(snapshot_to_proto(row)),
        }))
    }

    async fn list_snapshots(
        &self,
        request: Request<pb::ListSnapshotsRequest>,
    ) -> Result<Response<pb::ListSnapshotsResponse>, Status> {
        let (caller, scope) = self.caller(&request).await?;
        let agent = match request.get_ref().agent_id.as_str() {
            "" => None,
            id => Some(AgentId::parse(id, "agent_id")?),
        };
        let visible = self.visible(&caller, scope).await?;
        let rows = snapshots::list(&self.db, scope, &visible, agent).await?;
        Ok(Response::new(pb::ListSnapshotsResponse {
            snapshots: rows.into_iter().map(snapshot_to_proto).collect(),
        }))
    }

    async fn get_snapshot(
        &self,
        request: Request<pb::GetSnapshotRequest>,
    ) -> Result<Response<pb::GetSnapshotResponse>, Status> {
        let (caller, scope) = self.caller(&request).await?;
        let id = SnapshotId::parse(&request.get_ref().snapshot_id, "snapshot_id")?;
        let visible = self.visible(&caller, scope).await?;
        let row = snapshots::get(&self.db, scope, &visible, id).await?;
        Ok(Response::new(pb::GetSnapshotResponse {
            snapshot: Some(snapshot_to_proto(row)),
        }))
    }

    async fn delete_snapshot(
        &self,
        request: Request<pb::DeleteSnapshotRequest>,
    ) -> Result<Response<pb::DeleteSnapshotResponse>, Status> {
        let (caller, scope) = self.caller(&request).await?;
        let ip = cairn_auth::client_ip(&request);
        // Agents and members learn nothing about the id they sent.
        snapshots::may_delete(&caller)?;
        let id = SnapshotId::parse(&request.get_ref().snapshot_id, "snapshot_id")?;
        snapshots::delete(&self.db, scope, &caller, &ip, id).await?;
        Ok(Response::new(pb::DeleteSnapshotResponse {}))
    }

    type ReadChunksStream = ReadStream;

    async fn read_chunks(
        &self,
        request: Request<pb::ReadChunksRequest>,
    ) -> Result<Response<Self::ReadChunksStream>, Status> {
        let (caller, scope) = self.caller(&request).await?;
        if let Caller::User(user) = &caller
            && !user.is_admin()
        {
            return Err(Error::PermissionDenied(
                "members restore through their machine's agent".into(),
            )
            .into());
        }
        let snapshot = match request.get_ref().snapshot_id.as_str() {
            "" => {
                return Err(Error::invalid(
                    "snapshot_id",
                    "name the snapshot being restored: only its chunks are served",
                )
                .into());
            }
            id => SnapshotId::parse(id, "snapshot_id")?,
        };
        let ids = parse_ids("chunk_ids", &request.get_ref().chunk_ids)?;
        let visible = self.visible(&caller, scope).await?;
        let rx =
            read::read_chunks(&self.db, self.store.clone(), scope, &visible, snapshot, ids).await?;
        Ok(Response::new(Box::pin(
            ReceiverStream::new(rx).map(read_response),
        )))
    }
}
