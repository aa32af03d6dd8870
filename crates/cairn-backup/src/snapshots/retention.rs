//! Retention: which of an agent's snapshots a commit forgets.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use cairn_core::{AgentId, Error};
use cairn_entity::regional::{snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, db_err};

use crate::index::{QUERY_BATCH, padded};

/// How many snapshots of one agent are kept after a commit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retention {
    pub(crate) keep_last: usize,
    pub(crate) keep_within_days: i64,
}

/// Forgets the agent's snapshots the policy no longer keeps: all but the
/// newest `keep_last` that are older than `keep_within_days`.
pub(super) async fn apply_retention<C: ConnectionTrait>(
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
        snapshot_ref_page::Entity::delete_many()
            .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot_ref_page::Column::SnapshotId.is_in(padded(batch)))
            .exec(db)
            .await
            .map_err(db_err("forgetting snapshot chunks"))?;
        snapshot::Entity::delete_many()
            .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
            .filter(snapshot::Column::Id.is_in(padded(batch)))
            .exec(db)
            .await
            .map_err(db_err("forgetting snapshots"))?;
    }
    Ok(expired.len())
}
