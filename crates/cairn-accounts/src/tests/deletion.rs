//! Self-service deletion: a user deleting themself leaves the company; the
//! owner deleting the company leaves none of its rows in any registry table
//! and no object under its prefix, and other companies keep all of theirs.

use bytes::Bytes;
use sea_orm::EntityTrait;

use cairn_core::{CompanyId, Error, PackId};
use cairn_entity::regional::{company, user};
use cairn_tenancy::registry::{TENANT_TABLES, objects, rows_per_table};

use super::{Cell, PASSWORD, cells, claims, invited, sign_up};
use crate::delete::delete;
use crate::login::login;

/// A pack object under the company's prefix.
async fn stored_pack(cell: &Cell, company: CompanyId, n: u8) {
    let mut writer = cell.store.begin_pack(company).unwrap();
    writer.write(Bytes::from(vec![n; 1024])).await.unwrap();
    writer
        .finish(&PackId::from_slice(&[n; 32], "pack").unwrap())
        .await
        .unwrap();
}

/// A company with people, sessions and objects; returns its owner.
async fn seeded(cell: &Cell, name: &str) -> user::Model {
    let owner = sign_up(cell, name).await;
    let domain = name.to_lowercase();
    invited(cell, &owner, &format!("ada@{domain}.example.com"), "admin").await;
    invited(cell, &owner, &format!("bob@{domain}.example.com"), "member").await;
    login(
        &cell.db,
        &cell.issuer,
        &owner.email,
        PASSWORD.into(),
        "192.0.2.8",
    )
    .await
    .unwrap();
    let company = CompanyId(owner.company_id);
    stored_pack(cell, company, name.len() as u8).await;
    owner
}

#[tokio::test]
async fn a_user_deleting_themself_leaves_the_company() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let bob = invited(&cell, &owner, "bob@acme.example.com", "member").await;
        let company_deleted = delete(
            &cell.db,
            &cell.store,
            None,
            &cell.logins,
            &claims(&bob),
            PASSWORD.into(),
            "",
        )
        .await
        .unwrap();
        assert!(!company_deleted, "{}", cell.backend);
        let gone = user::Entity::find_by_id(bob.id)
            .one(&cell.db)
            .await
            .unwrap();
        assert!(gone.is_none());
        assert_eq!(cell.logins.holder(&bob.email), None);
        // The company and its owner stay.
        let kept = company::Entity::find_by_id(owner.company_id)
            .one(&cell.db)
            .await
            .unwrap();
        assert!(kept.is_some(), "{}", cell.backend);
        assert!(cell.logins.holder(&owner.email).is_some());
    }
}

#[tokio::test]
async fn deleting_needs_the_password_and_the_owner_the_company_name() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let err = delete(
            &cell.db,
            &cell.store,
            None,
            &cell.logins,
            &claims(&owner),
            "not my password at all".into(),
            "Acme",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument { field, .. } if field == "password"),
            "{err:?}"
        );
        let err = delete(
            &cell.db,
            &cell.store,
            None,
            &cell.logins,
            &claims(&owner),
            PASSWORD.into(),
            "Acme Inc",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument { field, .. } if field == "confirm_company_name"),
            "{err:?}"
        );
        let kept = company::Entity::find_by_id(owner.company_id)
            .one(&cell.db)
            .await
            .unwrap();
        assert!(kept.is_some(), "{}", cell.backend);
    }
}

#[tokio::test]
async fn the_owner_deleting_the_company_leaves_nothing_of_it_and_all_of_the_others() {
    for cell in cells().await {
        let gone = seeded(&cell, "Acme").await;
        let kept = seeded(&cell, "Globex").await;
        let gone_id = CompanyId(gone.company_id);
        let kept_id = CompanyId(kept.company_id);
        let before = rows_per_table(&cell.db, gone_id).await.unwrap();
        for table in [
            "companies",
            "users",
            "refresh_tokens",
            "outbox",
            "audit_log",
        ] {
            let n = before.iter().find(|(t, _)| *t == table).map(|(_, n)| *n);
            assert!(n > Some(0), "{}: {table}: {before:?}", cell.backend);
        }
        assert!(!objects(&cell.store, gone_id).await.unwrap().is_empty());
        let others_rows = rows_per_table(&cell.db, kept_id).await.unwrap();
        let others_objects = objects(&cell.store, kept_id).await.unwrap();
        let gone_logins: Vec<String> = user::Entity::find()
            .all(&cell.db)
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.company_id == gone.company_id)
            .map(|u| u.email)
            .collect();
        assert_eq!(gone_logins.len(), 3);

        let company_deleted = delete(
            &cell.db,
            &cell.store,
            None,
            &cell.logins,
            &claims(&gone),
            PASSWORD.into(),
            " Acme ",
        )
        .await
        .unwrap();
        assert!(company_deleted, "{}", cell.backend);

        let after = rows_per_table(&cell.db, gone_id).await.unwrap();
        assert_eq!(after.len(), TENANT_TABLES.len());
        assert!(
            after.iter().all(|(_, n)| *n == 0),
            "{}: {after:?}",
            cell.backend
        );
        assert!(objects(&cell.store, gone_id).await.unwrap().is_empty());
        for login in &gone_logins {
            assert_eq!(cell.logins.holder(login), None, "{login}");
        }
        assert_eq!(
            rows_per_table(&cell.db, kept_id).await.unwrap(),
            others_rows
        );
        assert_eq!(objects(&cell.store, kept_id).await.unwrap(), others_objects);
        assert!(!others_objects.is_empty());
        assert!(cell.logins.holder(&kept.email).is_some());
    }
}
