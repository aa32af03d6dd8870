//! Password-reset and sign-up requests are limited per client address and
//! per target mailbox, whether or not the mailbox has an account.

use cairn_core::Error;
use cairn_core::Region;

use super::{cells, form, sign_up};
use crate::password::request_reset;
use crate::rate::Mailing;

fn is_limited(answer: &Result<impl std::fmt::Debug, Error>) -> bool {
    matches!(answer, Err(Error::RateLimited { retry_after_secs, .. }) if *retry_after_secs > 0)
}

#[tokio::test]
async fn reset_requests_are_limited_per_mailbox_and_per_address() {
    for cell in cells().await {
        let owner = sign_up(&cell, "Acme").await;
        // A mailbox with an account and one without are limited alike.
        for mailbox in [owner.email.as_str(), "nobody@acme.example.com"] {
            for i in 0..Mailing::PasswordReset.per_mailbox() {
                let ip = format!("198.51.100.{i}");
                let answer = request_reset(&cell.db, Region::Us, mailbox, &ip).await;
                assert!(
                    answer.is_ok(),
                    "{}: {mailbox} {i}: {answer:?}",
                    cell.backend
                );
            }
            let answer = request_reset(&cell.db, Region::Us, mailbox, "198.51.100.99").await;
            assert!(
                is_limited(&answer),
                "{}: {mailbox}: {answer:?}",
                cell.backend
            );
        }
        // One address, many mailboxes.
        let ip = "203.0.113.5";
        for i in 0..Mailing::PasswordReset.per_address() {
            let mailbox = format!("someone{i}@example.com");
            let answer = request_reset(&cell.db, Region::Us, &mailbox, ip).await;
            assert!(answer.is_ok(), "{}: {i}: {answer:?}", cell.backend);
        }
        let answer = request_reset(&cell.db, Region::Us, "last@example.com", ip).await;
        assert!(is_limited(&answer), "{}: {answer:?}", cell.backend);
    }
}

#[tokio::test]
async fn sign_ups_are_limited_per_mailbox_and_per_address() {
    for cell in cells().await {
        let sign_up_from = |name: &str, email: &str, ip: &str| {
            let form = form(name, email);
            let ip = ip.to_owned();
            let cell = &cell;
            async move {
                crate::signup::sign_up(&cell.db, Region::Us, &cell.master, &cell.logins, form, &ip)
                    .await
                    .map(|_| ())
            }
        };
        // The same mailbox again and again: taken after the first, then refused.
        for i in 0..Mailing::SignUp.per_mailbox() {
            let answer =
                sign_up_from("Bolt", "owner@bolt.example.com", &format!("192.0.2.{i}")).await;
            assert!(!is_limited(&answer), "{}: {i}: {answer:?}", cell.backend);
        }
        let answer = sign_up_from("Bolt", "owner@bolt.example.com", "192.0.2.99").await;
        assert!(is_limited(&answer), "{}: {answer:?}", cell.backend);

        // One address, many mailboxes.
        for i in 0..Mailing::SignUp.per_address() {
            let answer = sign_up_from(
                &format!("Co{i}"),
                &format!("owner{i}@co.example.com"),
                "198.51.100.77",
            )
            .await;
            assert!(answer.is_ok(), "{}: {i}: {answer:?}", cell.backend);
        }
        let answer = sign_up_from("Last", "owner@last.example.com", "198.51.100.77").await;
        assert!(is_limited(&answer), "{}: {answer:?}", cell.backend);
    }
}
