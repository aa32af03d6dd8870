//! Removing a user from a company.

use sea_orm::DatabaseConnection;

use cairn_core::{Error, Region, UserId};
use cairn_entity::audit_log::Actor;
use cairn_outbox::Mailer;
use cairn_tenancy::access::{self, ADMINS, UserCaller};
use cairn_tenancy::members::{Backups, Retired};

use super::{may_manage, require, stored_role};
use crate::delete::{Leaving, delete_user};
use crate::logins::{Logins, release};

/// Whom to remove, and what becomes of their backups (a required choice).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Removal {
    pub(crate) user: UserId,
    pub(crate) backups: Backups,
}

/// Deletes a user the caller may manage with what is personal of theirs,
/// revokes their machines and unused enrollment keys, keeps or deletes
/// their machines' backups as the removal says, then releases their login.
pub(crate) async fn remove(
    db: &DatabaseConnection,
    mailer: Option<&Mailer>,
    logins: &impl Logins,
    region: Region,
    caller: &UserCaller,
    removal: Removal,
    ip: &str,
) -> Result<Retired, Error> {
    require(caller, ADMINS)?;
    let found = access::find_user(db, caller.scope, removal.user).await?;
    may_manage(caller, stored_role(&found.role)?)?;
    let by = Actor {
        id: caller.actor_id(),
        ip,
    };
    let leaving = Leaving::Removed {
        by: &by,
        backups: removal.backups,
    };
    let retired = delete_user(db, mailer, &found, region, leaving).await?;
    release(logins, &found.email, "removed user").await;
    Ok(retired)
}
