//! Managing groups of users and agents and the backup policy each group
//! sets: listing, creating, updating and deleting them. Resolving which group
//! a row belongs to is shared with the other services (`cairn_tenancy::groups`).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use cairn_core::limits::{GroupName, QuotaBytes};
use cairn_core::policy::Policy;
use cairn_core::{EntityKind, Error, GroupId};
use cairn_entity::audit_log::record;
use cairn_entity::regional::{agent, group, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_tenancy::groups::{default_group, member_of, new_group, policy_of, set_policy};

use crate::caller::{ADMINS, Caller, EVERYONE};

/// A group to create; without a policy it starts with the default group's.
#[derive(Debug)]
pub(crate) struct NewGroup {
    pub(crate) name: GroupName,
    pub(crate) policy: Option<Policy>,
    pub(crate) quota: QuotaBytes,
}

/// A change to a group; `None` leaves a field as it is.
#[derive(Debug)]
pub(crate) struct GroupChange {
    pub(crate) id: GroupId,
    pub(crate) name: Option<GroupName>,
    pub(crate) policy: Option<Policy>,
    pub(crate) quota: Option<QuotaBytes>,
}

/// A group as the company's people see it.
#[derive(Debug)]
pub(crate) struct GroupView {
    pub(crate) id: GroupId,
    pub(crate) name: String,
    pub(crate) is_default: bool,
    pub(crate) policy: Policy,
    /// Rises by one on each policy change.
    pub(crate) policy_version: i64,
    pub(crate) quota_bytes: Option<i64>,
    pub(crate) stored_bytes: i64,
    pub(crate) users: i64,
    /// Unrevoked agents.
    pub(crate) agents: i64,
}

async fn describe<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    g: group::Model,
) -> Result<GroupView, Error> {
    let users = user::Entity::find()
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .filter(member_of(user::Column::GroupId, &g))
        .count(db)
        .await
        .map_err(db_err("counting a group's users"))? as i64;
    let agents = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .filter(member_of(agent::Column::GroupId, &g))
        .count(db)
        .await
        .map_err(db_err("counting a group's agents"))? as i64;
    let stored_bytes = cairn_tenancy::quota::group_stored_bytes(db, scope, &g).await?;
    Ok(GroupView {
        id: GroupId(g.id),
        policy: policy_of(&g)?,
        name: g.name,
        is_default: g.is_default,
        policy_version: g.policy_version,
        quota_bytes: g.quota_bytes,
        stored_bytes,
        users,
        agents,
    })
}

/// The company's groups, the default one first (created on first need).
pub(crate) async fn list(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
) -> Result<Vec<GroupView>, Error> {
    caller.require(EVERYONE)?;
    let scope = caller.scope();
    default_group(db, scope).await?;
    let rows = group::Entity::find()
        .filter(group::Column::CompanyId.eq(scope.uuid()))
        .order_by_desc(group::Column::IsDefault)
        .order_by_asc(group::Column::Name)
        .all(db)
        .await
        .map_err(db_err("listing groups"))?;
    let mut out = Vec::with_capacity(rows.len());
    for g in rows {
        out.push(describe(db, scope, g).await?);
    }
    Ok(out)
}

async fn name_is_free<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    name: &str,
    except: Option<uuid::Uuid>,
) -> Result<(), Error> {
    let mut q = group::Entity::find()
        .filter(group::Column::CompanyId.eq(scope.uuid()))
        .filter(group::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(group::Column::Id.ne(id));
    }
    if q.count(db).await.map_err(db_err("checking a group name"))? > 0 {
        return Err(Error::AlreadyExists {
            kind: EntityKind::Group,
        });
    }
    Ok(())
}

/// Creates a group (owners and admins); its name is unique in the company.
pub(crate) async fn create(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    new: NewGroup,
) -> Result<GroupView, Error> {
    caller.require(ADMINS)?;
    let (scope, actor) = (caller.scope(), &caller.actor());
    let name = new.name.into_string();
    let quota_bytes = new.quota.limit();
    let default = default_group(db, scope).await?;
    let policy = match new.policy {
        Some(p) => p,
        None => policy_of(&default)?,
    };
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a group"))?;
    name_is_free(&txn, scope, &name, None).await?;
    let mut active = new_group(scope, name, false, &policy);
    active.quota_bytes = Set(quota_bytes);
    let g = active
        .insert(&txn)
        .await
        .map_err(db_err("creating a group"))?;
    record(&txn, scope, actor, "group.create", "group").await?;
    txn.commit().await.map_err(db_err("committing a group"))?;
    describe(db, scope, g).await
}

/// Renames a group, changes its policy (its version rises by one) or its
/// quota (owners and admins).
pub(crate) async fn update(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    change: GroupChange,
) -> Result<GroupView, Error> {
    caller.require(ADMINS)?;
    let (scope, actor) = (caller.scope(), &caller.actor());
    let id = change.id;
    let name = change.name.map(GroupName::into_string);
    let policy = change.policy;
    let quota_bytes = change.quota.map(QuotaBytes::limit);
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a group update"))?;
    let found = cairn_tenancy::groups::find(&txn, scope, id).await?;
    let version = found.policy_version;
    let raise_quota = match (quota_bytes, found.quota_bytes) {
        (Some(new), old) => new.unwrap_or(i64::MAX) > old.unwrap_or(i64::MAX),
        (None, _) => false,
    };
    let mut active = found.into_active_model();
    if let Some(name) = name {
        name_is_free(&txn, scope, &name, Some(id.0)).await?;
        active.name = Set(name);
        record(&txn, scope, actor, "group.update", "name").await?;
    }
    if let Some(p) = &policy {
        set_policy(&mut active, p);
        active.policy_version = Set(version + 1);
        record(&txn, scope, actor, "group.update", "policy").await?;
    }
    if let Some(q) = quota_bytes {
        active.quota_bytes = Set(q);
        if raise_quota {
            // A higher quota gets a new alert when it is neared again.
            active.quota_alert_at = Set(None);
        }
        record(&txn, scope, actor, "group.update", "quota_bytes").await?;
    }
    active.updated_at = Set(Utc::now());
    let g = active
        .update(&txn)
        .await
        .map_err(db_err("updating a group"))?;
    txn.commit()
        .await
        .map_err(db_err("committing a group update"))?;
    describe(db, scope, g).await
}

/// Deletes a group (owners and admins); its users and agents go to the
/// default group, which is never deleted.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    id: GroupId,
) -> Result<(), Error> {
    caller.require(ADMINS)?;
    let (scope, actor) = (caller.scope(), &caller.actor());
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a group delete"))?;
    let found = cairn_tenancy::groups::find(&txn, scope, id).await?;
    if found.is_default {
        return Err(Error::FailedPrecondition(
            "the default group cannot be deleted".into(),
        ));
    }
    user::Entity::update_many()
        .col_expr(
            user::Column::GroupId,
            Expr::value(Option::<uuid::Uuid>::None),
        )
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .filter(user::Column::GroupId.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("moving users to the default group"))?;
    agent::Entity::update_many()
        .col_expr(
            agent::Column::GroupId,
            Expr::value(Option::<uuid::Uuid>::None),
        )
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::GroupId.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("moving agents to the default group"))?;
    group::Entity::delete_by_id(id.0)
        .exec(&txn)
        .await
        .map_err(db_err("deleting a group"))?;
    record(&txn, scope, actor, "group.delete", "group").await?;
    txn.commit()
        .await
        .map_err(db_err("committing a group delete"))
}
