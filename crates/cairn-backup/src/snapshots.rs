//! Snapshots: commit (last, after every chunk is stored), list, get, delete.

use std::collections::HashSet;

use futures::{Stream, StreamExt};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use cairn_core::validate::text;
use cairn_core::{AgentId, ChunkId, EntityKind, Error, SnapshotId};
use cairn_entity::regional::{agent, snapshot, snapshot_refs};
use cairn_entity::{CompanyScope, begin_write, db_err};
use cairn_proto::backup::v1::{self as pb, commit_snapshot_request::Part};

use crate::index::{QUERY_BATCH, parse_ids, present};

pub(crate) struct Commit {
    pub(crate) header: pb::SnapshotHeader,
    pub(crate) tree: ChunkId,
    pub(crate) chunks: Vec<ChunkId>,
}

/// Reads a commit: the header, then batches of referenced chunk ids.
pub(crate) async fn receive<S>(mut stream: S) -> Result<Commit, Error>
where
    S: Stream<Item = Result<pb::CommitSnapshotRequest, tonic::Status>> + Unpin,
{
    let header = match stream.next().await {
        Some(Ok(pb::CommitSnapshotRequest {
            part: Some(Part::Header(h)),
        })) => h,
        Some(Ok(_)) => {
            return Err(Error::invalid(
                "header",
                "the first message must be the snapshot header",
            ));
        }
        Some(Err(status)) => return Err(Error::invalid("stream", status.message().to_owned())),
        None => return Err(Error::invalid("header", "empty commit")),
    };
    let tree = ChunkId::from_slice(&header.tree_id, "header.tree_id")?;
    text("header.hostname", &header.hostname, 253)?;
    if header.paths.is_empty() || header.paths.len() > 1000 {
        return Err(Error::invalid("header.paths", "must name 1 to 1000 paths"));
    }
    for path in &header.paths {
        if path.is_empty() || path.len() > 4096 {
            return Err(Error::invalid(
                "header.paths",
                "each path must be 1 to 4096 bytes",
            ));
        }
    }
    let mut unique = HashSet::new();
    unique.insert(tree);
    while let Some(message) = stream.next().await {
        match message
            .map_err(|s| Error::invalid("stream", s.message().to_owned()))?
            .part
        {
            Some(Part::ChunkIds(batch)) => unique.extend(parse_ids("chunk_ids.ids", &batch.ids)?),
            Some(Part::Header(_)) => return Err(Error::invalid("header", "sent twice")),
            None => return Err(Error::invalid("part", "empty message")),
        }
    }
    Ok(Commit {
        header,
        tree,
        chunks: unique.into_iter().collect(),
    })
}

/// Which agents' snapshots a caller may see.
#[derive(Clone, Debug)]
pub(crate) enum Visible {
    All,
    Agents(Vec<uuid::Uuid>),
}

impl Visible {
    fn allows(&self, agent: uuid::Uuid) -> bool {
        match self {
            Visible::All => true,
            Visible::Agents(ids) => ids.contains(&agent),
        }
    }
}

/// How many snapshots of one agent are kept after a commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retention {
    pub(crate) keep_last: usize,
    pub(crate) keep_within_days: i64,
}

pub(crate) async fn commit(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
    retention: Retention,
    commit: Commit,
) -> Result<snapshot::Model, Error> {
    // Chunks the agent's previous snapshot referenced are stored (nothing
    // removes chunks a snapshot references); only the others are looked up.
    let parent = previous_refs(db, scope, agent).await?;
    let new: Vec<ChunkId> = commit
        .chunks
        .iter()
        .filter(|id| !parent.contains(&id.0))
        .copied()
        .collect();
    let held = present(db, scope, &new).await?;
    if held.len() != new.len() {
        let missing = new.iter().find(|id| !held.contains(id)).copied();
        return Err(Error::invalid(
            "chunk_ids",
            format!(
                "{} referenced chunks are not stored for this company (first: {})",
                new.len() - held.len(),
                missing.map(|m| m.to_hex()).unwrap_or_default()
            ),
        ));
    }
    let mut sorted = commit.chunks;
    sorted.sort_unstable();
    let mut refs = Vec::with_capacity(sorted.len() * 32);
    for id in &sorted {
        refs.extend_from_slice(&id.0);
    }
    let header = commit.header;
    let stats = header.stats.unwrap_or_default();
    let id = SnapshotId::new();
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a snapshot commit"))?;
    let row = snapshot::ActiveModel {
        id: Set(id.0),
        company_id: Set(scope.uuid()),
        agent_id: Set(agent.0),
        hostname: Set(header.hostname.trim().to_owned()),
        paths: Set(serde_json::to_string(&header.paths)
            .map_err(|e| Error::internal_with("encoding paths", e))?),
        started_at: Set(header.started_at),
        finished_at: Set(header.finished_at),
        tree_id: Set(commit.tree.0.to_vec()),
        files: Set(stats.files as i64),
        dirs: Set(stats.dirs as i64),
        bytes: Set(stats.bytes as i64),
        created_at: Set(chrono::Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(db_err("recording a snapshot"))?;
    snapshot_refs::ActiveModel {
        snapshot_id: Set(id.0),
        company_id: Set(scope.uuid()),
        chunk_ids: Set(refs),
    }
    .insert(&txn)
    .await
    .map_err(db_err("recording snapshot chunks"))?;
    cairn_orgs::agents::record_backup(&txn, agent, stats.bytes as i64).await?;
    let forgotten = apply_retention(&txn, scope, agent, retention).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot"))?;
    tracing::info!(company = %scope.company(), snapshot = %id, forgotten, "snapshot committed");
    Ok(row)
}

/// The chunk ids the agent's newest snapshot references.
async fn previous_refs(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: AgentId,
) -> Result<HashSet<[u8; 32]>, Error> {
    let newest: Option<uuid::Uuid> = snapshot::Entity::find()
        .select_only()
        .column(snapshot::Column::Id)
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::AgentId.eq(agent.0))
        .order_by_desc(snapshot::Column::CreatedAt)
        .order_by_desc(snapshot::Column::Id)
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("finding an agent's newest snapshot"))?;
    let Some(newest) = newest else {
        return Ok(HashSet::new());
    };
    let refs = snapshot_refs::Entity::find_by_id(newest)
        .filter(snapshot_refs::Column::CompanyId.eq(scope.uuid()))
        .one(db)
        .await
        .map_err(db_err("reading a snapshot's chunks"))?;
    Ok(refs
        .map(|r| {
            r.chunk_ids
                .chunks_exact(32)
                .filter_map(|id| <[u8; 32]>::try_from(id).ok())
                .collect()
        })
        .unwrap_or_default())
}

