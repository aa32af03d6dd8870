//! Inviting someone into a company, and taking an invitation back.

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use cairn_auth::Role;
use cairn_core::validate::Email;
use cairn_core::{EntityKind, Error, GroupId, InvitationId, Region};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::db_err;
use cairn_entity::regional::{company, invitation, user};
use cairn_outbox::{MailKind, enqueue};
use cairn_tenancy::access::{ADMINS, UserCaller};
use cairn_tenancy::groups;

use super::{AssignableRole, code_hash, may_manage, require, stored_role};

/// How long an invitation code stays valid.
pub(crate) const INVITATION_DAYS: i64 = 14;

/// Who to invite, with which role, into which group (the default if none).
pub(crate) struct Invitee {
    pub(crate) email: Email,
    pub(crate) role: AssignableRole,
    pub(crate) group: Option<GroupId>,
}

/// Records an invitation and mails its one-time code to the invitee, in one
/// transaction. The code itself is only in the mail.
pub(crate) async fn invite(
    db: &DatabaseConnection,
    region: Region,
    caller: &UserCaller,
    invitee: Invitee,
    ip: &str,
) -> Result<invitation::Model, Error> {
    require(caller, ADMINS)?;
    let scope = caller.scope;
    let role = invitee.role.role();
    may_manage(caller, role)?;
    let group = match invitee.group {
        None => None,
        Some(id) => Some(groups::find(db, scope, id).await?.id),
    };
    let email = invitee.email;
    let taken = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .one(db)
        .await
        .map_err(db_err("checking an address"))?;
    if taken.is_some() {
        return Err(Error::AlreadyExists {
            kind: EntityKind::User,
        });
    }
    let company = company::Entity::find_by_id(scope.uuid())
        .one(db)
        .await
        .map_err(db_err("finding a company"))?
        .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let code = format!("{region}-{}", hex::encode(secret));
    let now = Utc::now();
    let txn = cairn_entity::begin_write(db)
        .await
        .map_err(db_err("starting an invitation"))?;
    let row = invitation::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        company_id: Set(scope.uuid()),
        email: Set(email.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        group_id: Set(group),
        code_hash: Set(code_hash(&code)),
        invited_by: Set(caller.user.id),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(INVITATION_DAYS)),
        accepted_at: Set(None),
        accepted_user: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(db_err("creating an invitation"))?;
    enqueue(
        &txn,
        scope,
        None,
        MailKind::Service,
        email.as_str(),
        &format!("{} invites you to Cairn backup", company.name),
        &format!(
            "Hello,\n\n{} invites you to join {} on Cairn as {} {}.\n\
             Your invitation code, valid for {INVITATION_DAYS} days:\n\n{code}\n\n\
             Run: cairnctl invitation accept --code {code} --name \"Your Name\" \
             --username you --title \"Your title\" --i-am-13-or-older\n\n\
             If you do not know {}, ignore this mail.\n",
            caller.user.name,
            company.name,
            if role == Role::Admin { "an" } else { "a" },
            role.as_str(),
            company.name,
        ),
    )
    .await?;
    record(
        &txn,
        scope,
        &Actor {
            id: caller.actor_id(),
            ip,
        },
        "user.invite",
        "role",
    )
    .await?;
    txn.commit()
        .await
        .map_err(db_err("committing an invitation"))?;
    Ok(row)
}

/// Deletes an invitation nobody accepted yet; another company's is NOT_FOUND.
pub(crate) async fn revoke(
    db: &DatabaseConnection,
    caller: &UserCaller,
    id: InvitationId,
) -> Result<(), Error> {
    require(caller, ADMINS)?;
    let found = invitation::Entity::find_by_id(id.0)
        .filter(invitation::Column::CompanyId.eq(caller.scope.uuid()))
        .filter(invitation::Column::AcceptedAt.is_null())
        .one(db)
        .await
        .map_err(db_err("finding an invitation"))?
        .ok_or_else(|| Error::not_found(EntityKind::Invitation, id))?;
    may_manage(caller, stored_role(&found.role)?)?;
    invitation::Entity::delete_by_id(found.id)
        .exec(db)
        .await
        .map_err(db_err("deleting an invitation"))?;
    Ok(())
}
