//! The global directory: which region a login or a company is homed in, and
//! the public endpoint of each cell. It stores keyed BLAKE3 hashes of logins
//! and company ids, never the values, and no other personal data.
//!
//! Cells register logins with their own signed cell token; anyone may ask
//! where a login lives.

mod repo;
mod service;

pub use repo::{DirectoryRepo, Hasher};
pub use service::DirectoryService;
