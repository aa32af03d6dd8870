//! Deleting a snapshot: an owner's or an admin's act, audited. Machines add
//! snapshots and never remove them, so malware on one machine cannot wipe
//! its backups; members ask an admin.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_auth::role_denied;
use cairn_core::{EntityKind, Error, SnapshotId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, begin_write, db_err};
use cairn_tenancy::access::{ADMINS, UserCaller};

use super::{Caller, Visible, get};

/// The owner or admin `caller` is; agents and members are PERMISSION_DENIED.
pub(crate) fn may_delete(caller: &Caller) -> Result<&UserCaller, Error> {
    match caller {
        Caller::Agent(_) => Err(Error::PermissionDenied(
            "a machine adds snapshots but never deletes them: an owner or admin deletes snapshots"
                .into(),
        )),
        Caller::User(user) if !user.is_admin() => Err(role_denied(ADMINS)),
        Caller::User(user) => Ok(user),
    }
}

/// Forgets a snapshot, if `caller` is an owner or an admin of the company;
/// its chunks stay until garbage collection. The audit log records who
/// deleted it, from `ip`.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    scope: CompanyScope,
    caller: &Caller,
    ip: &str,
    id: SnapshotId,
) -> Result<(), Error> {
    let user = may_delete(caller)?;
    get(db, scope, &Visible::All, id).await?;
    let txn = begin_write(db)
        .await
        .map_err(db_err("starting a snapshot delete"))?;
    let done = snapshot::Entity::delete_many()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::Id.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("deleting a snapshot"))?;
    if done.rows_affected == 0 {
        return Err(Error::not_found(EntityKind::Snapshot, id));
    }
    snapshot_ref_page::Entity::delete_many()
        .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot_ref_page::Column::SnapshotId.eq(id.0))
        .exec(&txn)
        .await
        .map_err(db_err("deleting snapshot chunks"))?;
    let actor = Actor {
        id: user.actor_id(),
        ip,
    };
    record(
        &txn,
        scope,
        &actor,
        "snapshot.delete",
        &format!("snapshot:{id}"),
    )
    .await?;
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot delete"))
}
