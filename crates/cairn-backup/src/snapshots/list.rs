//! Listing and reading snapshots the caller may see.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use cairn_core::{AgentId, EntityKind, Error, SnapshotId};
use cairn_entity::regional::{agent, snapshot};
use cairn_entity::{CompanyScope, db_err};

use super::Visible;

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
