//! Storage quotas of companies and groups, and the alert at 90 percent.
//!
//! Stored bytes are the sizes of the company's packs in the bucket: what
//! dedup, compression and encryption leave. A group's share is the packs its
//! agents uploaded (a chunk shared with another group counts where it was
//! first uploaded).

use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
    UpdateMany,
};

use cairn_core::{EntityKind, Error};
use cairn_entity::regional::{agent, company, group, pack};
use cairn_entity::{CompanyScope, begin_write, db_err};

use crate::groups::{member_of, resolve};

/// Alert when stored bytes reach this share of a quota, in percent.
pub const ALERT_PERCENT: i64 = 90;

async fn sum_packs<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    group: Option<&group::Model>,
) -> Result<i64, Error> {
    let sum: Expr = Func::cast_as(
        Func::sum(Expr::col(pack::Column::Size)),
        Alias::new("BIGINT"),
    )
    .into();
    let mut q = pack::Entity::find()
        .select_only()
        .expr_as(Func::coalesce([sum, Expr::val(0i64)]), "total")
        .filter(pack::Column::CompanyId.eq(scope.uuid()));
    if let Some(g) = group {
        q = q.filter(
            pack::Column::AgentId.in_subquery(
                Query::select()
                    .column(agent::Column::Id)
                    .from(agent::Entity)
                    .and_where(agent::Column::CompanyId.eq(scope.uuid()))
                    .and_where(member_of(agent::Column::GroupId, g))
                    .to_owned(),
            ),
        );
    }
    let total: Option<i64> = q
        .into_tuple()
        .one(db)
        .await
        .map_err(db_err("summing pack sizes"))?;
    Ok(total.unwrap_or(0))
}

/// Bytes the company's packs take in the bucket.
pub async fn company_stored_bytes<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
) -> Result<i64, Error> {
    sum_packs(db, scope, None).await
}

/// Bytes of the packs the group's agents uploaded.
pub async fn group_stored_bytes<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    g: &group::Model,
) -> Result<i64, Error> {
    sum_packs(db, scope, Some(g)).await
}

fn gib(bytes: i64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Refuses a pack of `size` bytes that would take the company or the
/// agent's group past its quota. Call it inside the transaction that records
/// the pack, after locking the company row, so two uploads cannot both slip
/// under the limit.
pub async fn check_upload<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    agent: &agent::Model,
    size: i64,
) -> Result<(), Error> {
    let company = company::Entity::find_by_id(scope.uuid())
        .lock_exclusive()
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
    if let Some(quota) = company.quota_bytes {
        let stored = company_stored_bytes(db, scope).await?;
        if stored + size > quota {
            return Err(Error::QuotaExceeded(format!(
                "storage quota exceeded: the company stores {} of its {} quota and this upload \
                 needs {} more; ask the account owner to raise the quota",
                gib(stored),
                gib(quota),
                gib(size)
            )));
        }
    }
    let g = resolve(db, scope, agent.group_id).await?;
    if let Some(quota) = g.quota_bytes {
        let stored = group_stored_bytes(db, scope, &g).await?;
        if stored + size > quota {
            return Err(Error::QuotaExceeded(format!(
                "storage quota exceeded: group `{}` stores {} of its {} quota and this upload \
                 needs {} more; ask an admin to raise the group quota",
                g.name,
                gib(stored),
                gib(quota),
                gib(size)
            )));
        }
    }
    Ok(())
}

/// After a pack is committed: the first time the company or the agent's
/// group reaches 90 percent of its quota, the owners and admins get a mail.
pub async fn alert_if_near(
    db: &DatabaseConnection,
    scope: CompanyScope,
    agent: &agent::Model,
) -> Result<(), Error> {
    let company = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
    if let (Some(quota), None) = (company.quota_bytes, company.quota_alert_at) {
        let stored = company_stored_bytes(db, scope).await?;
        let claim = company::Entity::update_many()
            .col_expr(company::Column::QuotaAlertAt, Expr::value(Utc::now()))
            .filter(company::Column::Id.eq(scope.uuid()))
            .filter(company::Column::QuotaAlertAt.is_null());
        alert_once(db, scope, stored, quota, claim, |percent| {
            (
                format!(
                    "Cairn: {} has used {percent}% of its storage quota",
                    company.name
                ),
                format!(
                    "{} stores {} of its {} storage quota ({percent}%).\n\n\
                     When the quota is full, backups stop uploading. Raise the quota \
                     with `cairnctl company quota` or remove old data.\n",
                    company.name,
                    gib(stored),
                    gib(quota)
                ),
            )
        })
        .await?;
    }
    let g = resolve(db, scope, agent.group_id).await?;
    if let (Some(quota), None) = (g.quota_bytes, g.quota_alert_at) {
        let stored = group_stored_bytes(db, scope, &g).await?;
        let claim = group::Entity::update_many()
            .col_expr(group::Column::QuotaAlertAt, Expr::value(Utc::now()))
            .filter(group::Column::Id.eq(g.id))
            .filter(group::Column::QuotaAlertAt.is_null());
        alert_once(db, scope, stored, quota, claim, |percent| {
            (
                format!(
                    "Cairn: group {} of {} has used {percent}% of its storage quota",
                    g.name, company.name
                ),
                format!(
                    "Group {} stores {} of its {} storage quota ({percent}%).\n\n\
                     When the quota is full, its machines stop uploading. Raise it with \
                     `cairnctl groups update`.\n",
                    g.name,
                    gib(stored),
                    gib(quota)
                ),
            )
        })
        .await?;
    }
    Ok(())
}

/// Mails the owners and admins once `stored` reaches [`ALERT_PERCENT`] of
/// `quota`. `claim` marks the alert sent only if it was not yet: of two
/// uploads crossing the line, one mails. `mail` gives the subject and body
/// for the percentage used.
async fn alert_once<E: EntityTrait>(
    db: &DatabaseConnection,
    scope: CompanyScope,
    stored: i64,
    quota: i64,
    claim: UpdateMany<E>,
    mail: impl FnOnce(i64) -> (String, String),
) -> Result<(), Error> {
    if stored * 100 < quota * ALERT_PERCENT {
        return Ok(());
    }
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a quota alert"))?;
    let claimed = claim
        .exec(&txn)
        .await
        .map_err(db_err("marking a quota alert"))?;
    if claimed.rows_affected == 1 {
        let (subject, body) = mail(stored * 100 / quota);
        crate::mail::mail_admins(&txn, scope, &subject, &body).await?;
    }
    txn.commit()
        .await
        .map_err(db_err("committing a quota alert"))
}
