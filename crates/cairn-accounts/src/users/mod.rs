//! The users of a company: invitations, roles, groups and removal, as domain
//! functions over the cell's database. They know neither gRPC nor the
//! protos; `crate::users_service` converts requests into the inputs here.
//!
//! Only the owner makes admins; admins invite and remove members; nobody
//! touches the owner. An invitation is a mailed one-time code; accepting it
//! creates the account with the invited role (its address counts as
//! confirmed: the code came through it).

pub(crate) mod accept;
pub(crate) mod invite;
pub(crate) mod list;
pub(crate) mod remove;
pub(crate) mod roles;

use sea_orm::ConnectionTrait;

use cairn_auth::{Role, role_denied};
use cairn_core::{Error, Region};
use cairn_entity::CompanyScope;
use cairn_entity::regional::{group, user};
use cairn_tenancy::access::{UserCaller, parse_role};
use cairn_tenancy::groups;

/// A user with the group they belong to.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) user: user::Model,
    pub(crate) group: group::Model,
}

pub(crate) async fn member<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    user: user::Model,
) -> Result<Member, Error> {
    let group = groups::resolve(db, scope, user.group_id).await?;
    Ok(Member { user, group })
}

/// A role an invitation or a role change may give: never the owner's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AssignableRole(Role);

impl AssignableRole {
    pub(crate) fn parse(field: &str, value: &str) -> Result<AssignableRole, Error> {
        match parse_role(field, value)? {
            Role::Owner => Err(Error::invalid(
                field,
                "a company has one owner; invite an admin or a member",
            )),
            role => Ok(AssignableRole(role)),
        }
    }

    pub(crate) fn role(self) -> Role {
        self.0
    }
}

/// Refuses a caller whose current role is not one of `roles`.
pub(crate) fn require(caller: &UserCaller, roles: &[Role]) -> Result<(), Error> {
    if roles.contains(&caller.role) {
        Ok(())
    } else {
        Err(role_denied(roles))
    }
}

/// Whether `caller` may manage a user or invitation with `role`.
pub(crate) fn may_manage(caller: &UserCaller, role: Role) -> Result<(), Error> {
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

/// The stored role of a user or invitation.
pub(crate) fn stored_role(value: &str) -> Result<Role, Error> {
    parse_role("role", value)
}

/// An invitation code as typed: `<region>-<64 hex>`.
#[derive(Clone, Debug)]
pub(crate) struct InvitationCode {
    region: Region,
    code: String,
}

impl InvitationCode {
    pub(crate) fn parse(code: &str) -> Result<InvitationCode, Error> {
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
        let region = region.parse().map_err(|_| bad())?;
        Ok(InvitationCode {
            region,
            code: code.to_owned(),
        })
    }

    /// The region whose cell issued the code.
    pub(crate) fn region(&self) -> Region {
        self.region
    }

    /// What the database keeps of the code.
    pub(crate) fn hash(&self) -> Vec<u8> {
        code_hash(&self.code)
    }
}

pub(crate) fn code_hash(code: &str) -> Vec<u8> {
    blake3::hash(code.trim().as_bytes()).as_bytes().to_vec()
}
