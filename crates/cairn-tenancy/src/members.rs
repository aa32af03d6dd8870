//! What a person leaving a company (removed by an admin, or deleting their
//! own account) does to what they hold in it, inside the caller's
//! transaction: their machines are revoked (their seats free, their
//! credentials dead), their unused enrollment keys revoked (the keys they
//! made and the keys made for their machines), and their machines'
//! snapshots either kept for the company or forgotten.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::{Error, UserId};
use cairn_entity::regional::{agent, enrollment_key, snapshot, snapshot_ref_page};
use cairn_entity::{CompanyScope, db_err};

/// What becomes of a leaving person's backups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backups {
    /// The snapshots stay, the company's: owners and admins still list and
    /// restore them, and may delete them later.
    Keep,
    /// The snapshots of every machine of theirs are forgotten with their
    /// chunk references (the chunks stay until garbage collection).
    Delete,
}

impl Backups {
    /// `keep` or `delete`, as the audit log names the choice.
    pub fn as_str(self) -> &'static str {
        match self {
            Backups::Keep => "keep",
            Backups::Delete => "delete",
        }
    }
}

/// What leaving changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retired {
    pub agents_revoked: u64,
    pub keys_revoked: u64,
    /// Snapshots left to the company (`Backups::Keep`).
    pub snapshots_kept: u64,
    /// Snapshots forgotten (`Backups::Delete`).
    pub snapshots_deleted: u64,
}

/// Revokes `user`'s machines and unused enrollment keys and keeps or
/// deletes their machines' snapshots. Run it in the transaction that
/// removes the user, so a removal never leaves a machine enrolled or a key
/// that still enrolls.
pub async fn retire<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: UserId,
    backups: Backups,
) -> Result<Retired, Error> {
    let now = Utc::now();
    let agents = agent::Entity::update_many()
        .col_expr(agent::Column::RevokedAt, Expr::value(now))
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::OwnerUserId.eq(user.0))
        .filter(agent::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err("revoking a user's agents"))?;
    let keys = revoke_unused_keys(db, scope, user).await?;
    let (snapshots_kept, snapshots_deleted) = match backups {
        Backups::Keep => (snapshots_of(db, scope, user).await?, 0),
        Backups::Delete => (0, delete_snapshots_of(db, scope, user).await?),
    };
    Ok(Retired {
        agents_revoked: agents.rows_affected,
        keys_revoked: keys,
        snapshots_kept,
        snapshots_deleted,
    })
}

/// Revokes the unused keys `user` made or that would enroll a machine of
/// theirs; returns how many.
pub async fn revoke_unused_keys<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: UserId,
) -> Result<u64, Error> {
    let done = enrollment_key::Entity::update_many()
        .col_expr(enrollment_key::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(enrollment_key::Column::CompanyId.eq(scope.uuid()))
        .filter(
            Condition::any()
                .add(enrollment_key::Column::CreatedBy.eq(user.0))
                .add(enrollment_key::Column::OwnerUserId.eq(user.0)),
        )
        .filter(enrollment_key::Column::UsedAt.is_null())
        .filter(enrollment_key::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err("revoking a user's enrollment keys"))?;
    Ok(done.rows_affected)
}

/// Forgets every snapshot of every machine `user` owns (revoked ones too),
/// with their chunk references; returns how many snapshots.
async fn delete_snapshots_of<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: UserId,
) -> Result<u64, Error> {
    let machines = Query::select()
        .column(agent::Column::Id)
        .from(agent::Entity)
        .and_where(agent::Column::CompanyId.eq(scope.uuid()))
        .and_where(agent::Column::OwnerUserId.eq(user.0))
        .to_owned();
    let snapshots = Query::select()
        .column(snapshot::Column::Id)
        .from(snapshot::Entity)
        .and_where(snapshot::Column::CompanyId.eq(scope.uuid()))
        .and_where(snapshot::Column::AgentId.in_subquery(machines.clone()))
        .to_owned();
    snapshot_ref_page::Entity::delete_many()
        .filter(snapshot_ref_page::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot_ref_page::Column::SnapshotId.in_subquery(snapshots))
        .exec(db)
        .await
        .map_err(db_err("deleting a user's snapshot chunks"))?;
    let done = snapshot::Entity::delete_many()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::AgentId.in_subquery(machines))
        .exec(db)
        .await
        .map_err(db_err("deleting a user's snapshots"))?;
    Ok(done.rows_affected)
}

/// How many snapshots `user`'s machines (revoked ones too) have.
pub async fn snapshots_of<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: UserId,
) -> Result<u64, Error> {
    let machines = Query::select()
        .column(agent::Column::Id)
        .from(agent::Entity)
        .and_where(agent::Column::CompanyId.eq(scope.uuid()))
        .and_where(agent::Column::OwnerUserId.eq(user.0))
        .to_owned();
    snapshot::Entity::find()
        .filter(snapshot::Column::CompanyId.eq(scope.uuid()))
        .filter(snapshot::Column::AgentId.in_subquery(machines))
        .count(db)
        .await
        .map_err(db_err("counting a user's snapshots"))
}
