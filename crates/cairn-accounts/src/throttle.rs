//! Login throttling: at most a few passwords are checked per account and
//! per client address in a window, failures are slowed down, and reaching
//! the limit locks the subject for a while.
//!
//! Each login reserves its attempt (see [`crate::rate`]) before the password
//! is verified, so a burst of concurrent guesses checks no more passwords
//! than the limit: the others are refused without being looked at.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use cairn_core::Error;

use crate::rate;

/// Attempts counted over this window.
const WINDOW_SECS: i64 = 15 * 60;
/// How long a lock lasts.
const LOCK_SECS: i64 = 15 * 60;
/// Passwords checked for one account in a window.
pub(crate) const ACCOUNT_LIMIT: i32 = 5;
/// Passwords checked from one client address in a window (it may serve
/// many people).
pub(crate) const ADDRESS_LIMIT: i32 = 20;

#[derive(Clone, Copy)]
pub(crate) enum Subject<'a> {
    Account(&'a str),
    Address(&'a str),
}

impl Subject<'_> {
    fn key(&self) -> Vec<u8> {
        match self {
            Subject::Account(email) => rate::key("account", email),
            Subject::Address(ip) => rate::key("address", ip),
        }
    }

    fn limit(&self) -> i32 {
        match self {
            Subject::Account(_) => ACCOUNT_LIMIT,
            Subject::Address(_) => ADDRESS_LIMIT,
        }
    }
}

/// An attempt that may check a password: its number in the window.
#[derive(Clone, Copy)]
pub(crate) struct Reserved(i32);

fn too_many(retry_after_secs: u64) -> Error {
    Error::RateLimited {
        message: "too many failed logins".into(),
        retry_after_secs,
    }
}

/// Counts an attempt for `subject` and says whether it may go on: refused
/// (RATE_LIMITED) while the subject is locked or past its limit.
pub(crate) async fn reserve(
    db: &DatabaseConnection,
    subject: Subject<'_>,
) -> Result<Reserved, Error> {
    let count = rate::count(db, subject.key(), WINDOW_SECS).await?;
    match count.refused_for(subject.limit(), WINDOW_SECS) {
        Some(secs) => Err(too_many(secs)),
        None => Ok(Reserved(count.attempts)),
    }
}

/// The reserved attempt failed: the subject is locked once it reached its
/// limit. Returns the pause to make before answering.
pub(crate) async fn failed(
    db: &DatabaseConnection,
    subject: Subject<'_>,
    attempt: Reserved,
) -> Result<Duration, Error> {
    if attempt.0 >= subject.limit() {
        rate::lock(db, subject.key(), LOCK_SECS).await?;
    }
    Ok(delay(attempt.0))
}

/// The reserved attempt succeeded: an account forgets its failures, an
/// address gets its attempt back.
pub(crate) async fn succeeded(db: &DatabaseConnection, subject: Subject<'_>) -> Result<(), Error> {
    match subject {
        Subject::Account(_) => rate::clear(db, subject.key()).await,
        Subject::Address(_) => rate::release(db, subject.key()).await,
    }
}

/// The pause before answering the n-th failure: 100 ms doubling, at most 1.6 s.
pub(crate) fn delay(failures: i32) -> Duration {
    let steps = failures.clamp(1, 5) - 1;
    Duration::from_millis(100 << steps)
}
