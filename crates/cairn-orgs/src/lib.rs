//! Companies, seats, groups and their backup policies, quotas, enrollment
//! keys, agents and usage of a region cell.
//!
//! An enrollment key is shown once and stored as a hash; enrolling takes one
//! seat and hands the machine a credential (also stored as a hash) and the
//! company's data key. Every query is scoped to the caller's company, and
//! every domain function checks the caller's current role itself.
//!
//! Only the adapter (`api`) knows the gRPC types: it converts each request into a
//! domain input with `TryFrom` (each limit on its newtype in
//! `cairn_core::limits`), calls a domain function (`company`, `groups`,
//! `agents`, `enroll`, `keys`, `usage`) and converts the result back.
//!
//! What other services need of groups, quotas, agent status and callers lives
//! in cairn-tenancy; this crate depends on no other service crate.

mod agents;
mod alerts;
mod api;
mod caller;
mod company;
mod enroll;
mod groups;
mod keys;
pub mod maintenance;
mod usage;

pub use api::OrgsService;
#[doc(hidden)]
pub use api::fuzzing;

#[cfg(test)]
mod tests;
