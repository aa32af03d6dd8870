//! Companies, seats, groups and their backup policies, quotas, enrollment
//! keys, agents and usage of a region cell.
//!
//! An enrollment key is shown once and stored as a hash; enrolling takes one
//! seat and hands the machine a credential (also stored as a hash) and the
//! company's data key. Every query is scoped to the caller's company, and
//! every call checks the caller's current role ([`access`]).

pub mod access;
pub mod agents;
pub mod alerts;
mod company;
mod enroll;
pub mod groups;
pub mod maintenance;
pub mod quota;
mod service;
pub mod usage;

pub use service::OrgsService;
