//! Accepting an invitation: the invitee becomes a user of the company with
//! the invited role, their address confirmed by the code that reached it.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use cairn_auth::hash_password;
use cairn_core::people::{JobTitle, PersonName};
use cairn_core::validate::Password;
use cairn_core::{CompanyId, Error, UserId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{invitation, user};
use cairn_entity::{CompanyScope, db_err};

use super::InvitationCode;
use crate::logins::{Logins, release};

/// What the invitee gives. Their age was confirmed when this was built.
pub(crate) struct Acceptance {
    pub(crate) code: InvitationCode,
    pub(crate) name: PersonName,
    pub(crate) title: JobTitle,
    /// A valid username (`cairn_core::validate::username`).
    pub(crate) username: String,
    /// Checked here: its strength depends on the invited address.
    pub(crate) password: String,
}

#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) user: UserId,
    pub(crate) company: CompanyId,
}

fn bad_code() -> Error {
    Error::FailedPrecondition("this invitation code is unknown, used or expired".into())
}

/// Spends the code once and creates the account; the login is claimed in
/// the directory first and released again if the cell cannot commit.
pub(crate) async fn accept(
    db: &DatabaseConnection,
    logins: &impl Logins,
    input: Acceptance,
    ip: &str,
) -> Result<Accepted, Error> {
    let found = invitation::Entity::find()
        .filter(invitation::Column::CodeHash.eq(input.code.hash()))
        .one(db)
        .await
        .map_err(db_err("finding an invitation"))?
        .ok_or_else(bad_code)?;
    if found.accepted_at.is_some() || found.expires_at < Utc::now() {
        return Err(bad_code());
    }
    let name = input.name.into_string();
    let username = input.username;
    let password = Password::parse(
        "password",
        &input.password,
        &[&found.email, &name, &username],
    )?;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(password.expose()))
        .await
        .map_err(|e| Error::internal_with("hashing a password", e))??;
    let scope = CompanyScope::from_secret(found.company_id.into());
    let user_id = UserId::new();
    logins.register_login(&found.email, scope.company()).await?;
    let now = Utc::now();
    let committed = async {
        let txn = cairn_entity::begin_write(db)
            .await
            .map_err(db_err("starting an acceptance"))?;
        // Conditional: a code accepted twice at once creates one account.
        let claimed = invitation::Entity::update_many()
            .col_expr(invitation::Column::AcceptedAt, Expr::value(now))
            .col_expr(invitation::Column::AcceptedUser, Expr::value(user_id.0))
            .filter(invitation::Column::Id.eq(found.id))
            .filter(invitation::Column::AcceptedAt.is_null())
            .exec(&txn)
            .await
            .map_err(db_err("accepting an invitation"))?;
        if claimed.rows_affected != 1 {
            return Err(bad_code());
        }
        let row = user::ActiveModel {
            id: Set(user_id.0),
            company_id: Set(found.company_id),
            name: Set(name),
            email: Set(found.email.clone()),
            password_hash: Set(password_hash),
            role: Set(found.role.clone()),
            created_at: Set(now),
            title: Set(input.title.into_string()),
            username: Set(username),
            signup_ip: Set(ip.to_owned()),
            email_confirmed_at: Set(Some(now)),
            marketing_opt_out: Set(false),
            group_id: Set(found.group_id),
        }
        .insert(&txn)
        .await
        .map_err(db_err("creating an invited user"))?;
        record(
            &txn,
            scope,
            &Actor {
                id: format!("user:{}", row.id),
                ip,
            },
            "user.accept",
            "invitation",
        )
        .await?;
        txn.commit()
            .await
            .map_err(db_err("committing an acceptance"))
    }
    .await;
    if let Err(err) = committed {
        release(logins, &found.email, "failed acceptance").await;
        return Err(err);
    }
    Ok(Accepted {
        user: user_id,
        company: scope.company(),
    })
}
