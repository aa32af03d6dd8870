//! Agents of a company: machine credentials, listing, renaming, moving,
//! revocation (which frees a seat), check-ins and backup reports.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use cairn_core::limits::Hostname;
use cairn_core::policy::Policy;
use cairn_core::{AgentId, EntityKind, Error, GroupId};
use cairn_entity::regional::{agent, company, group, user};
use cairn_entity::{CompanyScope, db_err};

use crate::caller::{ADMINS, Caller, EVERYONE};
use crate::enroll::secret_hash;

/// An agent as the company's people see it.
#[derive(Debug)]
pub(crate) struct AgentView {
    pub(crate) agent: agent::Model,
    /// Empty when the owner is gone.
    pub(crate) owner_email: String,
    /// Its group, or the default group when it has none.
    pub(crate) group_id: GroupId,
    pub(crate) group_name: String,
    /// The version of its group's policy; it runs `agent.policy_version_seen`.
    pub(crate) policy_version: i64,
    /// No completed backup for the company's idle-alert days.
    pub(crate) idle: bool,
}

/// What an agent learns when it checks in.
#[derive(Debug)]
pub(crate) struct CheckIn {
    pub(crate) policy: Policy,
    pub(crate) policy_version: i64,
    pub(crate) group_id: GroupId,
    pub(crate) group_name: String,
    pub(crate) hostname: String,
}

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

/// The company's unrevoked agents; members see only their own machines.
pub(crate) async fn list(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
) -> Result<Vec<AgentView>, Error> {
    caller.require(EVERYONE)?;
    let scope = caller.scope();
    let owner = (!caller.is_admin()).then_some(caller.id().0);
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

async fn view<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    a: agent::Model,
) -> Result<AgentView, Error> {
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

    fn describe(&self, a: agent::Model) -> AgentView {
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
        AgentView {
            agent: a,
            owner_email,
            group_id: GroupId(group.id),
            group_name: group.name.clone(),
            policy_version: group.policy_version,
            idle,
        }
    }
}

/// Renames an agent (owners and admins).
pub(crate) async fn rename(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    id: AgentId,
    hostname: Hostname,
) -> Result<AgentView, Error> {
    caller.require(ADMINS)?;
    let scope = caller.scope();
    let found = find(db, scope, id).await?;
    let mut active = found.into_active_model();
    active.hostname = Set(hostname.into_string());
    let row = active
        .update(db)
        .await
        .map_err(db_err("renaming an agent"))?;
    view(db, scope, row).await
}

/// Moves an agent to a group; it shows the new policy as pending until its
/// next check-in (owners and admins).
pub(crate) async fn move_to(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    id: AgentId,
    group: GroupId,
) -> Result<AgentView, Error> {
    caller.require(ADMINS)?;
    let scope = caller.scope();
    let g = cairn_tenancy::groups::find(db, scope, group).await?;
    let found = find(db, scope, id).await?;
    let mut active = found.into_active_model();
    active.group_id = Set(Some(g.id));
    active.policy_version_seen = Set(0);
    let row = active.update(db).await.map_err(db_err("moving an agent"))?;
    view(db, scope, row).await
}

/// An agent checks in: it is alive and runs `policy_version`; it gets its
/// group's policy back.
pub(crate) async fn check_in(
    db: &DatabaseConnection,
    scope: CompanyScope,
    a: agent::Model,
    policy_version: i64,
) -> Result<CheckIn, Error> {
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
    Ok(CheckIn {
        policy,
        policy_version: group.policy_version,
        group_id: GroupId(group.id),
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

/// Revokes an agent of the company (owners and admins): its seat is free and
/// its credential dead.
pub(crate) async fn revoke(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    agent_id: AgentId,
) -> Result<(), Error> {
    caller.require(ADMINS)?;
    let scope = caller.scope();
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
