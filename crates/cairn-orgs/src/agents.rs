//! Agents of a company: machine tokens, listing, revocation, seat counts.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};

use cairn_core::{AgentId, EntityKind, Error};
use cairn_entity::regional::{agent, company};
use cairn_entity::{CompanyScope, db_err};

use crate::enroll::secret_hash;

/// An agent whose credential matches and that is not revoked.
pub(crate) async fn check_credential(
    db: &DatabaseConnection,
    agent_id: AgentId,
    credential: &str,
) -> Result<agent::Model, Error> {
    let bad = || Error::Unauthenticated("unknown agent or wrong credential".into());
    let found = agent::Entity::find_by_id(agent_id.0)
        .one(db)
        .await
        .map_err(db_err("finding an agent"))?
        .ok_or_else(bad)?;
    // Hashes of 192-bit secrets: comparing them leaks nothing useful.
    if found.credential_hash != secret_hash(credential) {
        return Err(bad());
    }
    if found.revoked_at.is_some() {
        return Err(Error::Unauthenticated("this agent was revoked".into()));
    }
    Ok(found)
}

pub(crate) async fn list(
    db: &DatabaseConnection,
    scope: CompanyScope,
) -> Result<Vec<agent::Model>, Error> {
    agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .order_by_asc(agent::Column::EnrolledAt)
        .all(db)
        .await
        .map_err(db_err("listing agents"))
}

/// Revokes an agent of the company: its seat is free and its credential dead.
pub(crate) async fn revoke(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent_id: AgentId,
) -> Result<(), Error> {
    let done = agent::Entity::update_many()
        .col_expr(agent::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(agent::Column::Id.eq(agent_id.0))
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err("revoking an agent"))?;
    if done.rows_affected == 0 {
        return Err(Error::not_found(EntityKind::Agent, agent_id));
    }
    Ok(())
}

/// Seats held by unrevoked agents.
pub(crate) async fn seats_used<C: sea_orm::ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
) -> Result<i64, Error> {
    Ok(agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .count(db)
        .await
        .map_err(db_err("counting seats"))? as i64)
}

pub(crate) async fn company_with_seats(
    db: &DatabaseConnection,
    scope: CompanyScope,
) -> Result<(company::Model, i64), Error> {
    let found = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
    let used = seats_used(db, scope).await?;
    Ok((found, used))
}
