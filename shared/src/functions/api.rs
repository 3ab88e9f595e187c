//! `api`: the HTTP API behind API Gateway.

use std::sync::Arc;

use super::PollingConfig;
use crate::api::{ApiState, router};
use crate::clock::{Clock, SystemClock};
use crate::config::{ApiConfig, ConfigError, Deployment, Env};

#[derive(Clone, Debug)]
pub struct Config {
    polling: PollingConfig,
    api: ApiConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { polling: PollingConfig::from_env(env)?, api: ApiConfig::from_env(env, Deployment::Cloud)? })
    }
}

/// The router on the AWS adapters; "poll now" polls from this function.
pub fn app(config: Config, sdk: &aws_config::SdkConfig) -> Result<axum::Router, crate::pbx::ClientBuildError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (store, poller) = config.polling.build(sdk, Arc::clone(&clock), 1)?;
    Ok(router(ApiState::new(store, clock, config.api, Arc::new(poller))))
}
