//! Accounts of a region cell: sign-up (a company and its owner), login with
//! throttling, and sessions (rotating refresh tokens, logout).
//!
//! Sign-up reserves the login in the global directory before it writes the
//! company, so an email is unique across regions. This crate never talks to
//! another service except through the directory's gRPC client, and depends
//! on no other service crate: callers, groups and the registry of tenant
//! tables that company deletion purges come from cairn-tenancy.

mod delete;
mod directory_link;
mod email;
mod export;
mod login;
mod password;
mod profile;
mod service;
mod sessions;
mod signup;
mod throttle;
mod users;

pub use directory_link::DirectoryLink;
pub use service::AccountsService;
pub use users::UsersService;
