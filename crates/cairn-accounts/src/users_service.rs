//! The users of a company: invitations, roles, groups and removal.
//!
//! Only the owner makes admins; admins invite and remove members; nobody
//! touches the owner. An invitation is a mailed one-time code; accepting it
//! creates the account with the invited role (its address counts as
//! confirmed: the code came through it).

use std::sync::Arc;

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use cairn_auth::{Authenticator, Role, client_ip, hash_password};
use cairn_core::validate::{Email, Password, optional_text, text, username};
use cairn_core::{EntityKind, Error, InvitationId, Region, UserId};
use cairn_entity::audit_log::{Actor, record};
use cairn_entity::regional::{invitation, user};
use cairn_entity::{CompanyScope, db_err};
use cairn_outbox::{MailKind, enqueue};
use cairn_proto::accounts::v1 as pb;
use cairn_tenancy::access::{self, ADMINS, UserCaller, parse_role};
use cairn_tenancy::groups;

use crate::DirectoryLink;

const INVITATION_DAYS: i64 = 14;

pub struct UsersService {
    db: DatabaseConnection,
    auth: Authenticator,
    directory: DirectoryLink,
    mail: Arc<Notify>,
}

impl UsersService {
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        directory: DirectoryLink,
        mail: Arc<Notify>,
    ) -> Self {
        UsersService {
            db,
            auth,
            directory,
            mail,
        }
    }

    /// The caller, refused unless the database gives them one of `roles` now.
    async fn user<T>(&self, request: &Request<T>, roles: &[Role]) -> Result<UserCaller, Error> {
        let claims = self.auth.authenticate(request)?;
        access::user_from_claims(&self.db, claims, roles).await
    }

    async fn admin<T>(&self, request: &Request<T>) -> Result<UserCaller, Error> {
        self.user(request, ADMINS).await
    }
}

fn code_hash(code: &str) -> Vec<u8> {
    blake3::hash(code.trim().as_bytes()).as_bytes().to_vec()
}

/// The roles an invitation or a role change may give.
fn assignable(field: &str, value: &str) -> Result<Role, Error> {
    match parse_role(field, value)? {
        Role::Owner => Err(Error::invalid(
            field,
            "a company has one owner; invite an admin or a member",
        )),
        role => Ok(role),
    }
}

/// Whether `caller` may manage a user or invitation with `role`.
fn may_manage(caller: &UserCaller, role: Role) -> Result<(), Error> {
    match (caller.role, role) {
        (_, Role::Owner) => Err(Error::PermissionDenied(
            "nobody can change or remove the owner".into(),
        )),
        (Role::Owner, _) => Ok(()),
        (Role::Admin, Role::Member) => Ok(()),
        _ => Err(Error::PermissionDenied(
            "only the owner manages admins".into(),
        )),
    }
}

async fn to_proto(
    db: &DatabaseConnection,
    scope: CompanyScope,
    u: user::Model,
) -> Result<pb::User, Error> {
    let g = groups::resolve(db, scope, u.group_id).await?;
    Ok(pb::User {
        user_id: u.id.to_string(),
        name: u.name,
        email: u.email,
        username: u.username,
        role: u.role,
        group_id: g.id.to_string(),
        group_name: g.name,
        email_confirmed: u.email_confirmed_at.is_some(),
        created_at: u.created_at.timestamp(),
    })
}

fn invitation_proto(i: &invitation::Model) -> pb::Invitation {
    pb::Invitation {
        invitation_id: i.id.to_string(),
        email: i.email.clone(),
        role: i.role.clone(),
        group_id: i.group_id.map(|g| g.to_string()).unwrap_or_default(),
        expires_at: i.expires_at.timestamp(),
    }
}

/// Splits `<region>-<64 hex>`.
fn parse_code(code: &str) -> Result<Region, Error> {
    let bad = || {
        Error::invalid(
            "code",
            "is not a Cairn invitation code (`<region>-<64 hex>`)",
        )
    };
    let (region, secret) = code.trim().split_once('-').ok_or_else(bad)?;
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    region.parse().map_err(|_| bad())
}

