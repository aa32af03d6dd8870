//! Login throttling: failed attempts are slowed down, then locked out for a
//! while, per account and per client address. State lives in the cell's
//! database, so every replica sees the same counts.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, IntoActiveModel, Set};

use cairn_core::Error;
use cairn_entity::db_err;
use cairn_entity::regional::login_throttle;

/// Failures counted over this window.
const WINDOW_SECS: i64 = 15 * 60;
/// How long a lock lasts.
const LOCK_SECS: i64 = 15 * 60;
/// Failures before an account is locked.
const ACCOUNT_LIMIT: i32 = 5;
/// Failures before a client address is locked (it may serve many people).
const ADDRESS_LIMIT: i32 = 20;

#[derive(Clone, Copy)]
pub(crate) enum Subject<'a> {
    Account(&'a str),
    Address(&'a str),
}

impl Subject<'_> {
    fn key(&self) -> Vec<u8> {
        let (kind, value) = match self {
            Subject::Account(email) => ("account", *email),
            Subject::Address(ip) => ("address", *ip),
        };
        let mut h = blake3::Hasher::new();
        h.update(kind.as_bytes());
        h.update(b"\0");
        h.update(value.as_bytes());
        h.finalize().as_bytes().to_vec()
    }

    fn limit(&self) -> i32 {
        match self {
            Subject::Account(_) => ACCOUNT_LIMIT,
            Subject::Address(_) => ADDRESS_LIMIT,
        }
    }
}

/// Refuses a subject that is locked right now.
pub(crate) async fn check(db: &DatabaseConnection, subject: Subject<'_>) -> Result<(), Error> {
    let row = login_throttle::Entity::find_by_id(subject.key())
        .one(db)
        .await
        .map_err(db_err("reading login throttle"))?;
    if let Some(until) = row.and_then(|r| r.locked_until) {
        let left = (until - Utc::now()).num_seconds();
        if left > 0 {
            return Err(Error::RateLimited {
                message: "too many failed logins".into(),
                retry_after_secs: left as u64,
            });
        }
    }
    Ok(())
}

/// Counts a failure; returns how many are on record in the window.
pub(crate) async fn fail(db: &DatabaseConnection, subject: Subject<'_>) -> Result<i32, Error> {
    let now = Utc::now();
    let key = subject.key();
    let row = login_throttle::Entity::find_by_id(key.clone())
        .one(db)
        .await
        .map_err(db_err("reading login throttle"))?;
    let failures = match row {
        Some(row) => {
            let fresh = (now - row.window_started_at).num_seconds() > WINDOW_SECS;
            let failures = if fresh { 1 } else { row.failures + 1 };
            let mut active = row.into_active_model();
            if fresh {
                active.window_started_at = Set(now);
            }
            if failures >= subject.limit() {
                active.failures = Set(0);
                active.window_started_at = Set(now);
                active.locked_until = Set(Some(now + chrono::Duration::seconds(LOCK_SECS)));
            } else {
                active.failures = Set(failures);
            }
            active
                .update(db)
                .await
                .map_err(db_err("counting a failed login"))?;
            failures
        }
        None => {
            login_throttle::ActiveModel {
                key: Set(key),
                failures: Set(1),
                window_started_at: Set(now),
                locked_until: Set(None),
            }
            .insert(db)
            .await
            .map_err(db_err("counting a failed login"))?;
            1
        }
    };
    Ok(failures)
}

/// Forgets an account's failures after a successful login.
pub(crate) async fn clear(db: &DatabaseConnection, subject: Subject<'_>) -> Result<(), Error> {
    login_throttle::Entity::delete_by_id(subject.key())
        .exec(db)
        .await
        .map_err(db_err("clearing login throttle"))?;
    Ok(())
}

/// The pause before answering the n-th failure: 100 ms doubling, at most 1.6 s.
pub(crate) fn delay(failures: i32) -> Duration {
    let steps = failures.clamp(1, 5) - 1;
    Duration::from_millis(100 << steps)
}
