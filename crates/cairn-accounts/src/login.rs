//! Login: email and password for an access token.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use cairn_auth::{PrincipalKind, Role, TokenIssuer, verify_password_or_dummy};
use cairn_core::Error;
use cairn_core::validate::Email;
use cairn_entity::db_err;
use cairn_entity::regional::user;

pub(crate) struct LoggedIn {
    pub(crate) user: user::Model,
    pub(crate) roles: Vec<Role>,
    pub(crate) token: String,
    pub(crate) expires_at: i64,
}

pub(crate) fn parse_role(role: &str) -> Result<Role, Error> {
    match role {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        other => Err(Error::internal(format!("unknown stored role `{other}`"))),
    }
}

pub(crate) async fn login(
    db: &DatabaseConnection,
    issuer: &TokenIssuer,
    email: &str,
    password: String,
) -> Result<LoggedIn, Error> {
    let wrong = || Error::Unauthenticated("wrong email or password".into());
    // A malformed email cannot match any account: same answer as a wrong one.
    let email = Email::parse("email", email).map_err(|_| wrong())?;
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await
        .map_err(db_err("finding a user"))?;
    let hash = found.as_ref().map(|u| u.password_hash.clone());
    let ok =
        tokio::task::spawn_blocking(move || verify_password_or_dummy(&password, hash.as_deref()))
            .await
            .map_err(|e| Error::internal_with("verifying a password", e))?;
    let user = match (ok, found) {
        (true, Some(user)) => user,
        _ => return Err(wrong()),
    };
    let roles = vec![parse_role(&user.role)?];
    let (token, expires_at) = issuer.issue(
        PrincipalKind::User,
        &user.id.to_string(),
        &user.company_id.to_string(),
        roles.clone(),
    )?;
    Ok(LoggedIn {
        user,
        roles,
        token,
        expires_at,
    })
}
