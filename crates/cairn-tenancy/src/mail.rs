//! Service mail to a company's owners and admins.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::regional::user;
use cairn_entity::{CompanyScope, db_err};
use cairn_outbox::{MailKind, enqueue};

/// Queues a service mail to every owner and admin, in the caller's transaction.
pub async fn mail_admins<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    subject: &str,
    body: &str,
) -> Result<(), Error> {
    let admins = user::Entity::find()
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .filter(user::Column::Role.is_in(["owner", "admin"]))
        .all(db)
        .await
        .map_err(db_err("finding a company's admins"))?;
    for admin in admins {
        enqueue(
            db,
            scope,
            Some(admin.id),
            MailKind::Service,
            &admin.email,
            subject,
            &format!("Hello {},\n\n{body}", admin.name),
        )
        .await?;
    }
    Ok(())
}
