//! Agents of a company: machine tokens, listing, revocation, seat counts.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use cairn_core::{AgentId, EntityKind, Error, GroupId};
use cairn_entity::regional::{agent, company, group, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_proto::orgs::v1 as pb;

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

/// The company's agents; only `owner`'s machines when given.
pub(crate) async fn list(
    db: &DatabaseConnection,
    scope: CompanyScope,
    owner: Option<uuid::Uuid>,
) -> Result<Vec<pb::Agent>, Error> {
    let mut q = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null());
    if let Some(owner) = owner {
        q = q.filter(agent::Column::OwnerUserId.eq(owner));
    }
    let rows = q
        .order_by_asc(agent::Column::EnrolledAt)
        .all(db)
        .await
        .map_err(db_err("listing agents"))?;
    // The company, its groups and its people once for the whole list.
    let context = Context::load(db, scope).await?;
    Ok(rows.into_iter().map(|row| context.describe(row)).collect())
}

/// An unrevoked agent of the company.
pub(crate) async fn find<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    id: AgentId,
) -> Result<agent::Model, Error> {
    agent::Entity::find_by_id(id.0)
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .one(db)
        .await
        .map_err(db_err("finding an agent"))?
        .ok_or_else(|| Error::not_found(EntityKind::Agent, id))
}

/// An agent as the API shows it.
pub(crate) async fn to_proto<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    a: agent::Model,
) -> Result<pb::Agent, Error> {
    Ok(Context::load(db, scope).await?.describe(a))
}

/// What describing the company's agents takes from the database.
struct Context {
    idle_alert_days: i32,
    groups: HashMap<uuid::Uuid, group::Model>,
    /// For agents in no group, or in one that is gone.
    default_group: group::Model,
    emails: HashMap<uuid::Uuid, String>,
}

impl Context {
    async fn load<C: ConnectionTrait>(db: &C, scope: CompanyScope) -> Result<Context, Error> {
        let company = company::Entity::find_by_id(scope.uuid())
            .one(db)
            .await
            .map_err(db_err("finding a company"))?
            .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
        let default_group = cairn_tenancy::groups::default_group(db, scope).await?;
        let groups = group::Entity::find()
            .filter(group::Column::CompanyId.eq(scope.uuid()))
            .all(db)
            .await
            .map_err(db_err("listing groups"))?
            .into_iter()
            .map(|g| (g.id, g))
            .collect();
        let emails = user::Entity::find()
            .filter(user::Column::CompanyId.eq(scope.uuid()))
            .all(db)
            .await
            .map_err(db_err("listing users"))?
            .into_iter()
            .map(|u| (u.id, u.email))
            .collect();
        Ok(Context {
            idle_alert_days: company.idle_alert_days,
            groups,
            default_group,
            emails,
        })
    }

    fn describe(&self, a: agent::Model) -> pb::Agent {
        let group = a
            .group_id
            .and_then(|id| self.groups.get(&id))
            .unwrap_or(&self.default_group);
        let owner_email = a
            .owner_user_id
            .and_then(|owner| self.emails.get(&owner))
            .cloned()
            .unwrap_or_default();
        let idle = crate::alerts::is_idle(&a, self.idle_alert_days, Utc::now());
        pb::Agent {
            agent_id: a.id.to_string(),
            hostname: a.hostname,
            enrolled_at: a.enrolled_at.timestamp(),
            owner_user_id: a.owner_user_id.map(|u| u.to_string()).unwrap_or_default(),
            owner_email,
            group_id: group.id.to_string(),
            group_name: group.name.clone(),
            last_backup_at: a.last_backup_at.map_or(0, |t| t.timestamp()),
            last_result: a.last_result,
            last_error: a.last_error,
            bytes_protected: a.bytes_protected,
            last_seen_at: a.last_seen_at.map_or(0, |t| t.timestamp()),
            idle,
            policy_version_seen: a.policy_version_seen,
            policy_version: group.policy_version,
        }
    }
}

pub(crate) async fn rename(
    db: &DatabaseConnection,
    scope: CompanyScope,
    id: AgentId,
    hostname: String,
) -> Result<pb::Agent, Error> {
    let found = find(db, scope, id).await?;
    let mut active = found.into_active_model();
    active.hostname = Set(hostname);
    let row = active
        .update(db)
        .await
        .map_err(db_err("renaming an agent"))?;
    to_proto(db, scope, row).await
}

/// Moves an agent to a group; it shows the new policy as pending until its
/// next check-in.
pub(crate) async fn move_to(
    db: &DatabaseConnection,
    scope: CompanyScope,
    id: AgentId,
    group: GroupId,
) -> Result<pb::Agent, Error> {
    let g = cairn_tenancy::groups::find(db, scope, group).await?;
    let found = find(db, scope, id).await?;
    let mut active = found.into_active_model();
    active.group_id = Set(Some(g.id));
    active.policy_version_seen = Set(0);
    let row = active.update(db).await.map_err(db_err("moving an agent"))?;
    to_proto(db, scope, row).await
}

/// An agent checks in: it is alive and runs `policy_version`; it gets its
/// group's policy back.
pub(crate) async fn check_in(
    db: &DatabaseConnection,
    scope: CompanyScope,
    a: agent::Model,
    policy_version: i64,
) -> Result<pb::CheckInResponse, Error> {
    let group = cairn_tenancy::groups::resolve(db, scope, a.group_id).await?;
    let policy = cairn_tenancy::groups::policy_of(&group)?;
    agent::Entity::update_many()
        .col_expr(agent::Column::LastSeenAt, Expr::value(Utc::now()))
        .col_expr(
            agent::Column::PolicyVersionSeen,
            Expr::value(policy_version),
        )
        .filter(agent::Column::Id.eq(a.id))
        .exec(db)
        .await
        .map_err(db_err("recording a check-in"))?;
    Ok(pb::CheckInResponse {
        policy: Some(policy.to_proto()),
        policy_version: group.policy_version,
        group_id: group.id.to_string(),
        group_name: group.name,
        hostname: a.hostname,
    })
}

/// An agent reports a backup attempt's result.
pub(crate) async fn report(
    db: &DatabaseConnection,
    a: &agent::Model,
    ok: bool,
    error: &str,
) -> Result<(), Error> {
    let error: String = error.chars().take(500).collect();
    let now = Utc::now();
    agent::Entity::update_many()
        .col_expr(agent::Column::LastSeenAt, Expr::value(now))
        .col_expr(agent::Column::LastAttemptAt, Expr::value(now))
        .col_expr(
            agent::Column::LastResult,
            Expr::value(if ok { "ok" } else { "failed" }),
        )
        .col_expr(
            agent::Column::LastError,
            Expr::value(if ok { String::new() } else { error }),
        )
        .filter(agent::Column::Id.eq(a.id))
        .exec(db)
        .await
        .map_err(db_err("recording a backup result"))?;
    Ok(())
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

pub(crate) async fn company_with_seats(
    db: &DatabaseConnection,
    scope: CompanyScope,
) -> Result<(company::Model, i64), Error> {
    let found = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
    let used = cairn_tenancy::agents::seats_used(db, scope).await?;
    Ok((found, used))
}
