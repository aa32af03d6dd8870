//! One-time tokens sent by mail (address confirmation, password reset) and
//! the mails that carry them. Tokens are `<region>-<64 hex>`, stored hashed.

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use cairn_core::{Error, Region};
use cairn_entity::regional::{email_token, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_outbox::{MailKind, enqueue};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Confirm,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Reset => "reset",
        }
    }

    fn ttl(self) -> Duration {
        match self {
            Purpose::Confirm => Duration::days(7),
            Purpose::Reset => Duration::hours(1),
        }
    }
}

fn hash(token: &str) -> Vec<u8> {
    blake3::hash(token.as_bytes()).as_bytes().to_vec()
}

/// Creates a token for `user` and queues the mail that carries it, inside
/// the caller's transaction.
pub(crate) async fn send_token<C: ConnectionTrait>(
    db: &C,
    region: Region,
    user: &user::Model,
    purpose: Purpose,
) -> Result<(), Error> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{region}-{}", hex::encode(secret));
    let now = Utc::now();
    email_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(user.company_id),
        user_id: Set(user.id),
        purpose: Set(purpose.as_str().to_owned()),
        token_hash: Set(hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + purpose.ttl()),
        used_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(db_err("creating an email token"))?;
    let (subject, body) = match purpose {
        Purpose::Confirm => (
            "Confirm your email address for Cairn",
            format!(
                "Hello {},\n\nPlease confirm your email address to start enrolling machines.\nYour confirmation code, valid for 7 days:\n\n{token}\n\nRun: cairnctl account confirm --token {token}\n\nIf you did not sign up for Cairn, ignore this mail.\n",
                user.name
            ),
        ),
        Purpose::Reset => (
            "Reset your Cairn password",
            format!(
                "Hello {},\n\nSomeone asked to reset the password of your Cairn account.\nYour reset code, valid for one hour:\n\n{token}\n\nRun: cairnctl account reset-password --token {token}\n\nIf it was not you, ignore this mail: your password stays as it is.\n",
                user.name
            ),
        ),
    };
    enqueue(
        db,
        CompanyScope::of_user(user),
        Some(user.id),
        MailKind::Service,
        &user.email,
        subject,
        &body,
    )
    .await
}

/// Spends a token of `purpose`; returns its user.
pub(crate) async fn use_token<C: ConnectionTrait>(
    db: &C,
    region: Region,
    token: &str,
    purpose: Purpose,
) -> Result<user::Model, Error> {
    let invalid = || {
        Error::invalid(
            "token",
            "is not a Cairn code from a mail (`<region>-<64 hex>`)",
        )
    };
    let (prefix, secret) = token.trim().split_once('-').ok_or_else(invalid)?;
    if prefix != region.as_str()
        || secret.len() != 64
        || !secret.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(invalid());
    }
    let found = email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(hash(token.trim())))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .one(db)
        .await
        .map_err(db_err("finding an email token"))?
        .ok_or_else(|| Error::Unauthenticated("this code is not valid".into()))?;
    if found.used_at.is_some() {
        return Err(Error::Unauthenticated("this code was already used".into()));
    }
    if found.expires_at <= Utc::now() {
        return Err(Error::Unauthenticated(
            "this code has expired; ask for a new one".into(),
        ));
    }
    let spent = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(Utc::now()))
        .filter(email_token::Column::Id.eq(found.id))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err("spending an email token"))?;
    if spent.rows_affected != 1 {
        return Err(Error::Unauthenticated("this code was already used".into()));
    }
    user::Entity::find_by_id(found.user_id)
        .filter(user::Column::CompanyId.eq(found.company_id))
        .one(db)
        .await
        .map_err(db_err("finding a user"))?
        .ok_or_else(|| Error::Unauthenticated("this account no longer exists".into()))
}
