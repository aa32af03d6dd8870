//! Viewing and correcting one's own information, effective at once.

use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};

use cairn_auth::Claims;
use cairn_core::Error;
use cairn_core::validate::{Email, text, username};
use cairn_entity::regional::{company, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_outbox::{MailKind, enqueue};
use cairn_proto::accounts::v1 as pb;

use crate::DirectoryLink;
use crate::email::{Purpose, send_token};
use crate::password::caller;
use cairn_entity::audit_log::{Actor, record};

pub(crate) async fn get(db: &DatabaseConnection, claims: &Claims) -> Result<pb::Profile, Error> {
    let me = caller(db, claims).await?;
    to_proto(db, me).await
}

async fn to_proto(db: &DatabaseConnection, me: user::Model) -> Result<pb::Profile, Error> {
    let company_name = company::Entity::find_by_id(me.company_id)
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .map(|c| c.name)
        .unwrap_or_default();
    Ok(pb::Profile {
        user_id: me.id.to_string(),
        company_id: me.company_id.to_string(),
        company_name,
        name: me.name,
        title: me.title,
        username: me.username,
        email: me.email,
        role: me.role,
        email_confirmed: me.email_confirmed_at.is_some(),
        marketing_opt_out: me.marketing_opt_out,
    })
}

pub(crate) async fn update(
    db: &DatabaseConnection,
    directory: &DirectoryLink,
    claims: &Claims,
    ip: &str,
    req: pb::UpdateProfileRequest,
) -> Result<pb::Profile, Error> {
    let me = caller(db, claims).await?;
    let new_email = match req.email.as_deref() {
        Some(value) => Some(Email::parse("email", value)?).filter(|e| e.as_str() != me.email),
        None => None,
    };
    let scope = CompanyScope::from_claims(claims)?;
    let actor = Actor {
        id: format!("user:{}", me.id),
        ip,
    };
    let mut changed = Vec::new();
    let mut active = me.clone().into_active_model();
    if let Some(name) = req.name {
        active.name = Set(text("name", &name, 200)?);
        changed.push("name");
    }
    if let Some(title) = req.title {
        active.title = Set(text("title", &title, 100)?);
        changed.push("title");
    }
    if let Some(value) = req.username {
        active.username = Set(username("username", &value)?);
        changed.push("username");
    }
    if let Some(email) = &new_email {
        active.email = Set(email.as_str().to_owned());
        active.email_confirmed_at = Set(None);
        changed.push("email");
        // The directory keeps logins unique across regions: claim the new one first.
        directory
            .register_login(email.as_str(), scope.company())
            .await?;
    }
    if changed.is_empty() {
        return to_proto(db, me).await;
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
            if let Err(err) = directory.unregister_login(&me.email).await {
                tracing::warn!(error = %err, "an old login stays in the directory until retried");
            }
            to_proto(db, updated).await
        }
        (Ok(updated), None) => to_proto(db, updated).await,
        (Err(err), Some(email)) => {
            if let Err(undo) = directory.unregister_login(email.as_str()).await {
                tracing::warn!(error = %undo, "could not release a login after a failed update");
            }
            Err(err)
        }
        (Err(err), None) => Err(err),
    }
}
