//! The backup service's business rules, checked without a gRPC server on
//! SQLite, and on PostgreSQL when `CAIRN_TEST_DATABASE_URL` is set: whose
//! snapshots a caller sees, retention at commit, other companies' objects,
//! and refusals that must leave nothing behind.

mod deletion;
mod holdings;
mod refusals;
mod retention;
mod visibility;