#[tonic::async_trait]
impl pb::users_service_server::UsersService for UsersService {
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = self.admin(&request).await?;
        let scope = caller.scope;
        let rows = user::Entity::find()
            .filter(user::Column::CompanyId.eq(scope.uuid()))
            .order_by_asc(user::Column::CreatedAt)
            .all(&self.db)
            .await
            .map_err(db_err("listing users"))?;
        let mut users = Vec::with_capacity(rows.len());
        for u in rows {
            users.push(to_proto(&self.db, scope, u).await?);
        }
        let invitations = invitation::Entity::find()
            .filter(invitation::Column::CompanyId.eq(scope.uuid()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
            .order_by_asc(invitation::Column::CreatedAt)
            .all(&self.db)
            .await
            .map_err(db_err("listing invitations"))?
            .iter()
            .map(invitation_proto)
            .collect();
        Ok(Response::new(pb::ListUsersResponse { users, invitations }))
    }

    async fn invite_user(
        &self,
        request: Request<pb::InviteUserRequest>,
    ) -> Result<Response<pb::Invitation>, Status> {
        let caller = self.admin(&request).await?;
        let ip = client_ip(&request);
        let scope = caller.scope;
        let req = request.into_inner();
        let email = Email::parse("email", &req.email)?;
        let role = assignable("role", &req.role)?;
        may_manage(&caller, role)?;
        let group = match req.group_id.as_str() {
            "" => None,
            id => Some(
                groups::find(&self.db, scope, cairn_core::GroupId::parse(id, "group_id")?)
                    .await?
                    .id,
            ),
        };
        let taken = user::Entity::find()
            .filter(user::Column::Email.eq(email.as_str()))
            .one(&self.db)
            .await
            .map_err(db_err("checking an address"))?;
        if taken.is_some() {
            return Err(Error::AlreadyExists {
                kind: EntityKind::User,
            }
            .into());
        }
        let company = cairn_entity::regional::company::Entity::find_by_id(scope.uuid())
            .one(&self.db)
            .await
            .map_err(db_err("finding a company"))?
            .ok_or_else(|| Error::not_found(EntityKind::Company, scope.company()))?;
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let code = format!("{}-{}", self.auth.region(), hex::encode(secret));
        let now = Utc::now();
        let txn = cairn_entity::begin_write(&self.db)
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
                ip: &ip,
            },
            "user.invite",
            "role",
        )
        .await?;
        txn.commit()
            .await
            .map_err(db_err("committing an invitation"))?;
        self.mail.notify_one();
        Ok(Response::new(invitation_proto(&row)))
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::RevokeInvitationResponse>, Status> {
        let caller = self.admin(&request).await?;
        let id = InvitationId::parse(&request.get_ref().invitation_id, "invitation_id")?;
        let found = invitation::Entity::find_by_id(id.0)
            .filter(invitation::Column::CompanyId.eq(caller.scope.uuid()))
            .filter(invitation::Column::AcceptedAt.is_null())
            .one(&self.db)
            .await
            .map_err(db_err("finding an invitation"))?
            .ok_or_else(|| Error::not_found(EntityKind::Invitation, id))?;
        may_manage(&caller, parse_role("role", &found.role)?)?;
        invitation::Entity::delete_by_id(found.id)
            .exec(&self.db)
            .await
            .map_err(db_err("deleting an invitation"))?;
        Ok(Response::new(pb::RevokeInvitationResponse {}))
    }

    async fn change_user_role(
        &self,
        request: Request<pb::ChangeUserRoleRequest>,
    ) -> Result<Response<pb::User>, Status> {
        // Roles are the owner's to give.
        let caller = self.user(&request, &[Role::Owner]).await?;
        let ip = client_ip(&request);
        let scope = caller.scope;
        let req = request.get_ref();
        let id = UserId::parse(&req.user_id, "user_id")?;
        let role = assignable("role", &req.role)?;
        let found = access::find_user(&self.db, scope, id).await?;
        may_manage(&caller, parse_role("role", &found.role)?)?;
        let txn = cairn_entity::begin_write(&self.db)
            .await
            .map_err(db_err("starting a role change"))?;
        let mut active = found.into_active_model();
        active.role = Set(role.as_str().to_owned());
        let row = active
            .update(&txn)
            .await
            .map_err(db_err("changing a role"))?;
        record(
            &txn,
            scope,
            &Actor {
                id: caller.actor_id(),
                ip: &ip,
            },
            "user.role",
            "role",
        )
        .await?;
        txn.commit()
            .await
            .map_err(db_err("committing a role change"))?;
        Ok(Response::new(to_proto(&self.db, scope, row).await?))
    }

