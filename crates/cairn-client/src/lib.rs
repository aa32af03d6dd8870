//! The one client layer of `cairn-agent`, `cairnctl`, the cells' link to the
//! directory and the end-to-end tests: channels with the shared transport
//! limits, credentials and their refresh, region discovery and redirects,
//! deadlines, retries with backoff and typed error reasons.
//!
//! It must not depend on a service crate: it reaches servers only over gRPC.
//! It must not use `anyhow`: callers branch on [`ClientError`], and on its
//! [`cairn_core::Reason`], never on a message.

mod call;
mod config;
mod credentials;
mod deadline;
mod directory;
mod error;
mod retry;

pub use call::{Connection, GrpcClient, Idempotency};
pub use config::{
    ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_UNARY_TIMEOUT, RetryPolicy, TlsTrust,
};
pub use credentials::{
    AccessToken, Bearer, Credentials, OnRotate, REFRESH_MARGIN, SessionTokens, bearer,
    refresh_session, with_bearer,
};
pub use deadline::Deadline;
pub use directory::Directory;
pub use error::ClientError;
