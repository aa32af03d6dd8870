use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};

use cairn_core::Error;
use cairn_entity::regional::outbox;
use cairn_entity::{CompanyScope, db_err};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    /// Confirmations, password resets, alerts, billing: always sent.
    Service,
    /// Newsletters and offers: not sent to users who opted out.
    Marketing,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Service => "service",
            MailKind::Marketing => "marketing",
        }
    }
}

/// Writes a mail to the outbox inside the caller's transaction.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: Option<uuid::Uuid>,
    kind: MailKind,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<(), Error> {
    let now = Utc::now();
    outbox::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(scope.uuid()),
        user_id: Set(user),
        kind: Set(kind.as_str().to_owned()),
        to_address: Set(to.to_owned()),
        subject: Set(subject.to_owned()),
        body: Set(body.to_owned()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
    }
    .insert(db)
    .await
    .map_err(db_err("queueing a mail"))?;
    Ok(())
}
