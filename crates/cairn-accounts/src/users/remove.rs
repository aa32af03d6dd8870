//! Removing a user from a company.

use sea_orm::DatabaseConnection;

use cairn_core::{Error, Region, UserId};
use cairn_tenancy::access::{self, ADMINS, UserCaller};

use super::{may_manage, require, stored_role};
use crate::logins::{Logins, release};

/// Deletes a user the caller may manage, then releases their login.
pub(crate) async fn remove(
    db: &DatabaseConnection,
    logins: &impl Logins,
    region: Region,
    caller: &UserCaller,
    id: UserId,
) -> Result<(), Error> {
    require(caller, ADMINS)?;
    let found = access::find_user(db, caller.scope, id).await?;
    may_manage(caller, stored_role(&found.role)?)?;
    crate::delete::delete_user(db, &found, region).await?;
    release(logins, &found.email, "removed user").await;
    Ok(())
}
