//! Sign-up and profile changes: a login is unique across accounts, and a
//! new address is claimed, confirmed again and announced to the old one.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use cairn_core::people::PersonName;
use cairn_core::validate::Email;
use cairn_core::{Error, Region};
use cairn_entity::regional::{company, outbox};

use super::{cells, claims, form, invited, sign_up};
use crate::profile::{ProfileChanges, get, update};

#[tokio::test]
async fn a_login_another_account_holds_stops_a_sign_up_before_it_writes() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let before = company::Entity::find().count(&cell.db).await.unwrap();
        let err = crate::signup::sign_up(
            &cell.db,
            Region::Us,
            &cell.master,
            &cell.logins,
            form("Globex", &owner.email),
            "192.0.2.4",
        )
        .await
        .err();
        assert!(
            matches!(err, Some(Error::AlreadyExists { .. })),
            "{}: {err:?}",
            cell.backend
        );
        assert_eq!(
            company::Entity::find().count(&cell.db).await.unwrap(),
            before,
            "{}",
            cell.backend
        );
        // The login stays with the account that holds it.
        assert_eq!(
            cell.logins.holder(&owner.email).map(|c| c.0),
            Some(owner.company_id)
        );
    }
}

#[tokio::test]
async fn a_new_address_is_claimed_confirmed_again_and_announced_to_the_old_one() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let old = owner.email.clone();
        let changes = ProfileChanges {
            email: Some(Email::parse("email", "New@Acme.example.com").unwrap()),
            name: Some(PersonName::parse("name", "Ada Owner").unwrap()),
            ..Default::default()
        };
        let profile = update(
            &cell.db,
            &cell.logins,
            &claims(&owner),
            "192.0.2.4",
            changes,
        )
        .await
        .unwrap();
        assert_eq!(
            profile.user.email, "new@acme.example.com",
            "{}",
            cell.backend
        );
        assert_eq!(profile.user.name, "Ada Owner");
        assert!(profile.user.email_confirmed_at.is_none());
        assert_eq!(profile.company_name, "Acme");
        assert!(cell.logins.holder("new@acme.example.com").is_some());
        assert_eq!(cell.logins.holder(&old), None);
        let notices = outbox::Entity::find()
            .filter(outbox::Column::ToAddress.eq(old.as_str()))
            .filter(outbox::Column::Subject.eq("Your Cairn email address was changed"))
            .count(&cell.db)
            .await
            .unwrap();
        assert_eq!(notices, 1, "{}", cell.backend);
        // It is effective at once.
        let again = get(&cell.db, &claims(&owner)).await.unwrap();
        assert_eq!(again.user.email, "new@acme.example.com");
    }
}

#[tokio::test]
async fn an_address_another_account_holds_changes_nothing() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let ada = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        let changes = ProfileChanges {
            email: Some(Email::parse("email", &ada.email).unwrap()),
            ..Default::default()
        };
        let err = update(
            &cell.db,
            &cell.logins,
            &claims(&owner),
            "192.0.2.4",
            changes,
        )
        .await
        .err();
        assert!(
            matches!(err, Some(Error::AlreadyExists { .. })),
            "{}: {err:?}",
            cell.backend
        );
        let kept = get(&cell.db, &claims(&owner)).await.unwrap();
        assert_eq!(kept.user.email, owner.email);
        // Both logins stay with their holders.
        assert!(cell.logins.holder(&owner.email).is_some());
        assert!(cell.logins.holder(&ada.email).is_some());
    }
}
