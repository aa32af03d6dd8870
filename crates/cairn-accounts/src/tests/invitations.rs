//! Invitations: a one-time code, refused once expired, accepted with the
//! invited role and a confirmed address; the owner's role is never given and
//! admins do not make admins.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

use cairn_core::validate::Email;
use cairn_core::{Error, InvitationId, Region};
use cairn_entity::regional::{invitation, user};

use super::{acceptance, caller, cells, invited, mailed_code, sign_up};
use crate::users::AssignableRole;
use crate::users::accept::accept;
use crate::users::invite::{Invitee, invite, revoke};

fn invitee(email: &str, role: &str) -> Invitee {
    Invitee {
        email: Email::parse("email", email).unwrap(),
        role: AssignableRole::parse("role", role).unwrap(),
        group: None,
    }
}

#[tokio::test]
async fn an_accepted_invitation_gives_the_invited_role_and_a_confirmed_address() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let ada = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        assert_eq!(ada.role, "admin", "{}", cell.backend);
        assert_eq!(ada.company_id, owner.company_id);
        assert!(ada.email_confirmed_at.is_some(), "{}", cell.backend);
        // The login is the directory's now, for this company.
        assert_eq!(
            cell.logins.holder("ada@acme.example.com").map(|c| c.0),
            Some(owner.company_id)
        );
    }
}

#[tokio::test]
async fn an_invitation_code_works_once() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let by = caller(&cell, &owner).await;
        let email = "bob@acme.example.com";
        invite(
            &cell.db,
            Region::Us,
            &by,
            invitee(email, "member"),
            "192.0.2.2",
        )
        .await
        .unwrap();
        let code = mailed_code(&cell, email).await;
        accept(
            &cell.db,
            &cell.logins,
            acceptance(&code, email),
            "192.0.2.3",
        )
        .await
        .unwrap();
        let again = accept(
            &cell.db,
            &cell.logins,
            acceptance(&code, email),
            "192.0.2.3",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&again, Error::FailedPrecondition(m) if m.contains("unknown, used or expired")),
            "{}: {again:?}",
            cell.backend
        );
        let people = user::Entity::find().all(&cell.db).await.unwrap();
        assert_eq!(people.iter().filter(|u| u.email == email).count(), 1);
    }
}

#[tokio::test]
async fn an_expired_invitation_is_refused_and_claims_no_login() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let by = caller(&cell, &owner).await;
        let email = "late@acme.example.com";
        let row = invite(
            &cell.db,
            Region::Us,
            &by,
            invitee(email, "member"),
            "192.0.2.2",
        )
        .await
        .unwrap();
        let code = mailed_code(&cell, email).await;
        let mut active = row.into_active_model();
        active.expires_at = Set(Utc::now() - Duration::minutes(1));
        active.update(&cell.db).await.unwrap();

        let err = accept(
            &cell.db,
            &cell.logins,
            acceptance(&code, email),
            "192.0.2.3",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::FailedPrecondition(_)),
            "{}: {err:?}",
            cell.backend
        );
        assert_eq!(cell.logins.holder(email), None);
        let open = invitation::Entity::find().all(&cell.db).await.unwrap();
        assert!(open.iter().all(|i| i.accepted_at.is_none()));
    }
}

#[test]
fn the_owner_role_cannot_be_given() {
    let err = AssignableRole::parse("role", "owner").unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { field, .. } if field == "role"),
        "{err:?}"
    );
    assert!(AssignableRole::parse("role", "admin").is_ok());
    assert!(AssignableRole::parse("role", "member").is_ok());
}

#[tokio::test]
async fn admins_invite_members_but_not_admins() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let admin = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        let by = caller(&cell, &admin).await;
        let err = invite(
            &cell.db,
            Region::Us,
            &by,
            invitee("eve@acme.example.com", "admin"),
            "192.0.2.2",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::PermissionDenied(m) if m.contains("only the owner manages admins")),
            "{}: {err:?}",
            cell.backend
        );
        invite(
            &cell.db,
            Region::Us,
            &by,
            invitee("max@acme.example.com", "member"),
            "192.0.2.2",
        )
        .await
        .unwrap();
        // Members invite nobody.
        let member = invited(&cell, &owner, "mia@acme.example.com", "member").await;
        let by = caller(&cell, &member).await;
        let err = invite(
            &cell.db,
            Region::Us,
            &by,
            invitee("tom@acme.example.com", "member"),
            "192.0.2.2",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");
    }
}

#[tokio::test]
async fn an_address_that_already_has_an_account_cannot_be_invited() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let by = caller(&cell, &owner).await;
        let err = invite(
            &cell.db,
            Region::Us,
            &by,
            invitee(&owner.email, "member"),
            "192.0.2.2",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_revoked_invitation_cannot_be_accepted_and_admins_revoke_only_members() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let admin = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        let by_owner = caller(&cell, &owner).await;
        let by_admin = caller(&cell, &admin).await;
        let for_admin = invite(
            &cell.db,
            Region::Us,
            &by_owner,
            invitee("cyd@acme.example.com", "admin"),
            "192.0.2.2",
        )
        .await
        .unwrap();
        let err = revoke(&cell.db, &by_admin, InvitationId(for_admin.id))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");

        let email = "max@acme.example.com";
        let for_member = invite(
            &cell.db,
            Region::Us,
            &by_admin,
            invitee(email, "member"),
            "192.0.2.2",
        )
        .await
        .unwrap();
        let code = mailed_code(&cell, email).await;
        revoke(&cell.db, &by_admin, InvitationId(for_member.id))
            .await
            .unwrap();
        let err = accept(
            &cell.db,
            &cell.logins,
            acceptance(&code, email),
            "192.0.2.3",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::FailedPrecondition(_)),
            "{}: {err:?}",
            cell.backend
        );
        assert_eq!(cell.logins.holder(email), None);
    }
}

#[tokio::test]
async fn another_companys_invitation_is_not_found() {
    for cell in cells().await {
        let acme = sign_up(&cell, "Acme").await;
        let globex = sign_up(&cell, "Globex").await;
        let theirs = invite(
            &cell.db,
            Region::Us,
            &caller(&cell, &globex).await,
            invitee("hank@globex.example.com", "member"),
            "192.0.2.2",
        )
        .await
        .unwrap();
        let err = revoke(
            &cell.db,
            &caller(&cell, &acme).await,
            InvitationId(theirs.id),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        let kept = invitation::Entity::find_by_id(theirs.id)
            .one(&cell.db)
            .await
            .unwrap();
        assert!(kept.is_some(), "{}", cell.backend);
    }
}
