//! `api`: the HTTP API behind API Gateway.

use std::sync::Arc;

use super::PollingConfig;
use super::notifications::NotifyConfig;
use crate::api::{ApiState, router};
use crate::clock::{Clock, SystemClock};
use crate::config::{ApiConfig, ConfigError, Deployment, Env};

#[derive(Clone, Debug)]
pub struct Config {
    polling: PollingConfig,
    api: ApiConfig,
    notify: NotifyConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            polling: PollingConfig::from_env(env)?,
            api: ApiConfig::from_env(env, Deployment::Cloud)?,
            notify: NotifyConfig::from_env(env)?,
        })
    }
}

/// The router on the AWS adapters; "poll now" polls and "send test" notifies from this
/// function.
pub async fn app(
    config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<axum::Router, Box<dyn std::error::Error + Send + Sync>> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (store, poller) = config.polling.build(sdk, Arc::clone(&clock), 1)?;
    let dispatcher = config.notify.dispatcher(sdk, store.clone(), Arc::clone(&clock))?;
    let events = super::event_bus(sdk, &config.polling.event_bus);
    Ok(router(
        ApiState::new(store, clock, config.api, Arc::new(poller)).with_dispatcher(dispatcher).with_events(events),
    ))
}
