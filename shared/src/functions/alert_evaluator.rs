//! `alert-evaluator`: evaluates `InstancePolled` and `InstanceNotPolled` events from the bus,
//! and on each minute's
//! schedule tick sends the notifications that came due (retries, reminders, escalations, ends
//! of maintenance windows).

use std::sync::Arc;

use serde::Serialize;

use super::notifications::NotifyConfig;
use crate::alerts::{Dispatcher, Evaluated, Evaluator, SweepReport};
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env};
use crate::events::{DetailType, Event};
use crate::polling::{InstanceNotPolled, InstancesPolled};
use crate::store::StoreError;

/// The detail type of EventBridge's scheduled events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

#[derive(Clone, Debug)]
pub struct Config {
    table: String,
    kms_key: String,
    notify: NotifyConfig,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: super::table_name(env)?,
            kms_key: super::kms_key_id(env)?,
            notify: NotifyConfig::from_env(env)?,
        })
    }
}

/// What the function answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "handled", rename_all = "snake_case")]
pub enum Outcome {
    /// An `InstancePolled` or `InstanceNotPolled` event: how many instances were evaluated,
    /// how many of them were ignored (duplicate, late or stale), unchanged, or changed, and the
    /// alerts opened, changed or resolved.
    Evaluated { instances: usize, ignored: usize, unchanged: usize, changed: usize, alerts_changed: usize },
    /// A schedule tick: the notifications sent.
    Swept(SweepReport),
}

impl Outcome {
    fn of(results: &[Evaluated]) -> Self {
        let count = |f: fn(&Evaluated) -> bool| results.iter().filter(|r| f(r)).count();
        Self::Evaluated {
            instances: results.len(),
            ignored: count(|r| *r == Evaluated::Ignored),
            unchanged: count(|r| *r == Evaluated::Unchanged),
            changed: count(|r| matches!(r, Evaluated::Changed(_))),
            alerts_changed: results.iter().map(|r| if let Evaluated::Changed(c) = r { c.len() } else { 0 }).sum(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlertEvaluatorError {
    #[error("not an InstancePolled, InstanceNotPolled or scheduled event: {0}")]
    NotAnEvent(String),
    /// The evaluation could not be stored: the error makes EventBridge deliver it again.
    #[error("the evaluation could not be stored: {0}")]
    Store(#[from] StoreError),
}

pub struct Handler {
    evaluator: Evaluator,
    dispatcher: Dispatcher,
}

impl Handler {
    pub async fn new(
        config: &Config,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = super::store(sdk, &config.table, &config.kms_key, Arc::clone(&clock));
        let dispatcher = config.notify.dispatcher(sdk, store.clone(), Arc::clone(&clock))?;
        let evaluator = Evaluator::new(store, clock, dispatcher.clone(), config.notify.public_url());
        Ok(Self { evaluator, dispatcher })
    }

    pub async fn handle(&self, event: &Event) -> Result<Outcome, AlertEvaluatorError> {
        if event.detail_type.as_str() == SCHEDULED_EVENT {
            return Ok(Outcome::Swept(self.dispatcher.sweep().await));
        }
        let bad = |e: serde_json::Error| AlertEvaluatorError::NotAnEvent(e.to_string());
        let results = if event.detail_type == DetailType::INSTANCE_POLLED {
            self.evaluator.evaluate_all(&event.payload::<InstancesPolled>().map_err(bad)?).await?
        } else if event.detail_type == DetailType::INSTANCE_NOT_POLLED {
            vec![self.evaluator.evaluate_not_polled(&event.payload::<InstanceNotPolled>().map_err(bad)?).await?]
        } else {
            return Err(AlertEvaluatorError::NotAnEvent(format!("detail-type is {:?}", event.detail_type.as_str())));
        };
        Ok(Outcome::of(&results))
    }
}
