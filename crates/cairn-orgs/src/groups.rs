//! Managing groups of users and agents and the backup policy each group
//! sets: listing, creating, updating and deleting them. Resolving which group
//! a row belongs to is shared with the other services (`cairn_tenancy::groups`).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use cairn_core::policy::Policy;
use cairn_core::validate::text;
use cairn_core::{EntityKind, Error, GroupId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{agent, group, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_proto::orgs::v1 as pb;
pub(crate) use cairn_tenancy::groups::find;
use cairn_tenancy::groups::{default_group, member_of, new_group, policy_of, set_policy};

fn quota(field: &str, bytes: i64) -> Result<Option<i64>, Error> {
    match bytes {
        0 => Ok(None),
        b if b > 0 => Ok(Some(b)),
        _ => Err(Error::invalid(
            field,
            "must be a number of bytes, or 0 for no quota",
        )),
    }
}

pub(crate) async fn to_proto<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    g: group::Model,
) -> Result<pb::Group, Error> {
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
    Ok(pb::Group {
        group_id: g.id.to_string(),
        name: g.name.clone(),
        is_default: g.is_default,
        policy: Some(policy_of(&g)?.to_proto()),
        policy_version: g.policy_version,
        quota_bytes: g.quota_bytes.unwrap_or(0),
        stored_bytes,
        users,
        agents,
    })
}

pub(crate) async fn list(
    db: &DatabaseConnection,
    scope: CompanyScope,
) -> Result<Vec<pb::Group>, Error> {
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
        out.push(to_proto(db, scope, g).await?);
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

pub(crate) async fn create(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    req: pb::CreateGroupRequest,
) -> Result<pb::Group, Error> {
    let name = text("name", &req.name, 100)?;
    let quota_bytes = quota("quota_bytes", req.quota_bytes)?;
    let default = default_group(db, scope).await?;
    let policy = match &req.policy {
        Some(p) => Policy::from_proto("policy", p)?,
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
    to_proto(db, scope, g).await
}

pub(crate) async fn update(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    req: pb::UpdateGroupRequest,
) -> Result<pb::Group, Error> {
    let id = GroupId::parse(&req.group_id, "group_id")?;
    let name = req.name.map(|n| text("name", &n, 100)).transpose()?;
    let policy = req
        .policy
        .as_ref()
        .map(|p| Policy::from_proto("policy", p))
        .transpose()?;
    let quota_bytes = req
        .quota_bytes
        .map(|q| quota("quota_bytes", q))
        .transpose()?;
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a group update"))?;
    let found = find(&txn, scope, id).await?;
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
    to_proto(db, scope, g).await
}

/// Deletes a group; its users and agents go to the default group.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    scope: CompanyScope,
    actor: &Actor<'_>,
    id: GroupId,
) -> Result<(), Error> {
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a group delete"))?;
    let found = find(&txn, scope, id).await?;
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
