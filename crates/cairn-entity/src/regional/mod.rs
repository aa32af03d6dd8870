//! A region cell's database. Every tenant table carries `company_id`;
//! `login_throttle` holds keyed hashes of logins and addresses only.

pub mod agent;
pub mod audit;
pub mod chunk;
pub mod chunk_copy;
pub mod chunk_holding;
pub mod company;
pub mod email_token;
pub mod employee_count;
pub mod enrollment_key;
pub mod group;
pub mod invitation;
pub mod login_throttle;
pub mod outbox;
pub mod pack;
pub mod refresh_token;
pub mod snapshot;
pub mod snapshot_ref_page;
pub mod tombstone;
pub mod usage_day;
pub mod user;
