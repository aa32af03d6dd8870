//! The people of a company and the invitations still open.

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use cairn_core::Error;
use cairn_entity::db_err;
use cairn_entity::regional::{invitation, user};
use cairn_tenancy::access::{ADMINS, UserCaller};

use super::{Member, member, require};

pub(crate) struct Listing {
    pub(crate) users: Vec<Member>,
    /// Not yet accepted and not expired.
    pub(crate) invitations: Vec<invitation::Model>,
}

/// Every user of the caller's company, oldest first, and its open invitations.
pub(crate) async fn list(db: &DatabaseConnection, caller: &UserCaller) -> Result<Listing, Error> {
    require(caller, ADMINS)?;
    let scope = caller.scope;
    let rows = user::Entity::find()
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .order_by_asc(user::Column::CreatedAt)
        .all(db)
        .await
        .map_err(db_err("listing users"))?;
    let mut users = Vec::with_capacity(rows.len());
    for u in rows {
        users.push(member(db, scope, u).await?);
    }
    let invitations = invitation::Entity::find()
        .filter(invitation::Column::CompanyId.eq(scope.uuid()))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_asc(invitation::Column::CreatedAt)
        .all(db)
        .await
        .map_err(db_err("listing invitations"))?;
    Ok(Listing { users, invitations })
}
