//! Companies, seats, enrollment keys and agents of a region cell.
//!
//! An enrollment key is shown once and stored as a hash; enrolling takes one
//! seat and hands the machine a credential (also stored as a hash) and the
//! company's data key. Every query is scoped to the caller's company.

mod agents;
mod company;
mod enroll;
mod service;

pub use service::OrgsService;
