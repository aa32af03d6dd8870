//! Who is calling, with the role the database gives them now: a role change
//! or a removal takes effect on the next call, not when the token expires.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use cairn_auth::{Claims, PrincipalKind, Role, role_denied};
use cairn_core::{AgentId, Error, UserId};
use cairn_entity::regional::{agent, user};
use cairn_entity::{CompanyScope, db_err};

pub const ADMINS: &[Role] = &[Role::Owner, Role::Admin];
pub const EVERYONE: &[Role] = &[Role::Owner, Role::Admin, Role::Member];

/// A user of a company, as the database knows them at this call.
#[derive(Clone, Debug)]
pub struct UserCaller {
    pub claims: Claims,
    pub scope: CompanyScope,
    pub user: user::Model,
    pub role: Role,
}

impl UserCaller {
    pub fn id(&self) -> UserId {
        UserId(self.user.id)
    }

    pub fn is_admin(&self) -> bool {
        ADMINS.contains(&self.role)
    }

    /// Refuses members.
    pub fn require_admin(&self) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(role_denied(ADMINS))
        }
    }

    /// `user:<id>`, as the audit log names people.
    pub fn actor_id(&self) -> String {
        format!("user:{}", self.user.id)
    }
}

pub fn parse_role(field: &str, value: &str) -> Result<Role, Error> {
    match value {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "member" => Ok(Role::Member),
        _ => Err(Error::invalid(
            field,
            format!("`{value}` is not a role: use owner, admin or member"),
        )),
    }
}

/// The user verified `claims` name, refused unless the database gives them
/// one of `roles` now.
pub async fn user_from_claims<C: ConnectionTrait>(
    db: &C,
    claims: Claims,
    roles: &[Role],
) -> Result<UserCaller, Error> {
    if claims.kind != PrincipalKind::User {
        return Err(role_denied(roles));
    }
    let scope = CompanyScope::from_claims(&claims)?;
    let id = UserId::parse(&claims.sub, "token.sub")
        .map_err(|_| Error::Unauthenticated("token has no valid user".into()))?;
    let found = user::Entity::find_by_id(id.0)
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .one(db)
        .await
        .map_err(db_err("finding the caller"))?
        .ok_or_else(|| Error::Unauthenticated("this account no longer exists".into()))?;
    let role = parse_role("role", &found.role)
        .map_err(|_| Error::internal(format!("user {} has an unknown role", found.id)))?;
    if !roles.contains(&role) {
        return Err(role_denied(roles));
    }
    Ok(UserCaller {
        claims,
        scope,
        user: found,
        role,
    })
}

/// The agent verified `claims` name; a revoked agent is refused at once.
pub async fn agent_from_claims<C: ConnectionTrait>(
    db: &C,
    claims: &Claims,
) -> Result<(agent::Model, CompanyScope), Error> {
    claims.require_kind(PrincipalKind::Agent)?;
    let scope = CompanyScope::from_claims(claims)?;
    let id = AgentId::parse(&claims.sub, "token.sub")?;
    let found = agent::Entity::find_by_id(id.0)
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::RevokedAt.is_null())
        .one(db)
        .await
        .map_err(db_err("finding the calling agent"))?
        .ok_or_else(|| Error::Unauthenticated("this agent was revoked".into()))?;
    Ok((found, scope))
}

/// A user of the company; another company's user is NOT_FOUND.
pub async fn find_user(
    db: &impl ConnectionTrait,
    scope: CompanyScope,
    id: UserId,
) -> Result<user::Model, Error> {
    user::Entity::find_by_id(id.0)
        .filter(user::Column::CompanyId.eq(scope.uuid()))
        .one(db)
        .await
        .map_err(db_err("finding a user"))?
        .ok_or_else(|| Error::not_found(cairn_core::EntityKind::User, id))
}
