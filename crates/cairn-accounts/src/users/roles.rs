//! Changing a user's role (the owner's to give) and moving a user to
//! another group.

use sea_orm::{ActiveModelTrait, DatabaseConnection, IntoActiveModel, Set};

use cairn_auth::Role;
use cairn_core::{Error, GroupId, UserId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::db_err;
use cairn_tenancy::access::{self, ADMINS, UserCaller};
use cairn_tenancy::groups;

use super::{AssignableRole, Member, may_manage, member, require, stored_role};

pub(crate) struct RoleChange {
    pub(crate) user: UserId,
    pub(crate) role: AssignableRole,
}

/// Gives a user another role. Only the owner does this, and the owner's own
/// role never changes.
pub(crate) async fn change_role(
    db: &DatabaseConnection,
    caller: &UserCaller,
    change: RoleChange,
    ip: &str,
) -> Result<Member, Error> {
    require(caller, &[Role::Owner])?;
    let scope = caller.scope;
    let found = access::find_user(db, scope, change.user).await?;
    may_manage(caller, stored_role(&found.role)?)?;
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a role change"))?;
    let mut active = found.into_active_model();
    active.role = Set(change.role.role().as_str().to_owned());
    let row = active
        .update(&txn)
        .await
        .map_err(db_err("changing a role"))?;
    record(
        &txn,
        scope,
        &Actor {
            id: caller.actor_id(),
            ip,
        },
        "user.role",
        "role",
    )
    .await?;
    txn.commit()
        .await
        .map_err(db_err("committing a role change"))?;
    member(db, scope, row).await
}

pub(crate) struct GroupMove {
    pub(crate) user: UserId,
    pub(crate) group: GroupId,
}

/// Moves a user into a group of the same company.
pub(crate) async fn set_group(
    db: &DatabaseConnection,
    caller: &UserCaller,
    change: GroupMove,
) -> Result<Member, Error> {
    require(caller, ADMINS)?;
    let scope = caller.scope;
    let g = groups::find(db, scope, change.group).await?;
    let found = access::find_user(db, scope, change.user).await?;
    let mut active = found.into_active_model();
    active.group_id = Set(Some(g.id));
    let row = active.update(db).await.map_err(db_err("moving a user"))?;
    member(db, scope, row).await
}
