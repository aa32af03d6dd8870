//! Login throttling: an account is locked after 5 failures, even against
//! the right password, and the lock is the account's, not its neighbours'.

use cairn_core::Error;

use super::{PASSWORD, cells, invited, sign_up};
use crate::login::login;

#[tokio::test]
async fn five_failures_lock_the_account() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let colleague = invited(&cell, &owner, "ada@acme.example.com", "admin").await;
        for attempt in 0..5 {
            let ip = format!("198.51.100.{attempt}");
            let err = login(
                &cell.db,
                &cell.issuer,
                &owner.email,
                "wrong guess".into(),
                &ip,
            )
            .await
            .err();
            assert!(
                matches!(&err, Some(Error::Unauthenticated(m)) if m == "wrong email or password"),
                "{}: attempt {attempt}: {err:?}",
                cell.backend
            );
        }
        let locked = login(
            &cell.db,
            &cell.issuer,
            &owner.email,
            PASSWORD.into(),
            "198.51.100.99",
        )
        .await
        .err();
        assert!(
            matches!(&locked, Some(Error::RateLimited { retry_after_secs, .. }) if *retry_after_secs > 0),
            "{}: {locked:?}",
            cell.backend
        );
        // Another account of the same company still logs in.
        login(
            &cell.db,
            &cell.issuer,
            &colleague.email,
            PASSWORD.into(),
            "198.51.100.99",
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_success_before_the_limit_forgets_the_failures() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        for round in 0..2 {
            for attempt in 0..4 {
                let ip = format!("203.0.113.{round}{attempt}");
                let failed = login(&cell.db, &cell.issuer, &owner.email, "nope".into(), &ip).await;
                assert!(failed.is_err());
            }
            login(
                &cell.db,
                &cell.issuer,
                &owner.email,
                PASSWORD.into(),
                "203.0.113.50",
            )
            .await
            .unwrap_or_else(|e| panic!("{}: round {round}: {e:?}", cell.backend));
        }
    }
}
