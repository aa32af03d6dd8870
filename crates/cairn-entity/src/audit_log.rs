//! Writing the company's audit log: who changed which field, when, from
//! where. Shared by every service that changes tenant data; field names
//! only, never values.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use crate::regional::audit;
use crate::{CompanyScope, db_err};
use cairn_core::Error;

pub struct Actor<'a> {
    pub id: String,
    pub ip: &'a str,
}

/// Records `action` on `field`; never pass a value here.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    actor: &Actor<'_>,
    action: &str,
    field: &str,
) -> Result<(), Error> {
    audit::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(scope.uuid()),
        at: Set(Utc::now()),
        actor: Set(actor.id.clone()),
        action: Set(action.to_owned()),
        field: Set(field.to_owned()),
        ip: Set(actor.ip.to_owned()),
    }
    .insert(db)
    .await
    .map_err(db_err("writing the audit log"))?;
    Ok(())
}

/// Records a user's change to their own account.
pub async fn record_own<C: ConnectionTrait>(
    db: &C,
    user: &crate::regional::user::Model,
    ip: &str,
    action: &str,
    field: &str,
) -> Result<(), Error> {
    let actor = Actor {
        id: format!("user:{}", user.id),
        ip,
    };
    record(db, CompanyScope::of_user(user), &actor, action, field).await
}
