//! `poller`: polls the instances of one `PollBatch` event.

use std::sync::Arc;

use serde::Serialize;

use super::PollingConfig;
use crate::clock::SystemClock;
use crate::config::{ConfigError, Env};
use crate::events::{DetailType, Event};
use crate::polling::{BATCH_SIZE, PollBatch, Poller};

#[derive(Clone, Debug)]
pub struct Config {
    polling: PollingConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { polling: PollingConfig::from_env(env)? })
    }
}

/// What the function answers for a batch.
#[derive(Clone, Debug, Serialize)]
pub struct BatchOutcome {
    pub polled: usize,
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    #[error("not a PollBatch event: {0}")]
    NotAPollBatch(String),
    /// Some results were not stored: the error makes EventBridge deliver the batch again.
    #[error("{0} polls of the batch could not be recorded")]
    NotRecorded(usize),
}

pub struct Handler {
    poller: Poller,
}

impl Handler {
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Self, crate::pbx::ClientBuildError> {
        let (_, poller) = config.polling.build(sdk, Arc::new(SystemClock), BATCH_SIZE)?;
        Ok(Self { poller })
    }

    pub async fn handle(&self, event: &Event) -> Result<BatchOutcome, PollerError> {
        if event.detail_type != DetailType::POLL_BATCH {
            return Err(PollerError::NotAPollBatch(format!("detail-type is {:?}", event.detail_type.as_str())));
        }
        let batch: PollBatch = event.payload().map_err(|e| PollerError::NotAPollBatch(e.to_string()))?;
        let report = self.poller.poll_batch(&batch).await;
        if report.store_errors > 0 {
            return Err(PollerError::NotRecorded(report.store_errors));
        }
        Ok(BatchOutcome { polled: report.polled.len(), skipped: report.skipped })
    }
}
