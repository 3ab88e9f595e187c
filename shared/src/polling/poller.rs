use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{InstancePolled, InstancesPolled, PollBatch, PollTarget, Recorder};
use crate::domain::InstanceStatus;
use crate::events::{Event, EventHandler, EventPublisher, HandlerError};
use crate::pbx::{PbxClient, PollFailure, PollReport};
use crate::store::{Store, StoreError};

/// What polling one batch did.
#[derive(Clone, Debug, Default)]
pub struct BatchReport {
    /// One entry per instance polled and recorded.
    pub polled: Vec<InstancePolled>,
    /// Instances skipped: gone, or soft-deleted since the batch was made.
    pub skipped: usize,
    /// Instances whose result could not be stored (the batch may be redelivered).
    pub store_errors: usize,
}

/// Polls the instances of a `PollBatch` concurrently and records each result.
#[derive(Debug, Clone)]
pub struct Poller {
    store: Store,
    client: Arc<PbxClient>,
    recorder: Recorder,
    events: Arc<dyn EventPublisher>,
    concurrency: usize,
    in_flight: Option<Arc<Semaphore>>,
}

impl Poller {
    /// `concurrency` bounds the polls in flight for one batch; at least the batch size keeps a
    /// hanging 3CX from delaying any other of its batch.
    pub fn new(
        store: Store,
        client: Arc<PbxClient>,
        recorder: Recorder,
        events: Arc<dyn EventPublisher>,
        concurrency: usize,
    ) -> Self {
        Self { store, client, recorder, events, concurrency: concurrency.max(1), in_flight: None }
    }

    /// Bounds the polls in flight across all batches handled by this process (the local stack
    /// handles many batches at once; a Lambda container handles one).
    pub fn with_in_flight_limit(mut self, limit: usize) -> Self {
        self.in_flight = Some(Arc::new(Semaphore::new(limit.max(1))));
        self
    }

    /// Polls and records every instance of the batch, then publishes them in one
    /// `InstancePolled` event. One failing instance never fails the others.
    pub async fn poll_batch(&self, batch: &PollBatch) -> BatchReport {
        // A poll's future is only made once it holds an in-flight permit, so a process with many
        // batches waiting holds one small future per batch, not a large one per instance.
        let mut results: Vec<Result<Option<InstancePolled>, StoreError>> = Vec::with_capacity(batch.targets.len());
        let mut pending = FuturesUnordered::new();
        let mut targets = batch.targets.iter().peekable();
        loop {
            tokio::select! {
                Some(result) = pending.next(), if !pending.is_empty() => results.push(result),
                permit = self.permit(), if targets.peek().is_some() && pending.len() < self.concurrency => {
                    if let Some(target) = targets.next() {
                        pending.push(async move {
                            let result = self.poll_one(batch, target).await;
                            drop(permit);
                            result
                        });
                    }
                }
                else => break,
            }
        }
        let mut report = BatchReport::default();
        for result in results {
            match result {
                Ok(Some(polled)) => report.polled.push(polled),
                Ok(None) => report.skipped += 1,
                Err(_) => report.store_errors += 1,
            }
        }
        let recorded = report.polled.iter().map(|p| (p.tenant_id.clone(), p.instance_id.clone())).collect();
        if let Err(e) = self.store.poll_log.record_batch_across_tenants(batch.slot, recorded).await {
            // Only a third missed minute in a row would make the scheduler report no data.
            tracing::warn!(slot = %batch.slot, error = %e, "the batch's poll record was not written");
        }
        let events = InstancesPolled::events(&report.polled);
        if !events.is_empty()
            && let Err(e) = self.events.publish(events).await
        {
            tracing::error!(error = %e, "publishing InstancePolled events failed");
        }
        report
    }

