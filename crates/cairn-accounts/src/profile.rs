//! Viewing and correcting one's own information, effective at once.

use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};

use cairn_auth::Claims;
use cairn_core::Error;
use cairn_core::people::{JobTitle, PersonName};
use cairn_core::validate::Email;
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{company, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_outbox::{MailKind, enqueue};

use crate::email::{Purpose, send_token};
use crate::logins::{Logins, release};
use crate::password::caller;

/// A user's own information, with the name of their company.
pub(crate) struct Profile {
    pub(crate) user: user::Model,
    pub(crate) company_name: String,
}

/// The fields a user corrects; `None` leaves a field as it is.
#[derive(Default)]
pub(crate) struct ProfileChanges {
    pub(crate) name: Option<PersonName>,
    pub(crate) title: Option<JobTitle>,
    /// A valid username (`cairn_core::validate::username`).
    pub(crate) username: Option<String>,
    pub(crate) email: Option<Email>,
}

pub(crate) async fn get(db: &DatabaseConnection, claims: &Claims) -> Result<Profile, Error> {
    let me = caller(db, claims).await?;
    profile(db, me).await
}

async fn profile(db: &DatabaseConnection, me: user::Model) -> Result<Profile, Error> {
    let company_name = company::Entity::find_by_id(me.company_id)
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok(Profile {
        user: me,
        company_name,
    })
}

/// Applies `changes` at once. A new address is claimed in the directory
/// first, must be confirmed again, and the old address is told of it.
pub(crate) async fn update(
    db: &DatabaseConnection,
    logins: &impl Logins,
    claims: &Claims,
    ip: &str,
    changes: ProfileChanges,
) -> Result<Profile, Error> {
    let me = caller(db, claims).await?;
    let new_email = changes.email.filter(|e| e.as_str() != me.email);
    let scope = CompanyScope::from_claims(claims)?;
    let actor = Actor {
        id: format!("user:{}", me.id),
        ip,
    };
    let mut changed = Vec::new();
    let mut active = me.clone().into_active_model();
    if let Some(name) = changes.name {
        active.name = Set(name.into_string());
        changed.push("name");
    }
    if let Some(title) = changes.title {
        active.title = Set(title.into_string());
        changed.push("title");
    }
    if let Some(value) = changes.username {
        active.username = Set(value);
        changed.push("username");
    }
    if let Some(email) = &new_email {
        active.email = Set(email.as_str().to_owned());
        active.email_confirmed_at = Set(None);
        changed.push("email");
        // The directory keeps logins unique across regions: claim the new one first.
        logins
            .register_login(email.as_str(), scope.company())
            .await?;
    }
    if changed.is_empty() {
        return profile(db, me).await;
    }
    let committed = async {
        let txn = cairn_entity::begin_write(db).await.map_err(db_err("starting a profile update"))?;
        let updated = active.update(&txn).await.map_err(db_err("updating a profile"))?;
        for field in &changed {
            record(&txn, scope, &actor, "profile.update", field).await?;
        }
        if new_email.is_some() {
            send_token(&txn, claims.region, &updated, Purpose::Confirm).await?;
            let notice = format!(
                "Hello {},\n\nThe email address of your Cairn account was changed. If it was not you, contact your company's Cairn administrator.\n",
                me.name
            );
            let subject = "Your Cairn email address was changed";
            enqueue(&txn, scope, Some(me.id), MailKind::Service, &me.email, subject, &notice).await?;
        }
        txn.commit().await.map_err(db_err("committing a profile update"))?;
        Ok::<_, Error>(updated)
    }
    .await;
    match (committed, &new_email) {
        (Ok(updated), Some(_)) => {
            release(logins, &me.email, "old address").await;
            profile(db, updated).await
        }
        (Ok(updated), None) => profile(db, updated).await,
        (Err(err), Some(email)) => {
            release(logins, email.as_str(), "failed profile update").await;
            Err(err)
        }
        (Err(err), None) => Err(err),
    }
}
