//! `poll-scheduler`: on each schedule tick, publishes the due instances in `PollBatch` events,
//! and `InstanceNotPolled` events for active instances no batch recorded lately.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env};
use crate::polling::{Scheduler, SchedulerError, TickReport};
use crate::store::{Instances, PollLog};

#[derive(Clone, Debug)]
pub struct Config {
    table: String,
    event_bus: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { table: super::table_name(env)?, event_bus: super::event_bus_name(env)? })
    }
}

/// The tick handler; the schedule's event carries nothing it needs.
pub struct Handler {
    scheduler: Scheduler,
    clock: Arc<dyn Clock>,
}

impl Handler {
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let table = super::dynamo_table(sdk, &config.table, Arc::clone(&clock));
        let log = PollLog::new(Arc::clone(&table), Arc::clone(&clock));
        let scheduler = Scheduler::new(Instances::new(table), super::event_bus(sdk, &config.event_bus)).watching(log);
        Self { scheduler, clock }
    }

    pub async fn tick(&self) -> Result<TickReport, SchedulerError> {
        self.scheduler.tick(self.clock.now()).await
    }
}
