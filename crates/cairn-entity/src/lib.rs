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

/// Maps a database error to an internal error that says what was being done.
pub fn db_err(what: &'static str) -> impl Fn(sea_orm::DbErr) -> cairn_core::Error {
    move |err| cairn_core::Error::internal_with(what, err)
}
