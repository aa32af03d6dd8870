//! Self-service deletion. A user deletes their own account (their machines
//! are revoked, their backups stay the company's, nothing personal of
//! theirs stays in the cell); the owner deletes the whole company: its data key is destroyed first, so its backups
//! are unreadable from that moment, then its agents and sessions stop, its
//! objects and rows go (every table and prefix of `cairn_tenancy::registry`),
//! and its logins leave the directory. Only an anonymous tombstone (what was
//! deleted, when) stays.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Set,
};

use cairn_auth::{Claims, Role};
use cairn_core::{Error, Region, UserId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{
    agent, audit, company, email_token, invitation, refresh_token, tombstone, user,
};
use cairn_entity::{CompanyScope, db_err};
use cairn_outbox::{Mailer, forget_rows};
use cairn_store::CellStore;
use cairn_tenancy::members::{self, Backups, Retired};
use cairn_tenancy::registry;

use crate::logins::{Logins, release};
use crate::password::{caller, check_password};

async fn tombstone<C: ConnectionTrait>(db: &C, kind: &str, region: Region) -> Result<(), Error> {
    tombstone::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        kind: Set(kind.to_owned()),
        deleted_at: Set(Utc::now()),
        region: Set(region.as_str().to_owned()),
    }
    .insert(db)
    .await
    .map_err(db_err("writing a tombstone"))?;
    Ok(())
}

/// Deletes the caller; returns true when that deleted the whole company.
pub(crate) async fn delete(
    db: &DatabaseConnection,
    store: &CellStore,
    mailer: Option<&Mailer>,
    logins: &impl Logins,
    claims: &Claims,
    password: String,
    confirm_company_name: &str,
) -> Result<bool, Error> {
    let me = caller(db, claims).await?;
    check_password(&me, password, "password").await?;
    let region = claims.region;
    if !claims.has_any_role(&[Role::Owner]) {
        delete_user(db, mailer, &me, region, Leaving::Themself).await?;
        release(logins, &me.email, "deleted user").await;
        return Ok(false);
    }
    let scope = CompanyScope::from_claims(claims)?;
    let found = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(cairn_core::EntityKind::Company, scope.company()))?;
    if confirm_company_name.trim() != found.name {
        return Err(Error::invalid(
            "confirm_company_name",
            "the owner deletes the whole company: repeat its exact name to confirm",
        ));
    }
    delete_company(db, store, mailer, logins, scope, region).await?;
    Ok(true)
}

/// Who ends an account: the person themself, or an admin removing them.
pub(crate) enum Leaving<'a> {
    /// Self-service deletion. Their machines' backups stay, the company's.
    Themself,
    /// `RemoveUser`: the admin chose what becomes of the backups.
    Removed { by: &'a Actor<'a>, backups: Backups },
}