    async fn set_user_group(
        &self,
        request: Request<pb::SetUserGroupRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.admin(&request).await?;
        let scope = caller.scope;
        let req = request.get_ref();
        let id = UserId::parse(&req.user_id, "user_id")?;
        let g = groups::find(
            &self.db,
            scope,
            cairn_core::GroupId::parse(&req.group_id, "group_id")?,
        )
        .await?;
        let found = access::find_user(&self.db, scope, id).await?;
        let mut active = found.into_active_model();
        active.group_id = Set(Some(g.id));
        let row = active
            .update(&self.db)
            .await
            .map_err(db_err("moving a user"))?;
        Ok(Response::new(to_proto(&self.db, scope, row).await?))
    }

    async fn remove_user(
        &self,
        request: Request<pb::RemoveUserRequest>,
    ) -> Result<Response<pb::RemoveUserResponse>, Status> {
        let caller = self.admin(&request).await?;
        let id = UserId::parse(&request.get_ref().user_id, "user_id")?;
        let found = access::find_user(&self.db, caller.scope, id).await?;
        may_manage(&caller, parse_role("role", &found.role)?)?;
        crate::delete::delete_user(&self.db, &found, self.auth.region()).await?;
        if let Err(err) = self.directory.unregister_login(&found.email).await {
            tracing::warn!(error = %err, "a removed user's login stays in the directory until retried");
        }
        Ok(Response::new(pb::RemoveUserResponse {}))
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::AcceptInvitationResponse>, Status> {
        let ip = client_ip(&request);
        let req = request.into_inner();
        let region = parse_code(&req.code)?;
        if region != self.auth.region() {
            return Err(self.auth.wrong_region(region).into());
        }
        if !req.age_confirmed {
            return Err(Error::invalid(
                "age_confirmed",
                "you must be at least 13 years old to use Cairn",
            )
            .into());
        }
        let name = text("name", &req.name, 200)?;
        let title = optional_text("title", &req.title, 100)?;
        let username = username("username", &req.username)?;
        let bad_code =
            || Error::FailedPrecondition("this invitation code is unknown, used or expired".into());
        let found = invitation::Entity::find()
            .filter(invitation::Column::CodeHash.eq(code_hash(&req.code)))
            .one(&self.db)
            .await
            .map_err(db_err("finding an invitation"))?
            .ok_or_else(bad_code)?;
        if found.accepted_at.is_some() || found.expires_at < Utc::now() {
            return Err(bad_code().into());
        }
        let password =
            Password::parse("password", &req.password, &[&found.email, &name, &username])?;
        let password_hash = tokio::task::spawn_blocking(move || hash_password(password.expose()))
            .await
            .map_err(|e| Error::internal_with("hashing a password", e))??;
        let scope = CompanyScope::from_secret(found.company_id.into());
        let user_id = UserId::new();
        self.directory
            .register_login(&found.email, scope.company())
            .await?;
        let now = Utc::now();
        let committed = async {
            let txn = cairn_entity::begin_write(&self.db)
                .await
                .map_err(db_err("starting an acceptance"))?;
            // Conditional: a code accepted twice at once creates one account.
            let claimed = invitation::Entity::update_many()
                .col_expr(
                    invitation::Column::AcceptedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .col_expr(
                    invitation::Column::AcceptedUser,
                    sea_orm::sea_query::Expr::value(user_id.0),
                )
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
                title: Set(title),
                username: Set(username),
                signup_ip: Set(ip.clone()),
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
                    ip: &ip,
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
            if let Err(undo) = self.directory.unregister_login(&found.email).await {
                tracing::warn!(error = %undo, "could not release a login after a failed acceptance");
            }
            return Err(err.into());
        }
        Ok(Response::new(pb::AcceptInvitationResponse {
            user_id: user_id.to_string(),
            company_id: scope.company().to_string(),
        }))
    }
}
