//! Sikurd's integration tests: one binary, real servers (moto for AWS APIs, simulators).

mod alert_settings_api;
mod alerts;
mod api;
mod blobs_contract;
mod dashboard;
mod deletion;
mod deploy;
mod events_contract;
mod export;
mod keys_contract;
mod polling;
mod promises;
mod reports;
mod retention;
mod store;
mod table_contract;
