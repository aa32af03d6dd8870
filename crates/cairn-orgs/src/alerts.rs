//! The idle-agent alert, mailed to a company's owners and admins.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::regional::{agent, company};
use cairn_entity::{CompanyScope, db_err};
use cairn_tenancy::mail::mail_admins;

/// The moment after which an agent without a completed backup is idle.
pub(crate) fn idle_since(agent: &agent::Model) -> DateTime<Utc> {
    agent.last_backup_at.unwrap_or(agent.enrolled_at)
}

pub(crate) fn is_idle(agent: &agent::Model, idle_days: i32, now: DateTime<Utc>) -> bool {
    idle_since(agent) + Duration::days(i64::from(idle_days)) <= now
}

/// Sends one alert per idle spell for every agent of the company that has not
/// completed a backup for the company's `idle_alert_days`. A completed backup
/// ends the spell (the commit clears `idle_alert_at`). Returns how many
/// alerts were queued.
pub(crate) async fn idle_agents(
    db: &DatabaseConnection,
    company: &company::Model,
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let scope = CompanyScope::for_maintenance(company);
    let candidates = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(company.id))
        .filter(agent::Column::RevokedAt.is_null())
        .filter(agent::Column::IdleAlertAt.is_null())
        .all(db)
        .await
        .map_err(db_err("finding idle agents"))?;
    let mut sent = 0;
    for a in candidates
        .into_iter()
        .filter(|a| is_idle(a, company.idle_alert_days, now))
    {
        let txn = cairn_entity::begin_write(db)
            .await
            .map_err(db_err("starting an idle alert"))?;
        // Conditional: two sweeps racing send one mail.
        let claimed = agent::Entity::update_many()
            .col_expr(agent::Column::IdleAlertAt, Expr::value(now))
            .filter(agent::Column::Id.eq(a.id))
            .filter(agent::Column::IdleAlertAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err("marking an idle alert"))?;
        if claimed.rows_affected == 1 {
            let last = match a.last_backup_at {
                Some(at) => format!(
                    "its last completed backup was on {}",
                    at.format("%Y-%m-%d %H:%M UTC")
                ),
                None => format!(
                    "it has not completed a backup since it was enrolled on {}",
                    a.enrolled_at.format("%Y-%m-%d")
                ),
            };
            mail_admins(
                &txn,
                scope,
                &format!(
                    "Cairn: {} has not backed up for {} days",
                    a.hostname, company.idle_alert_days
                ),
                &format!(
                    "The machine {} ({}) has not completed a backup for {} days: {last}.\n\n\
                     Check that it is switched on and that `cairn-agent run` is running; \
                     `cairnctl agents list` shows its last result.\n",
                    a.hostname, a.id, company.idle_alert_days
                ),
            )
            .await?;
            sent += 1;
        }
        txn.commit()
            .await
            .map_err(db_err("committing an idle alert"))?;
    }
    Ok(sent)
}
