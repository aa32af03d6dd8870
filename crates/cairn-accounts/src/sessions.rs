//! Refresh tokens: opaque, stored as hashes, single use. Each use revokes the
//! token and issues the next of the same family; presenting a spent token
//! revokes the whole family (it was stolen or replayed).

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};

use cairn_core::Error;
use cairn_entity::db_err;
use cairn_entity::regional::{refresh_token, user};

/// Refresh tokens live 30 days.
const REFRESH_TTL_DAYS: i64 = 30;
const PREFIX: &str = "crt_";

fn token_hash(token: &str) -> Vec<u8> {
    blake3::hash(token.as_bytes()).as_bytes().to_vec()
}

pub(crate) struct Issued {
    pub(crate) token: String,
    pub(crate) expires_at: i64,
}

/// Starts (family = None) or continues a session for `user`.
pub(crate) async fn issue<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
    family: Option<uuid::Uuid>,
) -> Result<Issued, Error> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{PREFIX}{}", hex::encode(secret));
    let now = Utc::now();
    let expires = now + Duration::days(REFRESH_TTL_DAYS);
    refresh_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(user.company_id),
        user_id: Set(user.id),
        token_hash: Set(token_hash(&token)),
        family: Set(family.unwrap_or_else(uuid::Uuid::now_v7)),
        created_at: Set(now),
        expires_at: Set(expires),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(db_err("issuing a refresh token"))?;
    Ok(Issued {
        token,
        expires_at: expires.timestamp(),
    })
}

async fn revoke_family<C: ConnectionTrait>(db: &C, family: uuid::Uuid) -> Result<(), Error> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::Family.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err("revoking a session"))?;
    Ok(())
}

/// Spends `token` and returns its user with the next token of its family.
pub(crate) async fn rotate(
    db: &DatabaseConnection,
    token: &str,
) -> Result<(user::Model, Issued), Error> {
    if !token.starts_with(PREFIX) || token.len() != PREFIX.len() + 64 {
        return Err(Error::invalid(
            "refresh_token",
            "is not a Cairn refresh token",
        ));
    }
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await
        .map_err(db_err("finding a refresh token"))?
        .ok_or_else(|| Error::Unauthenticated("refresh token is not valid; log in again".into()))?;
    let reused = || {
        Error::Unauthenticated(
            "refresh token was already used; the session is revoked, log in again".into(),
        )
    };
    if found.revoked_at.is_some() {
        revoke_family(db, found.family).await?;
        return Err(reused());
    }
    if found.expires_at <= Utc::now() {
        return Err(Error::Unauthenticated(
            "refresh token has expired; log in again".into(),
        ));
    }
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a refresh"))?;
    let spent = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::Id.eq(found.id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_err("spending a refresh token"))?;
    if spent.rows_affected != 1 {
        drop(txn);
        revoke_family(db, found.family).await?;
        return Err(reused());
    }
    let owner = user::Entity::find_by_id(found.user_id)
        .filter(user::Column::CompanyId.eq(found.company_id))
        .one(&txn)
        .await
        .map_err(db_err("finding a user"))?
        .ok_or_else(|| Error::Unauthenticated("this account no longer exists".into()))?;
    let next = issue(&txn, &owner, Some(found.family)).await?;
    txn.commit().await.map_err(db_err("committing a refresh"))?;
    Ok((owner, next))
}

/// Ends the session `token` belongs to. Unknown tokens are ignored.
pub(crate) async fn logout(db: &DatabaseConnection, token: &str) -> Result<(), Error> {
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await
        .map_err(db_err("finding a refresh token"))?;
    if let Some(found) = found {
        revoke_family(db, found.family).await?;
    }
    Ok(())
}

/// Ends every session of a user (after a password change or reset).
pub(crate) async fn revoke_user<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> Result<(), Error> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::CompanyId.eq(user.company_id))
        .filter(refresh_token::Column::UserId.eq(user.id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .map_err(db_err("ending sessions"))?;
    Ok(())
}
