//! Login: email and password for an access token.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_auth::{PrincipalKind, Role, TokenIssuer, verify_password_or_dummy};
use cairn_core::Error;
use cairn_core::validate::Email;
use cairn_entity::db_err;
use cairn_entity::regional::user;

use crate::sessions::{self, Issued};
use crate::throttle::{self, Subject};

pub(crate) struct LoggedIn {
    pub(crate) user: user::Model,
    pub(crate) roles: Vec<Role>,
    pub(crate) token: String,
    pub(crate) expires_at: i64,
    pub(crate) refresh: Issued,
}

pub(crate) fn parse_role(role: &str) -> Result<Role, Error> {
    match role {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(Error::internal(format!("unknown stored role `{other}`"))),
    }
}

/// An access token for `user`.
pub(crate) fn access_token(
    issuer: &TokenIssuer,
    user: &user::Model,
) -> Result<(Vec<Role>, String, i64), Error> {
    let roles = vec![parse_role(&user.role)?];
    let (token, expires_at) = issuer.issue(
        PrincipalKind::User,
        &user.id.to_string(),
        &user.company_id.to_string(),
        roles.clone(),
    )?;
    Ok((roles, token, expires_at))
}

/// Checks email and password from client address `ip`, throttling per
/// account and per address: the attempt is counted before the password is
/// checked, so no more passwords are checked than the limits allow, however
/// many arrive at once. An unknown or malformed email costs the same work
/// and gets the same answer as a wrong password.
pub(crate) async fn login(
    db: &DatabaseConnection,
    issuer: &TokenIssuer,
    email: &str,
    password: String,
    ip: &str,
) -> Result<LoggedIn, Error> {
    let wrong = || Error::Unauthenticated("wrong email or password".into());
    let address = Subject::Address(ip);
    let from_address = throttle::reserve(db, address).await?;
    // A malformed email cannot match any account: same answer as a wrong one.
    let normalized = Email::parse("email", email).map(|e| e.as_str().to_owned());
    let account_email = normalized.as_deref().unwrap_or(email);
    let account = Subject::Account(account_email);
    let for_account = throttle::reserve(db, account).await?;
    let found = match &normalized {
        Ok(email) => user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(db)
            .await
            .map_err(db_err("finding a user"))?,
        Err(_) => None,
    };
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    let ok =
        tokio::task::spawn_blocking(move || verify_password_or_dummy(&password, hash.as_deref()))
            .await
            .map_err(|e| Error::internal_with("verifying a password", e))?;
    let user = match (ok, found) {
        (true, Some(user)) => user,
        _ => {
            let pause = throttle::failed(db, account, for_account)
                .await?
                .max(throttle::failed(db, address, from_address).await?);
            tokio::time::sleep(pause).await;
            return Err(wrong());
        }
    };
    throttle::succeeded(db, account).await?;
    throttle::succeeded(db, address).await?;
    let (roles, token, expires_at) = access_token(issuer, &user)?;
    let refresh = sessions::issue(db, &user, None).await?;
    Ok(LoggedIn {
        user,
        roles,
        token,
        expires_at,
        refresh,
    })
}
