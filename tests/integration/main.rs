//! Sikurd's integration tests: one binary, real servers (moto for AWS APIs, simulators).

mod store;
mod table_contract;
