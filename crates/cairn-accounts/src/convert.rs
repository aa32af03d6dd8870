//! Conversions between the accounts protos and the domain types of this
//! crate, used by the gRPC adapter in `service.rs`.

use cairn_core::Error;
use cairn_core::people::{JobTitle, PersonName};
use cairn_core::validate::{Email, username};
use cairn_proto::accounts::v1 as pb;

use crate::profile::{Profile, ProfileChanges};

impl TryFrom<pb::UpdateProfileRequest> for ProfileChanges {
    type Error = Error;

    fn try_from(req: pb::UpdateProfileRequest) -> Result<Self, Error> {
        // Same order as the fields are reported: email first.
        let email = req
            .email
            .as_deref()
            .map(|v| Email::parse("email", v))
            .transpose()?;
        Ok(ProfileChanges {
            name: req
                .name
                .as_deref()
                .map(|v| PersonName::parse("name", v))
                .transpose()?,
            title: req
                .title
                .as_deref()
                .map(|v| JobTitle::parse("title", v))
                .transpose()?,
            username: req
                .username
                .as_deref()
                .map(|v| username("username", v))
                .transpose()?,
            email,
        })
    }
}

impl From<Profile> for pb::Profile {
    fn from(p: Profile) -> Self {
        let me = p.user;
        pb::Profile {
            user_id: me.id.to_string(),
            company_id: me.company_id.to_string(),
            company_name: p.company_name,
            name: me.name,
            title: me.title,
            username: me.username,
            email: me.email,
            role: me.role,
            email_confirmed: me.email_confirmed_at.is_some(),
            marketing_opt_out: me.marketing_opt_out,
        }
    }
}
