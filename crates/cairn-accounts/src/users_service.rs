//! gRPC adapter of the users service: each handler checks the caller,
//! converts its request into a domain input of [`crate::users`], calls the
//! domain function and converts the result back.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use cairn_auth::{Authenticator, Role, client_ip};
use cairn_core::people::{JobTitle, PersonName};
use cairn_core::validate::{Email, username};
use cairn_core::{Error, GroupId, InvitationId, UserId};
use cairn_entity::regional::invitation;
use cairn_outbox::Mailer;
use cairn_proto::accounts::v1 as pb;
use cairn_tenancy::access::{self, ADMINS, UserCaller};
use cairn_tenancy::members::Backups;

use crate::DirectoryLink;
use crate::users::accept::{Acceptance, accept};
use crate::users::invite::{Invitee, invite, revoke};
use crate::users::list::list;
use crate::users::remove::{Removal, remove};
use crate::users::roles::{GroupMove, RoleChange, change_role, set_group};
use crate::users::{AssignableRole, InvitationCode, Member};

pub struct UsersService {
    db: DatabaseConnection,
    auth: Authenticator,
    directory: DirectoryLink,
    mail: Arc<Notify>,
    /// Where mail goes, to remove a removed user's `.eml` files.
    mailer: Mailer,
}

impl UsersService {
    pub fn new(
        db: DatabaseConnection,
        auth: Authenticator,
        directory: DirectoryLink,
        mail: Arc<Notify>,
        mailer: Mailer,
    ) -> Self {
        UsersService {
            db,
            auth,
            directory,
            mail,
            mailer,
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

impl TryFrom<&pb::RemoveUserRequest> for Removal {
    type Error = Error;

    fn try_from(req: &pb::RemoveUserRequest) -> Result<Self, Error> {
        let user = UserId::parse(&req.user_id, "user_id")?;
        let backups = match pb::MemberBackups::try_from(req.backups) {
            Ok(pb::MemberBackups::Keep) => Backups::Keep,
            Ok(pb::MemberBackups::Delete) => Backups::Delete,
            Ok(pb::MemberBackups::Unspecified) | Err(_) => {
                return Err(Error::invalid(
                    "backups",
                    "say whether the user's backups are kept for the company or deleted",
                ));
            }
        };
        Ok(Removal { user, backups })
    }
}

impl TryFrom<&pb::InviteUserRequest> for Invitee {
    type Error = Error;

    fn try_from(req: &pb::InviteUserRequest) -> Result<Self, Error> {
        Ok(Invitee {
            email: Email::parse("email", &req.email)?,
            role: AssignableRole::parse("role", &req.role)?,
            group: match req.group_id.as_str() {
                "" => None,
                id => Some(GroupId::parse(id, "group_id")?),
            },
        })
    }
}

impl TryFrom<&pb::ChangeUserRoleRequest> for RoleChange {
    type Error = Error;

    fn try_from(req: &pb::ChangeUserRoleRequest) -> Result<Self, Error> {
        Ok(RoleChange {
            user: UserId::parse(&req.user_id, "user_id")?,
            role: AssignableRole::parse("role", &req.role)?,
        })
    }
}

impl TryFrom<&pb::SetUserGroupRequest> for GroupMove {
    type Error = Error;

    fn try_from(req: &pb::SetUserGroupRequest) -> Result<Self, Error> {
        Ok(GroupMove {
            user: UserId::parse(&req.user_id, "user_id")?,
            group: GroupId::parse(&req.group_id, "group_id")?,
        })
    }
}

impl TryFrom<pb::AcceptInvitationRequest> for Acceptance {
    type Error = Error;

    fn try_from(req: pb::AcceptInvitationRequest) -> Result<Self, Error> {
        let code = InvitationCode::parse(&req.code)?;
        if !req.age_confirmed {
            return Err(Error::invalid(
                "age_confirmed",
                "you must be at least 13 years old to use Cairn",
            ));
        }
        Ok(Acceptance {
            code,
            name: PersonName::parse("name", &req.name)?,
            title: JobTitle::parse_optional("title", &req.title)?,
            username: username("username", &req.username)?,
            password: req.password,
        })
    }
}

fn user_proto(m: Member) -> pb::User {
    let u = m.user;
    pb::User {
        user_id: u.id.to_string(),
        name: u.name,
        email: u.email,
        username: u.username,
        role: u.role,
        group_id: m.group.id.to_string(),
        group_name: m.group.name,
        email_confirmed: u.email_confirmed_at.is_some(),
        created_at: u.created_at.timestamp(),
    }
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

#[tonic::async_trait]
impl pb::users_service_server::UsersService for UsersService {
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let caller = self.admin(&request).await?;
        let listing = list(&self.db, &caller).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: listing.users.into_iter().map(user_proto).collect(),
            invitations: listing.invitations.iter().map(invitation_proto).collect(),
        }))
    }

