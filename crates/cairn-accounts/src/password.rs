//! Confirming an email address, changing and resetting a password, and the
//! marketing-mail preference.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, Set,
};

use cairn_auth::{Claims, hash_password, verify_password};
use cairn_core::validate::{Email, Password};
use cairn_core::{Error, Region};
use cairn_entity::db_err;
use cairn_entity::regional::user;

use crate::email::{Purpose, send_token, use_token};
use crate::sessions::revoke_user;
use cairn_entity::audit_log::record_own;

/// The user behind verified claims, in their company.
pub(crate) async fn caller(db: &DatabaseConnection, claims: &Claims) -> Result<user::Model, Error> {
    let company = claims.company_id()?;
    let id = uuid::Uuid::parse_str(&claims.sub)
        .map_err(|_| Error::Unauthenticated("token has no user".into()))?;
    user::Entity::find_by_id(id)
        .filter(user::Column::CompanyId.eq(company.0))
        .one(db)
        .await
        .map_err(db_err("finding a user"))?
        .ok_or_else(|| Error::Unauthenticated("this account no longer exists".into()))
}

async fn strong_hash(field: &str, password: &str, user: &user::Model) -> Result<String, Error> {
    let password = Password::parse(field, password, &[&user.email, &user.name, &user.username])?;
    tokio::task::spawn_blocking(move || hash_password(password.expose()))
        .await
        .map_err(|e| Error::internal_with("hashing a password", e))?
}

/// Checks `password` against the user's; a mismatch names `field`.
pub(crate) async fn check_password(
    me: &user::Model,
    password: String,
    field: &str,
) -> Result<(), Error> {
    let stored = me.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| Error::internal_with("verifying a password", e))?;
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(field, "is not your current password"))
    }
}

/// Stores a new password hash, ends every session and audits it as `action`.
async fn set_password<C: ConnectionTrait>(
    txn: &C,
    found: user::Model,
    hash: String,
    action: &str,
    ip: &str,
) -> Result<(), Error> {
    revoke_user(txn, &found).await?;
    record_own(txn, &found, ip, action, "password").await?;
    let mut active = found.into_active_model();
    active.password_hash = Set(hash);
    active
        .update(txn)
        .await
        .map_err(db_err("setting a password"))?;
    Ok(())
}

pub(crate) async fn confirm_email(
    db: &DatabaseConnection,
    region: Region,
    token: &str,
    ip: &str,
) -> Result<(), Error> {
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a confirmation"))?;
    let found = use_token(&txn, region, token, Purpose::Confirm).await?;
    record_own(&txn, &found, ip, "email.confirm", "email").await?;
    let mut active = found.into_active_model();
    active.email_confirmed_at = Set(Some(Utc::now()));
    active
        .update(&txn)
        .await
        .map_err(db_err("confirming an email"))?;
    txn.commit()
        .await
        .map_err(db_err("committing a confirmation"))
}

/// Queues a reset mail when `email` is a user of this cell. Returns whether
/// a mail was queued (never shown to the caller).
/// Mails a reset code to `email` if it has an account; the answer is the
/// same either way. Limited per client address `ip` and per mailbox.
pub(crate) async fn request_reset(
    db: &DatabaseConnection,
    region: Region,
    email: &str,
    ip: &str,
) -> Result<bool, Error> {
    let parsed = Email::parse("email", email);
    let mailbox = parsed.as_ref().ok().map(|e| e.as_str());
    crate::rate::limit_mailing(db, crate::rate::Mailing::PasswordReset, ip, mailbox).await?;
    let Ok(email) = parsed else {
        return Ok(false);
    };
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await
        .map_err(db_err("finding a user"))?;
    let Some(found) = found else {
        return Ok(false);
    };
    send_token(db, region, &found, Purpose::Reset).await?;
    Ok(true)
}

pub(crate) async fn reset(
    db: &DatabaseConnection,
    region: Region,
    token: &str,
    new_password: &str,
    ip: &str,
) -> Result<(), Error> {
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a password reset"))?;
    let found = use_token(&txn, region, token, Purpose::Reset).await?;
    let hash = strong_hash("new_password", new_password, &found).await?;
    set_password(&txn, found, hash, "password.reset", ip).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a password reset"))
}

pub(crate) async fn change(
    db: &DatabaseConnection,
    claims: &Claims,
    current: String,
    new_password: &str,
    ip: &str,
) -> Result<(), Error> {
    let found = caller(db, claims).await?;
    check_password(&found, current, "current_password").await?;
    let hash = strong_hash("new_password", new_password, &found).await?;
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a password change"))?;
    set_password(&txn, found, hash, "password.change", ip).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a password change"))
}

pub(crate) async fn set_marketing(
    db: &DatabaseConnection,
    claims: &Claims,
    opt_out: bool,
    ip: &str,
) -> Result<(), Error> {
    let found = caller(db, claims).await?;
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a preference change"))?;
    record_own(&txn, &found, ip, "preferences.update", "marketing_opt_out").await?;
    let mut active = found.into_active_model();
    active.marketing_opt_out = Set(opt_out);
    active
        .update(&txn)
        .await
        .map_err(db_err("saving mail preferences"))?;
    txn.commit()
        .await
        .map_err(db_err("committing a preference change"))
}