/// Deletes a user and everything personal of theirs in the cell, in one
/// transaction: sessions, mailed codes, mail to or about them, invitations
/// that named their address, the client addresses of their audit entries
/// (the entries keep their id, the action and the field). Their machines
/// and unused enrollment keys are revoked, their backups kept or deleted
/// (`cairn_tenancy::members`). Then the write-ahead log is checkpointed so
/// the zeroed pages (`secure_delete`) replace the old ones on disk, and
/// `.eml` files written to them are removed.
pub(crate) async fn delete_user(
    db: &DatabaseConnection,
    mailer: Option<&Mailer>,
    me: &user::Model,
    region: Region,
    leaving: Leaving<'_>,
) -> Result<Retired, Error> {
    let scope = CompanyScope::of_user(me);
    let backups = match leaving {
        Leaving::Themself => Backups::Keep,
        Leaving::Removed { backups, .. } => backups,
    };
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a user deletion"))?;
    let retired = members::retire(&txn, scope, UserId(me.id), backups).await?;
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::CompanyId.eq(me.company_id))
        .filter(refresh_token::Column::UserId.eq(me.id))
        .exec(&txn)
        .await
        .map_err(db_err("deleting sessions"))?;
    email_token::Entity::delete_many()
        .filter(email_token::Column::CompanyId.eq(me.company_id))
        .filter(email_token::Column::UserId.eq(me.id))
        .exec(&txn)
        .await
        .map_err(db_err("deleting mailed codes"))?;
    forget_rows(&txn, scope, me.id, &[me.email.as_str()]).await?;
    invitation::Entity::delete_many()
        .filter(invitation::Column::CompanyId.eq(me.company_id))
        .filter(
            Condition::any()
                .add(invitation::Column::AcceptedUser.eq(me.id))
                .add(invitation::Column::Email.eq(me.email.as_str())),
        )
        .exec(&txn)
        .await
        .map_err(db_err("deleting invitations"))?;
    audit::Entity::update_many()
        .col_expr(audit::Column::Ip, Expr::value(""))
        .filter(audit::Column::CompanyId.eq(me.company_id))
        .filter(audit::Column::Actor.eq(format!("user:{}", me.id)))
        .exec(&txn)
        .await
        .map_err(db_err("forgetting audited addresses"))?;
    match leaving {
        Leaving::Themself => {
            let me_now = Actor {
                id: format!("user:{}", me.id),
                ip: "",
            };
            record(&txn, scope, &me_now, "account.delete", "backups.keep").await?;
        }
        Leaving::Removed { by, backups } => {
            let field = format!("backups.{}", backups.as_str());
            record(&txn, scope, by, "user.remove", &field).await?;
        }
    }
    user::Entity::delete_by_id(me.id)
        .exec(&txn)
        .await
        .map_err(db_err("deleting a user"))?;
    tombstone(&txn, "user", region).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a user deletion"))?;
    if !cairn_entity::checkpoint_deleted(db).await? {
        tracing::warn!(company = %me.company_id, "write-ahead log not emptied after a user deletion: readers held it; the next checkpoint will");
    }
    if let Some(mailer) = mailer
        && let Err(err) = mailer.forget_files(&[me.email.as_str()]).await
    {
        tracing::warn!(company = %me.company_id, error = %err, "could not remove a deleted user's mail files");
    }
    tracing::info!(
        company = %me.company_id,
        agents_revoked = retired.agents_revoked,
        keys_revoked = retired.keys_revoked,
        snapshots_deleted = retired.snapshots_deleted,
        "user deleted"
    );
    Ok(retired)
}

async fn delete_company(
    db: &DatabaseConnection,
    store: &CellStore,
    mailer: Option<&Mailer>,
    logins: &impl Logins,
    scope: CompanyScope,
    region: Region,
) -> Result<(), Error> {
    let id = scope.uuid();
    // 1. Crypto-shredding: without its wrapped data key nothing stored can be
    //    decrypted again. Agents and sessions stop in the same transaction.
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a company deletion"))?;
    company::Entity::update_many()
        .col_expr(company::Column::WrappedKey, Expr::value(Vec::<u8>::new()))
        .filter(company::Column::Id.eq(id))
        .exec(&txn)
        .await
        .map_err(db_err("destroying a company key"))?;
    agent::Entity::update_many()
        .col_expr(agent::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(agent::Column::CompanyId.eq(id))
        .filter(agent::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_err("revoking agents"))?;
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::CompanyId.eq(id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await
        .map_err(db_err("revoking sessions"))?;
    txn.commit()
        .await
        .map_err(db_err("committing key destruction"))?;
    tracing::info!(company = %scope.company(), "company keys destroyed");

    // 2. Objects in the cell's bucket.
    let removed = registry::purge_objects(store, scope).await?;

    // 3. Rows, keeping the logins to release from the directory.
    let emails: Vec<String> = user::Entity::find()
        .filter(user::Column::CompanyId.eq(id))
        .all(db)
        .await
        .map_err(db_err("listing users"))?
        .into_iter()
        .map(|u| u.email)
        .collect();
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting a company purge"))?;
    // Every table of the registry, the company row last.
    registry::purge_rows(&txn, scope).await?;
    tombstone(&txn, "company", region).await?;
    txn.commit()
        .await
        .map_err(db_err("committing a company purge"))?;

    // 4. The mail files written to its people, and its logins in the directory.
    if let Some(mailer) = mailer {
        let addresses: Vec<&str> = emails.iter().map(String::as_str).collect();
        if let Err(err) = mailer.forget_files(&addresses).await {
            tracing::warn!(company = %scope.company(), error = %err, "could not remove a deleted company's mail files");
        }
    }
    for email in emails {
        release(logins, &email, "deleted company").await;
    }
    tracing::info!(company = %scope.company(), objects = removed, "company deleted");
    Ok(())
}
