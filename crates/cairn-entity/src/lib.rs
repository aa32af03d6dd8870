//! sea-orm entities of Cairn's databases: `regional` for a cell's database
//! (companies, users, agents, packs, chunks, snapshots) and `directory` for the
//! global directory (keyed hashes only).
//!
//! Entities, plus the audit-log writer every service shares: queries live in
//! the service crates and cairn-tenancy, always scoped to a company through
//! [`CompanyScope`], which is built from verified claims (or a named other
//! source), never from a bare id.

pub mod audit_log;
pub mod directory;
pub mod regional;

use cairn_auth::Claims;
use cairn_core::{CompanyId, Error};

/// The one company a repository call may touch. Repository functions that
/// read or write tenant rows take a scope, so a query without a company filter
/// does not compile. Each constructor says where the company came from: the
/// usual one takes claims cairn-auth has verified; the few others name the
/// row that proves the company.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompanyScope(CompanyId);

impl CompanyScope {
    /// The company of verified claims (`Authenticator::authenticate`).
    pub fn from_claims(claims: &Claims) -> Result<CompanyScope, Error> {
        Ok(CompanyScope(claims.company_id()?))
    }

    /// The company of a row found by the hash of a one-time secret the
    /// caller presented: an enrollment key, an invitation code.
    pub fn from_secret(company: CompanyId) -> CompanyScope {
        CompanyScope(company)
    }

    /// The company of a stored user, for what is done on that user's behalf
    /// (their own audit entries, mail to them).
    pub fn of_user(user: &regional::user::Model) -> CompanyScope {
        CompanyScope(CompanyId(user.company_id))
    }

    /// The cell's own periodic pass over every company it holds.
    pub fn for_maintenance(company: &regional::company::Model) -> CompanyScope {
        CompanyScope(CompanyId(company.id))
    }

    /// Any company, for tests (the `testing` feature).
    #[cfg(feature = "testing")]
    pub fn for_tests(company: CompanyId) -> CompanyScope {
        CompanyScope(company)
    }

    pub fn company(&self) -> CompanyId {
        self.0
    }

    pub fn uuid(&self) -> uuid::Uuid {
        self.0.0
    }
}

/// Starts a transaction that will write. On SQLite it takes the write lock
/// at once (`BEGIN IMMEDIATE`): a deferred transaction that has read and
/// then writes fails at once with "database is locked" if another write
/// committed in between, while one that asks for the lock first waits its
/// turn (the busy timeout). PostgreSQL gets a plain transaction.
pub async fn begin_write<C: sea_orm::TransactionTrait>(
    db: &C,
) -> Result<C::Transaction, sea_orm::DbErr> {
    db.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// After a deletion of personal data: on SQLite, copies the write-ahead log
/// into the database file and truncates the log to nothing, so the deleted
/// rows' old page images leave the log as well (`secure_delete` has already
/// zeroed them in the new pages). Readers that hold an old snapshot keep the
/// log from being emptied: then it answers false, and the next checkpoint
/// finishes the job. PostgreSQL keeps dead tuples until VACUUM reuses their space and
/// the deletion in its WAL: nothing to do here.
pub async fn checkpoint_deleted<C: sea_orm::ConnectionTrait>(
    db: &C,
) -> Result<bool, cairn_core::Error> {
    if db.get_database_backend() != sea_orm::DatabaseBackend::Sqlite {
        return Ok(true);
    }
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ))
        .await
        .map_err(db_err("checkpointing the write-ahead log"))?;
    // (busy, log frames, frames checkpointed): busy = 1 when readers held it up.
    let busy = row
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    Ok(busy == 0)
}

/// Maps a database error to an internal error that says what was being done.
pub fn db_err(what: &'static str) -> impl Fn(sea_orm::DbErr) -> cairn_core::Error {
    move |err| cairn_core::Error::internal_with(what, err)
}
