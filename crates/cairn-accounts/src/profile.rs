//! Viewing and correcting one's own information, effective at once.

use sea_orm::{
    ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set, TransactionTrait,
};

use cairn_auth::Claims;
use cairn_core::Error;
use cairn_core::validate::{text, username};
use cairn_entity::regional::{company, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_proto::accounts::v1 as pb;

use crate::audit::{Actor, record};
use crate::password::caller;

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
    claims: &Claims,
    ip: &str,
    req: pb::UpdateProfileRequest,
) -> Result<pb::Profile, Error> {
    let me = caller(db, claims).await?;
    let scope = CompanyScope::new(claims.company_id()?);
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
    if changed.is_empty() {
        return to_proto(db, me).await;
    }
    let txn = db
        .begin()
        .await
        .map_err(db_err("starting a profile update"))?;
    let updated = active
        .update(&txn)
        .await
        .map_err(db_err("updating a profile"))?;
    for field in changed {
        record(&txn, scope, &actor, "profile.update", field).await?;
    }
    txn.commit()
        .await
        .map_err(db_err("committing a profile update"))?;
    to_proto(db, updated).await
}