/// Forgets the agent's snapshots the policy no longer keeps: all but the
/// newest `keep_last` that are older than `keep_within_days`.
async fn apply_retention<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    agent: AgentId,
    retention: Retention,
) -> Result<usize, Error> {
    let rows = snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::AgentId.eq(agent.0))
        .order_by_desc(snapshot::Column::CreatedAt)
        .order_by_desc(snapshot::Column::Id)
        .all(db)
        .await
        .map_err(db_err("listing an agent's snapshots"))?;
    let cutoff = chrono::Utc::now() - chrono::Duration::days(retention.keep_within_days);
    let expired: Vec<uuid::Uuid> = rows
        .iter()
        .skip(retention.keep_last)
        .filter(|r| r.created_at < cutoff)
        .map(|r| r.id)
        .collect();
    for batch in expired.chunks(QUERY_BATCH) {
        snapshot_refs::Entity::delete_many()
            .filter(snapshot_refs::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot_refs::Column::SnapshotId.is_in(batch.iter().copied()))
            .exec(db)
            .await
            .map_err(db_err("forgetting snapshot chunks"))?;
        snapshot::Entity::delete_many()
            .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot::Column::Id.is_in(batch.iter().copied()))
            .exec(db)
            .await
            .map_err(db_err("forgetting snapshots"))?;
    }
    Ok(expired.len())
}

pub(crate) async fn list(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    agent: Option<AgentId>,
) -> Result<Vec<snapshot::Model>, Error> {
    let mut query = snapshot::Entity::find().filter(snapshot::Column::CompanyId.eq(scope.uuid()));
    if let Visible::Agents(ids) = visible {
        query = query.filter(snapshot::Column::AgentId.is_in(ids.iter().copied()));
    }
    if let Some(agent) = agent {
        // Naming another company's agent is NOT_FOUND, not an empty list.
        let known = agent::Entity::find()
            .filter(agent::Column::CompanyId.eq(scope.uuid()))
            .filter(agent::Column::Id.eq(agent.0))
            .one(db)
            .await
            .map_err(db_err("finding an agent"))?;
        if known.is_none() || !visible.allows(agent.0) {
            return Err(Error::not_found(EntityKind::Agent, agent));
        }
        query = query.filter(snapshot::Column::AgentId.eq(agent.0));
    }
    query
        .order_by_asc(snapshot::Column::CreatedAt)
        .all(db)
        .await
        .map_err(db_err("listing snapshots"))
}

pub(crate) async fn get(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    id: SnapshotId,
) -> Result<snapshot::Model, Error> {
    snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::Id.eq(id.0))
        .one(db)
        .await
        .map_err(db_err("finding a snapshot"))?
        .filter(|row| visible.allows(row.agent_id))
        .ok_or_else(|| Error::not_found(EntityKind::Snapshot, id))
}

/// Forgets a snapshot; its chunks stay until garbage collection.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    id: SnapshotId,
) -> Result<(), Error> {
    get(db, scope, visible, id).await?;
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a snapshot delete"))?;
    let done = snapshot::Entity::delete_many()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::Id.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("deleting a snapshot"))?;
    if done.rows_affected == 0 {
        return Err(Error::not_found(EntityKind::Snapshot, id));
    }
    snapshot_refs::Entity::delete_many()
        .filter(snapshot_refs::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot_refs::Column::SnapshotId.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("deleting snapshot chunks"))?;
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot delete"))
}

pub(crate) fn to_proto(row: snapshot::Model) -> pb::Snapshot {
    pb::Snapshot {
        snapshot_id: row.id.to_string(),
        agent_id: row.agent_id.to_string(),
        hostname: row.hostname,
        paths: serde_json::from_str(&row.paths).unwrap_or_default(),
        started_at: row.started_at,
        finished_at: row.finished_at,
        tree_id: row.tree_id,
        stats: Some(pb::SnapshotStats {
            files: row.files as u64,
            dirs: row.dirs as u64,
            bytes: row.bytes as u64,
        }),
    }
}
