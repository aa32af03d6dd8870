//! Agent status every service of the cell shares: the seats agents hold and
//! what a completed backup records, inside the caller's transaction.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::{AgentId, Error};
use cairn_entity::regional::agent;
use cairn_entity::{CompanyScope, db_err};

/// Seats held by unrevoked agents.
pub async fn seats_used<C: ConnectionTrait>(db: &C, scope: CompanyScope) -> Result<i64, Error> {
    Ok(agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .count(db)
        .await
        .map_err(db_err("counting seats"))? as i64)
}

/// A snapshot was committed: the agent's backup completed now, protecting
/// `bytes`; an idle spell ends.
pub async fn record_backup<C: ConnectionTrait>(
    db: &C,
    agent_id: AgentId,
    bytes: i64,
) -> Result<(), Error> {
    let now = Utc::now();
    agent::Entity::update_many()
        .col_expr(agent::Column::LastSeenAt, Expr::value(now))
        .col_expr(agent::Column::LastAttemptAt, Expr::value(now))
        .col_expr(agent::Column::LastBackupAt, Expr::value(now))
        .col_expr(agent::Column::LastResult, Expr::value("ok"))
        .col_expr(agent::Column::LastError, Expr::value(""))
        .col_expr(agent::Column::BytesProtected, Expr::value(bytes))
        .col_expr(
            agent::Column::IdleAlertAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(agent::Column::Id.eq(agent_id.0))
        .exec(db)
        .await
        .map_err(db_err("recording a completed backup"))?;
    Ok(())
}
