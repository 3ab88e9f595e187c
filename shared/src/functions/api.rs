//! `api`: the HTTP API behind API Gateway.

use std::sync::Arc;

use crate::api::{ApiState, router};
use crate::clock::{Clock, SystemClock};
use crate::config::{ApiConfig, ConfigError, Deployment, Env};
use crate::pbx::{PbxClient, PbxClientConfig};
use crate::polling::{Poller, Recorder};

#[derive(Clone, Debug)]
pub struct Config {
    table: String,
    kms_key: String,
    event_bus: String,
    pbx: PbxClientConfig,
    api: ApiConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: super::table_name(env)?,
            kms_key: super::kms_key_id(env)?,
            event_bus: super::event_bus_name(env)?,
            pbx: super::pbx_client_config(env)?,
            api: ApiConfig::from_env(env, Deployment::Cloud)?,
        })
    }
}

/// The router on the AWS adapters; "poll now" polls from this function.
pub fn app(config: Config, sdk: &aws_config::SdkConfig) -> Result<axum::Router, crate::pbx::ClientBuildError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = super::store(sdk, &config.table, &config.kms_key, Arc::clone(&clock));
    let client = Arc::new(PbxClient::new(config.pbx)?);
    let recorder = Recorder::new(store.clone(), Arc::clone(&clock));
    let poller = Poller::new(store.clone(), client, recorder, super::event_bus(sdk, &config.event_bus), 1);
    Ok(router(ApiState::new(store, clock, config.api, Arc::new(poller))))
}
