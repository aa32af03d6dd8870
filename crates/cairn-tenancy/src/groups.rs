//! Which group a user or agent belongs to, and the backup policy a group
//! sets. The company's default group is created the first time it is needed.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use cairn_core::policy::{Policy, Schedule};
use cairn_core::{EntityKind, Error, GroupId};
use cairn_entity::regional::group;
use cairn_entity::{CompanyScope, db_err};

pub const DEFAULT_GROUP: &str = "Default";

fn json(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".into())
}

fn strings(field: &str, value: &str) -> Result<Vec<String>, Error> {
    serde_json::from_str(value)
        .map_err(|e| Error::internal(format!("stored {field} is not a JSON list: {e}")))
}

/// The policy a stored group sets.
pub fn policy_of(g: &group::Model) -> Result<Policy, Error> {
    Ok(Policy {
        include_paths: strings("include_paths", &g.include_paths)?,
        include_patterns: strings("include_patterns", &g.include_patterns)?,
        exclude_patterns: strings("exclude_patterns", &g.exclude_patterns)?,
        schedule: Schedule::parse("schedule", &g.schedule)
            .map_err(|e| Error::internal(format!("group {}: {e}", g.id)))?,
        keep_last: g.keep_last,
        keep_within_days: g.keep_within_days,
        bandwidth_kbps: g.bandwidth_kbps,
    })
}

/// Writes policy `p` into a group's columns.
pub fn set_policy(active: &mut group::ActiveModel, p: &Policy) {
    active.include_paths = Set(json(&p.include_paths));
    active.include_patterns = Set(json(&p.include_patterns));
    active.exclude_patterns = Set(json(&p.exclude_patterns));
    active.schedule = Set(p.schedule.to_string());
    active.keep_last = Set(p.keep_last);
    active.keep_within_days = Set(p.keep_within_days);
    active.bandwidth_kbps = Set(p.bandwidth_kbps);
}

/// A new group of the company with policy `p` and no quota, not yet stored.
pub fn new_group(
    scope: CompanyScope,
    name: String,
    is_default: bool,
    p: &Policy,
) -> group::ActiveModel {
    let now = Utc::now();
    let mut active = group::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(scope.uuid()),
        name: Set(name),
        is_default: Set(is_default),
        quota_bytes: Set(None),
        quota_alert_at: Set(None),
        policy_version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_policy(&mut active, p);
    active
}

/// The company's default group, created with the default policy the first
/// time it is needed.
pub async fn default_group<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
) -> Result<group::Model, Error> {
    let find = || {
        group::Entity::find()
            .filter(group::Column::CompanyId.eq(scope.uuid()))
            .filter(group::Column::IsDefault.eq(true))
            .one(db)
    };
    if let Some(found) = find().await.map_err(db_err("finding the default group"))? {
        return Ok(found);
    }
    let inserted = new_group(scope, DEFAULT_GROUP.into(), true, &Policy::default())
        .insert(db)
        .await;
    match inserted {
        Ok(g) => Ok(g),
        // Another call created it first (unique name per company).
        Err(_) => find()
            .await
            .map_err(db_err("finding the default group"))?
            .ok_or_else(|| Error::internal("the default group could not be created")),
    }
}

pub async fn find<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    id: GroupId,
) -> Result<group::Model, Error> {
    group::Entity::find_by_id(id.0)
        .filter(group::Column::CompanyId.eq(scope.uuid()))
        .one(db)
        .await
        .map_err(db_err("finding a group"))?
        .ok_or_else(|| Error::not_found(EntityKind::Group, id))
}

/// A group by the id in a request field, or the default group when empty.
pub async fn find_or_default<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    field: &str,
    id: &str,
) -> Result<group::Model, Error> {
    if id.is_empty() {
        default_group(db, scope).await
    } else {
        find(db, scope, GroupId::parse(id, field)?).await
    }
}

/// The group a user or agent with this stored group id belongs to.
pub async fn resolve<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    id: Option<uuid::Uuid>,
) -> Result<group::Model, Error> {
    if let Some(id) = id {
        let found = group::Entity::find_by_id(id)
            .filter(group::Column::CompanyId.eq(scope.uuid()))
            .one(db)
            .await
            .map_err(db_err("finding a group"))?;
        if let Some(found) = found {
            return Ok(found);
        }
    }
    default_group(db, scope).await
}

/// Rows of group `g`: those naming it, and for the default group those naming
/// none.
pub fn member_of<Col: ColumnTrait>(col: Col, g: &group::Model) -> Expr {
    if g.is_default {
        col.eq(g.id).or(col.is_null())
    } else {
        col.eq(g.id)
    }
}
