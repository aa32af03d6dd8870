//! A region cell's database. Every table carries `company_id`.

pub mod agent;
pub mod chunk;
pub mod company;
pub mod enrollment_key;
pub mod pack;
pub mod snapshot;
pub mod snapshot_chunk;
pub mod user;
