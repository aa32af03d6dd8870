//! Attempt counters per subject (an account, a client address, a mailbox),
//! kept in the cell's `login_throttle` table under keyed-by-kind hashes, so
//! every replica sees the same counts.
//!
//! An attempt is counted *before* the work it stands for, with one
//! statement (an upsert that returns the new count): two requests at the
//! same moment get different counts, so a limit of five lets five through
//! however many arrive together. The counter restarts once its window is
//! over and its lock, if any, has run out.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};

use cairn_core::Error;
use cairn_entity::db_err;

/// What a counter says after an attempt was counted.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Count {
    /// Attempts in the window, this one included.
    pub(crate) attempts: i32,
    pub(crate) window_started_at: DateTime<Utc>,
    /// Set by [`lock`]; in the past once the lock has run out.
    pub(crate) locked_until: Option<DateTime<Utc>>,
}

impl Count {
    /// Seconds until this counter lets attempts through again, if it is
    /// over `limit` or locked now.
    pub(crate) fn refused_for(&self, limit: i32, window_secs: i64) -> Option<u64> {
        let now = now();
        if let Some(until) = self.locked_until
            && until > now
        {
            return Some((until - now).num_seconds().max(1) as u64);
        }
        if self.attempts > limit {
            let ends = self.window_started_at + chrono::Duration::seconds(window_secs);
            return Some((ends - now).num_seconds().max(1) as u64);
        }
        None
    }
}

/// Timestamps are kept to the second: SQLite compares them as text, which
/// orders them only in one format.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// The key of `value` for counters of `kind`: a hash, never the value.
pub(crate) fn key(kind: &str, value: &str) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(kind.as_bytes());
    h.update(b"\0");
    h.update(value.as_bytes());
    h.finalize().as_bytes().to_vec()
}

const COUNT_SQL: &str = "INSERT INTO login_throttle (key, failures, window_started_at, locked_until) \
     VALUES ($1, 1, $2, NULL) \
     ON CONFLICT (key) DO UPDATE SET \
       failures = CASE WHEN login_throttle.window_started_at < $3 \
           AND (login_throttle.locked_until IS NULL OR login_throttle.locked_until < $2) \
         THEN 1 ELSE login_throttle.failures + 1 END, \
       window_started_at = CASE WHEN login_throttle.window_started_at < $3 \
           AND (login_throttle.locked_until IS NULL OR login_throttle.locked_until < $2) \
         THEN $2 ELSE login_throttle.window_started_at END, \
       locked_until = CASE WHEN login_throttle.window_started_at < $3 \
           AND (login_throttle.locked_until IS NULL OR login_throttle.locked_until < $2) \
         THEN NULL ELSE login_throttle.locked_until END \
     RETURNING failures, window_started_at, locked_until";

fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, sql, values)
}

/// Counts one attempt for `key` in a window of `window_secs`.
pub(crate) async fn count(
    db: &DatabaseConnection,
    key: Vec<u8>,
    window_secs: i64,
) -> Result<Count, Error> {
    let now = now();
    let window_start = now - chrono::Duration::seconds(window_secs);
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            COUNT_SQL,
            vec![key.into(), now.into(), window_start.into()],
        ))
        .await
        .map_err(db_err("counting an attempt"))?
        .ok_or_else(|| Error::internal("counting an attempt returned no row"))?;
    let read = |e| db_err("reading an attempt count")(e);
    Ok(Count {
        attempts: row.try_get("", "failures").map_err(read)?,
        window_started_at: row.try_get("", "window_started_at").map_err(read)?,
        locked_until: row.try_get("", "locked_until").map_err(read)?,
    })
}

/// Locks `key` for `secs` from now.
pub(crate) async fn lock(db: &DatabaseConnection, key: Vec<u8>, secs: i64) -> Result<(), Error> {
    let until = now() + chrono::Duration::seconds(secs);
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE login_throttle SET locked_until = $1 WHERE key = $2",
        vec![until.into(), key.into()],
    ))
    .await
    .map_err(db_err("locking a login"))?;
    Ok(())
}

/// Gives back one attempt of `key` (one that turned out not to count).
pub(crate) async fn release(db: &DatabaseConnection, key: Vec<u8>) -> Result<(), Error> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0",
        vec![key.into()],
    ))
    .await
    .map_err(db_err("releasing an attempt"))?;
    Ok(())
}

/// Forgets `key`'s attempts.
pub(crate) async fn clear(db: &DatabaseConnection, key: Vec<u8>) -> Result<(), Error> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM login_throttle WHERE key = $1",
        vec![key.into()],
    ))
    .await
    .map_err(db_err("clearing attempts"))?;
    Ok(())
}

/// Requests that send mail to an address someone typed, limited per client
/// address and per target mailbox so nobody can flood a mailbox or probe
/// many addresses through Cairn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mailing {
    PasswordReset,
    SignUp,
}

/// The window of the mailing limits.
const MAILING_WINDOW_SECS: i64 = 60 * 60;

impl Mailing {
    fn name(self) -> &'static str {
        match self {
            Mailing::PasswordReset => "password-reset",
            Mailing::SignUp => "sign-up",
        }
    }

    /// Requests per client address in the window.
    pub(crate) fn per_address(self) -> i32 {
        match self {
            Mailing::PasswordReset => 20,
            Mailing::SignUp => 20,
        }
    }

    /// Requests per target mailbox in the window.
    pub(crate) fn per_mailbox(self) -> i32 {
        match self {
            Mailing::PasswordReset => 3,
            Mailing::SignUp => 5,
        }
    }
}

fn refused(what: Mailing, from: &str, secs: u64) -> Error {
    Error::RateLimited {
        message: format!("too many {} requests {from}", what.name()),
        retry_after_secs: secs,
    }
}

/// Counts a `what` request from `ip`, and for `mailbox` when it names one;
/// RATE_LIMITED (with the wait) past either limit. A refused request still
/// counts, whether or not the mailbox has an account, so the answer tells
/// nothing about it.
pub(crate) async fn limit_mailing(
    db: &DatabaseConnection,
    what: Mailing,
    ip: &str,
    mailbox: Option<&str>,
) -> Result<(), Error> {
    let kind = format!("{}-address", what.name());
    let from_address = count(db, key(&kind, ip), MAILING_WINDOW_SECS).await?;
    if let Some(secs) = from_address.refused_for(what.per_address(), MAILING_WINDOW_SECS) {
        return Err(refused(what, "from this address", secs));
    }
    if let Some(mailbox) = mailbox {
        let kind = format!("{}-mailbox", what.name());
        let for_mailbox = count(db, key(&kind, mailbox), MAILING_WINDOW_SECS).await?;
        if let Some(secs) = for_mailbox.refused_for(what.per_mailbox(), MAILING_WINDOW_SECS) {
            return Err(refused(what, "for this address", secs));
        }
    }
    Ok(())
}
