//! The one client layer of `cairn-agent`, `cairnctl`, the cells' link to the
//! directory and the end-to-end tests: channels with the shared transport
//! limits, credentials and their refresh, region discovery and redirects,
//! deadlines, retries with backoff and typed error reasons.
//!
//! It must not depend on a service crate: it reaches servers only over gRPC.
