use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{BATCH_SIZE, PollBatch, PollTarget, slot_of};
use crate::events::{DetailType, Event, EventPublisher, PublishError};
use crate::store::{Instances, StoreError};

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    pub slot: Option<DateTime<Utc>>,
    pub instances: usize,
    pub batches: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing poll batches failed")]
    Publish(#[from] PublishError),
    #[error("cannot encode a poll batch: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Lists the instances due for polling and publishes them in `PollBatch` events.
#[derive(Debug, Clone)]
pub struct Scheduler {
    instances: Instances,
    events: Arc<dyn EventPublisher>,
}

impl Scheduler {
    pub fn new(instances: Instances, events: Arc<dyn EventPublisher>) -> Self {
        Self { instances, events }
    }

    /// Publishes every active instance of every tenant for the poll slot of `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, SchedulerError> {
        let slot = slot_of(now);
        let targets: Vec<PollTarget> = self
            .instances
            .all_due_for_polling_across_tenants()
            .await?
            .into_iter()
            .map(|i| PollTarget { tenant_id: i.tenant_id, instance_id: i.id })
            .collect();
        let events = targets
            .chunks(BATCH_SIZE)
            .map(|chunk| Event::from_payload(DetailType::POLL_BATCH, &PollBatch { slot, targets: chunk.to_vec() }))
            .collect::<Result<Vec<_>, _>>()?;
        let report = TickReport { slot: Some(slot), instances: targets.len(), batches: events.len() };
        if !events.is_empty() {
            self.events.publish(events).await?;
        }
        tracing::info!(slot = %slot, instances = report.instances, batches = report.batches, "poll tick");
        Ok(report)
    }
}
