//! The directory database: keyed hashes of logins and companies → region.

pub mod login;
