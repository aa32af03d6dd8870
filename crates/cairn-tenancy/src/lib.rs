//! What the services of one cell share, below the services themselves: the
//! caller and its role as the database knows them now ([`access`]), group
//! resolution ([`groups`]), the quota check ([`quota`]), agent status
//! ([`agents`]), mail to a company's admins ([`mail`]), what a person leaving
//! does to their machines, keys and backups ([`members`]) and the registry of
//! tenant tables and object prefixes ([`registry`]). Functions take a
//! connection or a transaction, so work that must share one transaction (the
//! quota check under the company row lock, the snapshot commit recording
//! agent status) still does.
//!
//! It knows neither tonic nor the protos, and no service crate: callers come
//! in as verified [`cairn_auth::Claims`], never as requests.

pub mod access;
pub mod agents;
pub mod groups;
pub mod mail;
pub mod members;
pub mod quota;
pub mod registry;

#[cfg(test)]
mod tests;
