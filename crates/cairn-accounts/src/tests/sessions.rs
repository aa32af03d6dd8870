//! Sessions: a refresh rotates, a spent refresh token revokes its family,
//! logout revokes, and a password change revokes every family.

use cairn_core::Error;

use super::{Cell, PASSWORD, cells, claims, sign_up};
use crate::login::login;
use crate::sessions::{logout, rotate};

/// Logs `email` in; returns the refresh token.
async fn session(cell: &Cell, email: &str) -> String {
    login(&cell.db, &cell.issuer, email, PASSWORD.into(), "192.0.2.7")
        .await
        .unwrap()
        .refresh
        .token
}

fn is_refused(result: Result<impl Sized, Error>) -> bool {
    matches!(result, Err(Error::Unauthenticated(_)))
}

#[tokio::test]
async fn a_refresh_gives_a_new_token_and_spends_the_old_one() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let first = session(&cell, &owner.email).await;
        let (who, next) = rotate(&cell.db, &first).await.unwrap();
        assert_eq!(who.id, owner.id, "{}", cell.backend);
        assert_ne!(next.token, first);
        // The next one works in turn.
        let (_, third) = rotate(&cell.db, &next.token).await.unwrap();
        assert_ne!(third.token, next.token);
    }
}

#[tokio::test]
async fn a_spent_refresh_token_revokes_its_whole_family() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let stolen = session(&cell, &owner.email).await;
        let other_device = session(&cell, &owner.email).await;
        let (_, current) = rotate(&cell.db, &stolen).await.unwrap();

        let replay = rotate(&cell.db, &stolen).await;
        assert!(
            matches!(&replay, Err(Error::Unauthenticated(m)) if m.contains("already used")),
            "{}: {:?}",
            cell.backend,
            replay.err()
        );
        // The legitimate holder's newer token died with its family...
        assert!(is_refused(rotate(&cell.db, &current.token).await));
        // ...but another session of the same user lives on.
        rotate(&cell.db, &other_device).await.unwrap();
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let token = session(&cell, &owner.email).await;
        logout(&cell.db, &token).await.unwrap();
        assert!(
            is_refused(rotate(&cell.db, &token).await),
            "{}",
            cell.backend
        );
        // Unknown tokens are ignored.
        logout(&cell.db, "crt_unknown").await.unwrap();
    }
}

#[tokio::test]
async fn a_password_change_ends_every_session() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let laptop = session(&cell, &owner.email).await;
        let phone = session(&cell, &owner.email).await;
        crate::password::change(
            &cell.db,
            &claims(&owner),
            PASSWORD.into(),
            "an entirely new passphrase 77",
            "192.0.2.7",
        )
        .await
        .unwrap();
        assert!(
            is_refused(rotate(&cell.db, &laptop).await),
            "{}",
            cell.backend
        );
        assert!(
            is_refused(rotate(&cell.db, &phone).await),
            "{}",
            cell.backend
        );
        // The new password logs in; the old one no longer does.
        login(
            &cell.db,
            &cell.issuer,
            &owner.email,
            "an entirely new passphrase 77".into(),
            "192.0.2.7",
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let token = session(&cell, &owner.email).await;
        let err = crate::password::change(
            &cell.db,
            &claims(&owner),
            "not my password at all".into(),
            "an entirely new passphrase 77",
            "192.0.2.7",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument { field, .. } if field == "current_password"),
            "{err:?}"
        );
        rotate(&cell.db, &token).await.unwrap();
    }
}
