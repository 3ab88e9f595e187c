//! Sikurd's integration tests: one binary, real servers (moto for AWS APIs, simulators).

mod blobs_contract;
mod events_contract;
mod keys_contract;
mod store;
mod table_contract;