    /// Polls one instance right away (the API's "poll now"), records the result for the current
    /// slot and publishes its `InstancePolled` event. `None` if the instance does not exist or
    /// is deleted.
    pub async fn poll_now(
        &self,
        target: &PollTarget,
        now: DateTime<Utc>,
    ) -> Result<Option<InstancePolled>, StoreError> {
        let batch = PollBatch { slot: super::slot_of(now), targets: vec![target.clone()] };
        let polled = self.poll_and_record(&batch, target, true).await?;
        if let Some(p) = &polled
            && let Err(e) = self.events.publish(InstancesPolled::events(std::slice::from_ref(p))).await
        {
            tracing::error!(error = %e, "publishing an InstancePolled event failed");
        }
        Ok(polled)
    }

    async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        match &self.in_flight {
            Some(limit) => Arc::clone(limit).acquire_owned().await.ok(),
            None => None,
        }
    }

    async fn poll_one(&self, batch: &PollBatch, target: &PollTarget) -> Result<Option<InstancePolled>, StoreError> {
        let result = self.poll_and_record(batch, target, false).await;
        if let Err(e) = &result {
            tracing::error!(tenant = %target.tenant_id, instance = %target.instance_id, error = %e, "recording a poll failed");
        }
        result
    }

    async fn poll_and_record(
        &self,
        batch: &PollBatch,
        target: &PollTarget,
        full: bool,
    ) -> Result<Option<InstancePolled>, StoreError> {
        let Some(instance) = self.store.instances.get(&target.tenant_id, &target.instance_id).await? else {
            return Ok(None);
        };
        if !instance.is_active() {
            return Ok(None);
        }
        let base_url = instance.address.base_url();
        let now = self.recorder.now();
        let report = match self.store.credentials.for_poll(&instance.tenant_id, &instance.id, &base_url, now).await {
            Ok(Some(kept)) => {
                let mut known = super::known_of(&instance, batch.slot);
                known.full |= full;
                known.token = kept.token;
                let report = self.client.poll(&instance.id, &instance.address, &kept.credentials, &known).await;
                if let Some(issued) = &report.issued_token
                    && let Err(e) = self
                        .store
                        .credentials
                        .keep_token(&instance.tenant_id, &instance.id, &kept.seal, &base_url, issued)
                        .await
                {
                    tracing::warn!(tenant = %instance.tenant_id, instance = %instance.id, error = %e, "the 3CX token was not kept");
                }
                report
            }
            Ok(None) => failed(PollFailure::LoginFailed("no 3CX credentials are stored".into())),
            Err(e) => {
                tracing::error!(tenant = %instance.tenant_id, instance = %instance.id, error = %e, "credentials unreadable");
                failed(PollFailure::LoginFailed("the stored credentials cannot be decrypted".into()))
            }
        };
        let polled = self.recorder.record(&instance, batch.slot, &report).await?;
        log_poll(&polled, &report);
        Ok(Some(polled))
    }
}

fn failed(failure: PollFailure) -> PollReport {
    PollReport { result: Err(failure), latency: std::time::Duration::ZERO, issued_token: None }
}

fn log_poll(polled: &InstancePolled, report: &PollReport) {
    let took_ms = u64::try_from(report.latency.as_millis()).unwrap_or(u64::MAX);
    if polled.status == InstanceStatus::Ok {
        tracing::debug!(tenant = %polled.tenant_id, instance = %polled.instance_id, took_ms, "polled");
    } else {
        tracing::info!(
            tenant = %polled.tenant_id,
            instance = %polled.instance_id,
            status = ?polled.status,
            reason = polled.reason.as_deref().unwrap_or(""),
            took_ms,
            "polled"
        );
    }
}

/// The poller as an event handler: `PollBatch` events in, polls recorded.
#[async_trait]
impl EventHandler for Poller {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let batch: PollBatch = event.payload().map_err(|e| HandlerError::from(format!("bad PollBatch: {e}")))?;
        let report = self.poll_batch(&batch).await;
        if report.store_errors > 0 {
            return Err(HandlerError::from(format!("{} polls could not be recorded", report.store_errors)));
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "poller"
    }
}
