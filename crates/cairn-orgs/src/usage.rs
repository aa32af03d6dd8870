//! Usage per company per day: seats used, bytes protected, bytes stored.

use chrono::{Duration, NaiveDate, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use cairn_core::Error;
use cairn_entity::regional::{agent, usage_day};
use cairn_entity::{CompanyScope, db_err};

use crate::caller::{ADMINS, Caller};

use cairn_tenancy::agents::seats_used;
use cairn_tenancy::quota::company_stored_bytes;

const DAY: &str = "%Y-%m-%d";

/// Today's figures, measured now.
pub(crate) async fn measure<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
) -> Result<usage_day::Model, Error> {
    let agents = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .all(db)
        .await
        .map_err(db_err("reading agents for usage"))?;
    let now = Utc::now();
    Ok(usage_day::Model {
        company_id: scope.uuid(),
        day: now.format(DAY).to_string(),
        seats_used: seats_used(db, scope).await?,
        logical_bytes: agents.iter().map(|a| a.bytes_protected).sum(),
        stored_bytes: company_stored_bytes(db, scope).await?,
        recorded_at: now,
    })
}

/// Measures today's figures and keeps them (the last measure of a day wins).
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
) -> Result<usage_day::Model, Error> {
    let today = measure(db, scope).await?;
    let row = usage_day::ActiveModel {
        company_id: Set(today.company_id),
        day: Set(today.day.clone()),
        seats_used: Set(today.seats_used),
        logical_bytes: Set(today.logical_bytes),
        stored_bytes: Set(today.stored_bytes),
        recorded_at: Set(today.recorded_at),
    };
    usage_day::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([usage_day::Column::CompanyId, usage_day::Column::Day])
                .update_columns([
                    usage_day::Column::SeatsUsed,
                    usage_day::Column::LogicalBytes,
                    usage_day::Column::StoredBytes,
                    usage_day::Column::RecordedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await
        .map_err(db_err("recording usage"))?;
    Ok(today)
}

/// A day as usage names it, `YYYY-MM-DD`.
pub(crate) fn parse_day(field: &str, value: &str) -> Result<NaiveDate, Error> {
    NaiveDate::parse_from_str(value, DAY)
        .map_err(|_| Error::invalid(field, format!("`{value}` is not a day (YYYY-MM-DD)")))
}

/// Which days to show: up to `to` (today when `None`), from `from` (29 days
/// before `to` when `None`); at most ten years at once.
#[derive(Debug, Default)]
pub(crate) struct UsageQuery {
    pub(crate) from: Option<NaiveDate>,
    pub(crate) to: Option<NaiveDate>,
}

/// One day's figures.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UsageDay {
    pub(crate) day: String,
    pub(crate) seats_used: i64,
    pub(crate) logical_bytes: i64,
    pub(crate) stored_bytes: i64,
}

/// The recorded days between `from` and `to` (inclusive), today measured now
/// (owners and admins).
pub(crate) async fn get<C: ConnectionTrait>(
    db: &C,
    caller: &Caller<'_>,
    query: UsageQuery,
) -> Result<Vec<UsageDay>, Error> {
    caller.require(ADMINS)?;
    let scope = caller.scope();
    let today = Utc::now().date_naive();
    let to = query.to.unwrap_or(today);
    let from = query.from.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(Error::invalid("from", "must not be after `to`"));
    }
    if (to - from).num_days() > 3660 {
        return Err(Error::invalid("from", "ask for at most ten years at once"));
    }
    if from <= today && today <= to {
        record(db, scope).await?;
    }
    let rows = usage_day::Entity::find()
        .filter(usage_day::Column::CompanyId.eq(scope.uuid()))
        .filter(usage_day::Column::Day.gte(from.format(DAY).to_string()))
        .filter(usage_day::Column::Day.lte(to.format(DAY).to_string()))
        .order_by_asc(usage_day::Column::Day)
        .all(db)
        .await
        .map_err(db_err("reading usage"))?;
    Ok(rows
        .into_iter()
        .map(|r| UsageDay {
            day: r.day,
            seats_used: r.seats_used,
            logical_bytes: r.logical_bytes,
            stored_bytes: r.stored_bytes,
        })
        .collect())
}
