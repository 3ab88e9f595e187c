use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{BATCH_SIZE, InstanceNotPolled, NOT_POLLED_AFTER_SLOTS, POLL_INTERVAL, PollBatch, PollTarget, slot_of};
use crate::domain::Instance;
use crate::events::{DetailType, Event, EventPublisher, PublishError};
use crate::store::{Instances, PollLog, StoreError};

/// What one tick did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TickReport {
    pub slot: Option<DateTime<Utc>>,
    pub instances: usize,
    pub batches: usize,
    /// Active instances with no recorded poll in the last slots (an `InstanceNotPolled` event
    /// each).
    pub not_polled: usize,
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

/// Lists the instances due for polling and publishes them in `PollBatch` events. Watching a
/// [`PollLog`], it also records each tick and reports (as `InstanceNotPolled` events) the
/// active instances that no batch recorded in the last [`NOT_POLLED_AFTER_SLOTS`] slots, when
/// it ran for each of them (after an outage of the scheduler itself it reports nothing).
#[derive(Debug, Clone)]
pub struct Scheduler {
    instances: Instances,
    events: Arc<dyn EventPublisher>,
    log: Option<PollLog>,
}

impl Scheduler {
    pub fn new(instances: Instances, events: Arc<dyn EventPublisher>) -> Self {
        Self { instances, events, log: None }
    }

    pub fn watching(mut self, log: PollLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Publishes every active instance of every tenant for the poll slot of `now`.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, SchedulerError> {
        let slot = slot_of(now);
        let due = self.instances.all_due_for_polling_across_tenants().await?;
        let targets: Vec<PollTarget> =
            due.iter().map(|i| PollTarget { tenant_id: i.tenant_id.clone(), instance_id: i.id.clone() }).collect();
        let events = targets
            .chunks(BATCH_SIZE)
            .map(|chunk| Event::from_payload(DetailType::POLL_BATCH, &PollBatch { slot, targets: chunk.to_vec() }))
            .collect::<Result<Vec<_>, _>>()?;
        let mut report =
            TickReport { slot: Some(slot), instances: targets.len(), batches: events.len(), not_polled: 0 };
        if !events.is_empty() {
            self.events.publish(events).await?;
        }
        if let Some(log) = &self.log {
            log.record_tick_across_tenants(slot).await?;
            let not_polled = not_polled(log, &due, slot).await?;
            report.not_polled = not_polled.len();
            let events = not_polled
                .iter()
                .map(|n| Event::from_payload(DetailType::INSTANCE_NOT_POLLED, n))
                .collect::<Result<Vec<_>, _>>()?;
            if !events.is_empty() {
                tracing::warn!(slot = %slot, instances = events.len(), "active instances were not polled");
                self.events.publish(events).await?;
            }
        }
        tracing::info!(slot = %slot, instances = report.instances, batches = report.batches, "poll tick");
        Ok(report)
    }
}

/// The instances of `due` that existed before the watched slots and that no batch recorded in
/// any of them; none unless the scheduler ran for each watched slot.
async fn not_polled(
    log: &PollLog,
    due: &[Instance],
    slot: DateTime<Utc>,
) -> Result<Vec<InstanceNotPolled>, StoreError> {
    let watched: Vec<DateTime<Utc>> = (1..=NOT_POLLED_AFTER_SLOTS).map(|n| slot - POLL_INTERVAL * n as i32).collect();
    let since = slot - POLL_INTERVAL * NOT_POLLED_AFTER_SLOTS as i32;
    let candidates: Vec<&Instance> = due.iter().filter(|i| i.created_at < since).collect();
    if candidates.is_empty() || !log.ticked_across_tenants(&watched).await? {
        return Ok(Vec::new());
    }
    let mut polled = std::collections::HashSet::new();
    for s in &watched {
        polled.extend(log.polled_across_tenants(*s).await?);
    }
    Ok(candidates
        .into_iter()
        .filter(|i| !polled.contains(&crate::store::poll_token(&i.tenant_id, &i.id)))
        .map(|i| InstanceNotPolled {
            tenant_id: i.tenant_id.clone(),
            instance_id: i.id.clone(),
            instance_name: i.name.to_string(),
            group: i.group.as_ref().map(ToString::to_string),
            slot,
            since,
        })
        .collect())
}
