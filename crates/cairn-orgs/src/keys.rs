//! The enrollment keys of a company after they were made: listing and
//! revoking. A key belongs to the person who made it and to the person whose
//! machine it enrolls; owners and admins see and revoke every key, members
//! the keys that are theirs. No function changes a key's creator or owner.
//! Removing a person revokes their unused keys
//! (`cairn_tenancy::members::retire`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use sea_orm::{QuerySelect, Select};

use cairn_core::{EnrollmentKeyId, EntityKind, Error};
use cairn_entity::audit_log::record;
use cairn_entity::db_err;
use cairn_entity::regional::enrollment_key;

use crate::caller::{Caller, EVERYONE};

/// The most keys a listing returns, newest first.
pub(crate) const LIST_LIMIT: u64 = 1000;

/// Where a key stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyState {
    Unused,
    Used,
    Expired,
    Revoked,
}

impl KeyState {
    pub(crate) fn of(key: &enrollment_key::Model, now: DateTime<Utc>) -> KeyState {
        if key.used_at.is_some() {
            KeyState::Used
        } else if key.revoked_at.is_some() {
            KeyState::Revoked
        } else if key.expires_at < now {
            KeyState::Expired
        } else {
            KeyState::Unused
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyState::Unused => "unused",
            KeyState::Used => "used",
            KeyState::Expired => "expired",
            KeyState::Revoked => "revoked",
        }
    }
}

/// A key as listed: never its secret, which is not stored.
#[derive(Debug)]
pub(crate) struct KeyView {
    pub(crate) key: enrollment_key::Model,
    pub(crate) state: KeyState,
}

/// The company's keys the caller may see.
fn visible(caller: &Caller<'_>) -> Select<enrollment_key::Entity> {
    let mut q = enrollment_key::Entity::find()
        .filter(enrollment_key::Column::CompanyId.eq(caller.scope().uuid()));
    if !caller.is_admin() {
        let me = caller.id().0;
        q = q.filter(
            Condition::any()
                .add(enrollment_key::Column::CreatedBy.eq(me))
                .add(enrollment_key::Column::OwnerUserId.eq(me)),
        );
    }
    q
}

/// The keys the caller may see, newest first.
pub(crate) async fn list(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
) -> Result<Vec<KeyView>, Error> {
    caller.require(EVERYONE)?;
    let now = Utc::now();
    Ok(visible(caller)
        .order_by_desc(enrollment_key::Column::CreatedAt)
        .limit(LIST_LIMIT)
        .all(db)
        .await
        .map_err(db_err("listing enrollment keys"))?
        .into_iter()
        .map(|key| KeyView {
            state: KeyState::of(&key, now),
            key,
        })
        .collect())
}

/// Revokes a key the caller may see so that it enrolls nothing. Revoking a
/// revoked or expired key changes nothing; a used key is refused (its
/// machine is enrolled: revoke the agent).
pub(crate) async fn revoke(
    db: &DatabaseConnection,
    caller: &Caller<'_>,
    id: EnrollmentKeyId,
) -> Result<KeyView, Error> {
    caller.require(EVERYONE)?;
    let scope = caller.scope();
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a key revocation"))?;
    let found = visible(caller)
        .filter(enrollment_key::Column::Id.eq(id.0))
        .one(&txn)
        .await
        .map_err(db_err("finding an enrollment key"))?
        .ok_or_else(|| Error::not_found(EntityKind::EnrollmentKey, id))?;
    let used = || {
        Error::FailedPrecondition(
            "this enrollment key was already used: revoke the agent it enrolled instead".into(),
        )
    };
    if found.used_at.is_some() {
        return Err(used());
    }
    let now = Utc::now();
    // Conditional: an enrollment racing the revocation either used the key
    // first (nothing changes here) or finds it revoked.
    let done = enrollment_key::Entity::update_many()
        .col_expr(enrollment_key::Column::RevokedAt, Expr::value(now))
        .filter(enrollment_key::Column::Id.eq(found.id))
        .filter(enrollment_key::Column::CompanyId.eq(scope.uuid()))
        .filter(enrollment_key::Column::UsedAt.is_null())
        .filter(enrollment_key::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_err("revoking an enrollment key"))?;
    if done.rows_affected == 1 {
        record(
            &txn,
            scope,
            &caller.actor(),
            "enrollment_key.revoke",
            "enrollment_key",
        )
        .await?;
    }
    let key = enrollment_key::Entity::find_by_id(found.id)
        .one(&txn)
        .await
        .map_err(db_err("reading an enrollment key"))?
        .ok_or_else(|| Error::not_found(EntityKind::EnrollmentKey, id))?;
    if key.used_at.is_some() {
        return Err(used());
    }
    txn.commit()
        .await
        .map_err(db_err("committing a key revocation"))?;
    Ok(KeyView {
        state: KeyState::of(&key, now),
        key,
    })
}
