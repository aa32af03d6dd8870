//! Cairn's end-to-end tests, linked into one binary: each links the whole
//! server, agent and CLI, so one binary per file cost a gigabyte of disk and
//! most of the link time. `privacy.rs` stays apart because it installs the
//! process-wide log subscriber it inspects.

mod admin;
mod api_errors;
mod authz_matrix;
mod backup_restore;
mod chunk_index;
mod company;
mod discovery;
mod edge;
mod hostile;
mod integrity;
mod interrupted;
mod isolation;
mod killed;
mod mail;
mod personal_key;
mod poisoning;
mod reasons;
mod sessions;
mod stalled;
mod state_dir;
