//! `poller`: polls the instances of one `PollBatch` event.

use std::sync::Arc;

use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env};
use crate::events::{DetailType, Event};
use crate::pbx::{PbxClient, PbxClientConfig};
use crate::polling::{BATCH_SIZE, PollBatch, Poller, Recorder};

#[derive(Clone, Debug)]
pub struct Config {
    table: String,
    kms_key: String,
    event_bus: String,
    pbx: PbxClientConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: super::table_name(env)?,
            kms_key: super::kms_key_id(env)?,
            event_bus: super::event_bus_name(env)?,
            pbx: super::pbx_client_config(env)?,
        })
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
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = super::store(sdk, &config.table, &config.kms_key, Arc::clone(&clock));
        let client = Arc::new(PbxClient::new(config.pbx.clone())?);
        let recorder = Recorder::new(store.clone(), clock);
        let events = super::event_bus(sdk, &config.event_bus);
        Ok(Self { poller: Poller::new(store, client, recorder, events, BATCH_SIZE) })
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
