//! sea-orm entities of Cairn's databases: `regional` for a cell's database
//! (companies, users, agents, packs, chunks, snapshots) and `directory` for the
//! global directory (keyed hashes only).
//!
//! Entities, plus the audit-log writer every service shares: queries live in
//! the service crates, always scoped to a company through [`CompanyScope`].

pub mod audit_log;
pub mod directory;
pub mod regional;

use cairn_core::CompanyId;

/// The one company a repository call may touch. Repository functions that
/// read or write tenant rows take a scope, so a query without a company filter
/// does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompanyScope(CompanyId);

impl CompanyScope {
    /// Only call with a company id taken from verified credentials.
    pub fn new(company: CompanyId) -> CompanyScope {
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

/// Maps a database error to an internal error that says what was being done.
pub fn db_err(what: &'static str) -> impl Fn(sea_orm::DbErr) -> cairn_core::Error {
    move |err| cairn_core::Error::internal_with(what, err)
}
