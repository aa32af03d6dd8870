//! Companies, seats, groups and their backup policies, quotas, enrollment
//! keys, agents and usage of a region cell.
//!
//! An enrollment key is shown once and stored as a hash; enrolling takes one
//! seat and hands the machine a credential (also stored as a hash) and the
//! company's data key. Every query is scoped to the caller's company, and
//! every call checks the caller's current role (`cairn_tenancy::access`).
//!
//! What other services need of groups, quotas, agent status and callers lives
//! in cairn-tenancy; this crate depends on no other service crate.

mod agents;
mod alerts;
mod company;
mod enroll;
mod groups;
pub mod maintenance;
mod service;
mod usage;

pub use service::OrgsService;
