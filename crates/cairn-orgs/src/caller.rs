//! Who asks, as the domain functions see it: a user of a company, with the
//! role the database gives them now and the address the call came from (for
//! the audit log). Each domain function checks the role it needs itself, so a
//! rule holds whoever calls it.

use cairn_auth::{Role, role_denied};
use cairn_core::{Error, UserId};
use cairn_entity::CompanyScope;
use cairn_entity::audit_log::Actor;
use cairn_tenancy::access::UserCaller;

pub(crate) use cairn_tenancy::access::{ADMINS, EVERYONE};

/// Billing decisions (seats, quota, the company's key): the owner only.
pub(crate) const OWNER: &[Role] = &[Role::Owner];

/// A user's call, with its client address.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) user: &'a UserCaller,
    pub(crate) ip: &'a str,
}

impl<'a> Caller<'a> {
    pub(crate) fn new(user: &'a UserCaller, ip: &'a str) -> Self {
        Caller { user, ip }
    }

    pub(crate) fn scope(&self) -> CompanyScope {
        self.user.scope
    }

    pub(crate) fn id(&self) -> UserId {
        self.user.id()
    }

    pub(crate) fn is_admin(&self) -> bool {
        self.user.is_admin()
    }

    /// Refuses the call unless the caller holds one of `roles`.
    pub(crate) fn require(&self, roles: &[Role]) -> Result<(), Error> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(role_denied(roles))
        }
    }

    /// The caller as the audit log names them.
    pub(crate) fn actor(&self) -> Actor<'a> {
        Actor {
            id: self.user.actor_id(),
            ip: self.ip,
        }
    }
}
