//! The claims a Cairn access token carries.

use serde::{Deserialize, Serialize};

use cairn_core::{Error, Region};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Member,
    PartnerAdmin,
    Support,
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::PartnerAdmin => "partner_admin",
            Role::Support => "support",
            Role::Operator => "operator",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Agent,
    Partner,
    /// A region cell calling the directory.
    Cell,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user, agent or cell the token speaks for.
    pub sub: String,
    /// The company (UUID); empty for cells.
    pub company: String,
    pub region: Region,
    pub roles: Vec<Role>,
    pub kind: PrincipalKind,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

/// The refusal of a caller without one of `roles`, naming them.
pub fn role_denied(roles: &[Role]) -> Error {
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Error::PermissionDenied(format!(
        "this call needs one of the roles: {}",
        names.join(", ")
    ))
}

impl Claims {
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }

    /// Refuses callers without one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), Error> {
        if self.kind == PrincipalKind::User && self.has_any_role(roles) {
            return Ok(());
        }
        Err(role_denied(roles))
    }

    pub fn require_kind(&self, kind: PrincipalKind) -> Result<(), Error> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(Error::PermissionDenied(
                format!("this call is for {kind:?} credentials").to_lowercase(),
            ))
        }
    }

    /// The company this token belongs to.
    pub fn company_id(&self) -> Result<cairn_core::CompanyId, Error> {
        cairn_core::CompanyId::parse(&self.company, "token.company")
            .map_err(|_| Error::Unauthenticated("token has no valid company".into()))
    }
}