    async fn invite_user(
        &self,
        request: Request<pb::InviteUserRequest>,
    ) -> Result<Response<pb::Invitation>, Status> {
        let caller = self.admin(&request).await?;
        let ip = client_ip(&request);
        let invitee = Invitee::try_from(request.get_ref())?;
        let invited = invite(&self.db, self.auth.region(), &caller, invitee, &ip).await?;
        self.mail.notify_one();
        Ok(Response::new(invitation_proto(&invited)))
    }

    async fn revoke_invitation(
        &self,
        request: Request<pb::RevokeInvitationRequest>,
    ) -> Result<Response<pb::RevokeInvitationResponse>, Status> {
        let caller = self.admin(&request).await?;
        let id = InvitationId::parse(&request.get_ref().invitation_id, "invitation_id")?;
        revoke(&self.db, &caller, id).await?;
        Ok(Response::new(pb::RevokeInvitationResponse {}))
    }

    async fn change_user_role(
        &self,
        request: Request<pb::ChangeUserRoleRequest>,
    ) -> Result<Response<pb::User>, Status> {
        // Roles are the owner's to give.
        let caller = self.user(&request, &[Role::Owner]).await?;
        let ip = client_ip(&request);
        let change = RoleChange::try_from(request.get_ref())?;
        let changed = change_role(&self.db, &caller, change, &ip).await?;
        Ok(Response::new(user_proto(changed)))
    }

    async fn set_user_group(
        &self,
        request: Request<pb::SetUserGroupRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = self.admin(&request).await?;
        let change = GroupMove::try_from(request.get_ref())?;
        let moved = set_group(&self.db, &caller, change).await?;
        Ok(Response::new(user_proto(moved)))
    }

    async fn remove_user(
        &self,
        request: Request<pb::RemoveUserRequest>,
    ) -> Result<Response<pb::RemoveUserResponse>, Status> {
        let caller = self.admin(&request).await?;
        let ip = client_ip(&request);
        let removal = Removal::try_from(request.get_ref())?;
        let region = self.auth.region();
        let mailer = Some(&self.mailer);
        let done = remove(
            &self.db,
            mailer,
            &self.directory,
            region,
            &caller,
            removal,
            &ip,
        )
        .await?;
        Ok(Response::new(pb::RemoveUserResponse {
            agents_revoked: done.agents_revoked,
            keys_revoked: done.keys_revoked,
            snapshots_kept: done.snapshots_kept,
            snapshots_deleted: done.snapshots_deleted,
        }))
    }

    async fn accept_invitation(
        &self,
        request: Request<pb::AcceptInvitationRequest>,
    ) -> Result<Response<pb::AcceptInvitationResponse>, Status> {
        let ip = client_ip(&request);
        let req = request.into_inner();
        // A code of another cell is redirected before anything else is checked.
        let region = InvitationCode::parse(&req.code)?.region();
        if region != self.auth.region() {
            return Err(self.auth.wrong_region(region).into());
        }
        let input = Acceptance::try_from(req)?;
        let accepted = accept(&self.db, &self.directory, input, &ip).await?;
        Ok(Response::new(pb::AcceptInvitationResponse {
            user_id: accepted.user.to_string(),
            company_id: accepted.company.to_string(),
        }))
    }
}
