//! Sikurd's library: the domain, the ports (table, keys, events, blobs, clock) and their AWS and
//! embedded adapters, and the repositories that hold every access to tenant data.
//!
//! Binaries (the Lambda functions under `functions/`, the local stack under `infra/`) only read
//! configuration, build adapters and call into this crate.

pub mod alerts;
pub mod api;
pub mod aws;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod domain;
pub mod events;
pub mod functions;
pub mod lifecycle;
pub mod notify;
pub mod pbx;
pub mod polling;
pub mod reports;
pub mod store;
pub mod table;
