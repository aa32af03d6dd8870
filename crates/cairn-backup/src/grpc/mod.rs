//! The gRPC adapter of the backup service: the only place that knows tonic
//! and the protos. `service` authenticates, converts each request with
//! `convert` into domain inputs, calls the domain and converts the result
//! back; request streams are decoded here into streams of domain items.

mod convert;
#[doc(hidden)]
pub mod fuzzing;
mod service;
#[cfg(test)]
mod stream_tests;

pub use service::BackupService;
