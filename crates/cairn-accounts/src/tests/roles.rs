//! Roles: only the owner makes admins, and nobody changes or removes the
//! owner.

use sea_orm::{ActiveModelTrait, EntityTrait};

use cairn_core::{Error, GroupId, UserId};
use cairn_entity::regional::{group, user};

use super::{caller, cells, invited, remove_as, sign_up};
use crate::users::AssignableRole;
use crate::users::roles::{GroupMove, RoleChange, change_role, set_group};
use cairn_tenancy::members::Backups;

fn to(u: &user::Model, role: &str) -> RoleChange {
    RoleChange {
        user: UserId(u.id),
        role: AssignableRole::parse("role", role).unwrap(),
    }
}

#[tokio::test]
async fn only_the_owner_makes_admins() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let admin = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        let member = invited(&cell, &owner, "bob@acme.example.com", "member").await;

        let by_admin = caller(&cell, &admin).await;
        let err = change_role(&cell.db, &by_admin, to(&member, "admin"), "192.0.2.9")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");
        let still = user::Entity::find_by_id(member.id)
            .one(&cell.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(still.role, "member", "{}", cell.backend);

        let by_owner = caller(&cell, &owner).await;
        let changed = change_role(&cell.db, &by_owner, to(&member, "admin"), "192.0.2.9")
            .await
            .unwrap();
        assert_eq!(changed.user.role, "admin", "{}", cell.backend);
    }
}

#[tokio::test]
async fn nobody_changes_or_removes_the_owner() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let admin = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        let by_owner = caller(&cell, &owner).await;
        let by_admin = caller(&cell, &admin).await;

        let err = change_role(&cell.db, &by_owner, to(&owner, "member"), "192.0.2.9")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::PermissionDenied(m) if m.contains("nobody can change or remove the owner")),
            "{}: {err:?}",
            cell.backend
        );
        for by in [&by_owner, &by_admin] {
            let err = remove_as(&cell, by, UserId(owner.id), Backups::Keep)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");
        }
        let kept = user::Entity::find_by_id(owner.id)
            .one(&cell.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.role, "owner");
        assert!(cell.logins.holder(&owner.email).is_some());
    }
}

#[tokio::test]
async fn an_admin_removes_a_member_but_not_another_admin() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let admin = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        let other = invited(&cell, &owner, "cyd@acme.example.com", "admin").await;
        let member = invited(&cell, &owner, "bob@acme.example.com", "member").await;
        let by_admin = caller(&cell, &admin).await;

        let err = remove_as(&cell, &by_admin, UserId(other.id), Backups::Keep)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");

        remove_as(&cell, &by_admin, UserId(member.id), Backups::Keep)
            .await
            .unwrap();
        let gone = user::Entity::find_by_id(member.id)
            .one(&cell.db)
            .await
            .unwrap();
        assert!(gone.is_none(), "{}", cell.backend);
        assert_eq!(cell.logins.holder(&member.email), None);
    }
}

#[tokio::test]
async fn another_companys_user_is_not_found() {
    for cell in cells().await {
        let acme = sign_up(&cell, "Acme").await;
        let globex = sign_up(&cell, "Globex").await;
        let theirs = invited(&cell, &globex, "hank@globex.example.com", "member").await;
        let by = caller(&cell, &acme).await;
        let err = remove_as(&cell, &by, UserId(theirs.id), Backups::Keep)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_user_moves_only_into_a_group_of_their_company() {
    for cell in cells().await {
        let acme = sign_up(&cell, "Acme").await;
        let globex = sign_up(&cell, "Globex").await;
        let bob = invited(&cell, &acme, "bob@acme.example.com", "member").await;
        let sales = group(&cell, &acme, "Sales").await;
        let theirs = group(&cell, &globex, "Theirs").await;
        let by = caller(&cell, &acme).await;

        let err = set_group(
            &cell.db,
            &by,
            GroupMove {
                user: UserId(bob.id),
                group: GroupId(theirs.id),
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

        let moved = set_group(
            &cell.db,
            &by,
            GroupMove {
                user: UserId(bob.id),
                group: GroupId(sales.id),
            },
        )
        .await
        .unwrap();
        assert_eq!(moved.group.id, sales.id, "{}", cell.backend);
        assert_eq!(moved.group.name, "Sales");
        // Members move nobody.
        let by_bob = caller(&cell, &bob).await;
        let err = set_group(
            &cell.db,
            &by_bob,
            GroupMove {
                user: UserId(bob.id),
                group: GroupId(sales.id),
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");
    }
}

async fn group(cell: &super::Cell, owner: &user::Model, name: &str) -> group::Model {
    let scope = cairn_entity::CompanyScope::of_user(owner);
    cairn_tenancy::groups::new_group(scope, name.into(), false, &Default::default())
        .insert(&cell.db)
        .await
        .unwrap()
}
