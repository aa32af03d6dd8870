//! Accounts of a region cell: sign-up (a company and its owner), login with
//! throttling, sessions (rotating refresh tokens, logout), profiles, export,
//! self-service deletion, and the users of a company (invitations, roles,
//! removal).
//!
//! The business rules live in domain modules that know neither gRPC nor the
//! protos (`users/`, `signup`, `login`, `sessions`, `profile`, `delete`, ...);
//! the gRPC adapters (`service`, `users_service`, with `convert`) turn
//! requests into validated domain inputs and results back into protos.
//!
//! Sign-up reserves the login in the global directory before it writes the
//! company, so an email is unique across regions. This crate never talks to
//! another service except through the directory's gRPC client, and depends
//! on no other service crate: callers, groups and the registry of tenant
//! tables that company deletion purges come from cairn-tenancy.

mod convert;
mod delete;
mod directory_link;
mod email;
mod export;
#[doc(hidden)]
pub mod fuzzing;
mod login;
mod logins;
mod password;
mod profile;
mod rate;
mod service;
mod sessions;
mod signup;
mod throttle;
mod users;
mod users_service;

#[cfg(test)]
mod tests;

pub use directory_link::DirectoryLink;
pub use logins::Logins;
pub use service::{AccountsService, Mail};
pub use users_service::UsersService;
