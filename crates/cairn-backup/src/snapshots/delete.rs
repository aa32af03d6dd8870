//! Deleting a snapshot the caller may see.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_core::{EntityKind, Error, SnapshotId};
use cairn_entity::regional::{snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, begin_write, db_err};

use super::{Visible, get};

/// Forgets a snapshot; its chunks stay until garbage collection.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    scope: CompanyScope,
    visible: &Visible,
    id: SnapshotId,
) -> Result<(), Error> {
    get(db, scope, visible, id).await?;
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
    txn.commit()
        .await
        .map_err(db_err("committing a snapshot delete"))
}
