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

/// An issuer like the fixture cell's, to share between tasks.
fn issuer() -> std::sync::Arc<cairn_auth::TokenIssuer> {
    let key = cairn_auth::SigningKey::from_seed(cairn_core::Region::Us, &[3; 32]).unwrap();
    std::sync::Arc::new(cairn_auth::TokenIssuer::new(key))
}

/// Sends `guesses` logins for `email` at once, each from the address
/// `ip(i)`, and sorts the answers: (passwords checked and wrong, refused
/// as rate-limited, logged in). Any other answer fails the test.
async fn burst(
    cell: &super::Cell,
    email: &str,
    guesses: Vec<String>,
    ip: impl Fn(usize) -> String,
) -> (usize, usize, usize) {
    let issuer = issuer();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, guess) in guesses.into_iter().enumerate() {
        let db = cell.db.clone();
        let issuer = issuer.clone();
        let email = email.to_owned();
        let ip = ip(i);
        tasks.spawn(async move { login(&db, &issuer, &email, guess, &ip).await.err() });
    }
    let (mut wrong, mut limited, mut ok) = (0, 0, 0);
    while let Some(answer) = tasks.join_next().await {
        match answer.unwrap() {
            None => ok += 1,
            Some(Error::Unauthenticated(m)) if m == "wrong email or password" => wrong += 1,
            Some(Error::RateLimited { .. }) => limited += 1,
            Some(other) => panic!("{}: unexpected answer {other:?}", cell.backend),
        }
    }
    (wrong, limited, ok)
}

#[tokio::test]
async fn a_burst_of_guesses_checks_no_more_than_the_limit() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        let guesses = (0..30).map(|i| format!("guess number {i}")).collect();
        let (wrong, limited, ok) =
            burst(&cell, &owner.email, guesses, |i| format!("198.51.100.{i}")).await;
        assert_eq!(
            (wrong, limited, ok),
            (5, 25, 0),
            "{}: 30 guesses at once",
            cell.backend
        );
        // The account is locked: even the right password is refused now.
        let after = login(
            &cell.db,
            &cell.issuer,
            &owner.email,
            PASSWORD.into(),
            "198.51.100.200",
        )
        .await
        .err();
        assert!(
            matches!(after, Some(Error::RateLimited { .. })),
            "{}: {after:?}",
            cell.backend
        );
    }
}

#[tokio::test]
async fn a_hundred_at_once_answer_no_internal_error() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        // The right password is among them: it is checked only if it came
        // within the limit, and no more than the limit is ever checked.
        let guesses = (0..100)
            .map(|i| match i {
                50 => PASSWORD.to_owned(),
                _ => format!("guess number {i}"),
            })
            .collect();
        let (wrong, limited, ok) = burst(&cell, &owner.email, guesses, |i| {
            format!("203.0.113.{}", i % 250)
        })
        .await;
        assert!(
            wrong + ok <= super::super::throttle::ACCOUNT_LIMIT as usize,
            "{}: {wrong} wrong and {ok} right passwords checked",
            cell.backend
        );
        assert_eq!(wrong + limited + ok, 100, "{}", cell.backend);
    }
}

#[tokio::test]
async fn one_address_has_its_own_limit_across_accounts() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        // Forty unknown accounts from one address, at once.
        let issuer = issuer();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..40 {
            let db = cell.db.clone();
            let issuer = issuer.clone();
            tasks.spawn(async move {
                login(
                    &db,
                    &issuer,
                    &format!("nobody{i}@acme.example.com"),
                    "guess".into(),
                    "192.0.2.66",
                )
                .await
                .err()
            });
        }
        let mut checked = 0;
        while let Some(answer) = tasks.join_next().await {
            match answer.unwrap() {
                Some(Error::Unauthenticated(_)) => checked += 1,
                Some(Error::RateLimited { .. }) => {}
                other => panic!("{}: unexpected answer {other:?}", cell.backend),
            }
        }
        assert_eq!(
            checked,
            super::super::throttle::ADDRESS_LIMIT as usize,
            "{}",
            cell.backend
        );
        // The address is locked, for a registered account too; another
        // address is not.
        let from_there = login(
            &cell.db,
            &cell.issuer,
            &owner.email,
            PASSWORD.into(),
            "192.0.2.66",
        )
        .await
        .err();
        assert!(
            matches!(from_there, Some(Error::RateLimited { .. })),
            "{}: {from_there:?}",
            cell.backend
        );
        login(
            &cell.db,
            &cell.issuer,
            &owner.email,
            PASSWORD.into(),
            "192.0.2.67",
        )
        .await
        .unwrap();
    }
}
