use async_trait::async_trait;
use futures_util::StreamExt;

use super::notifications::{Dispatcher, plan_deliveries};
use super::{AlertKind, Changed, EvaluationState, Origin, Thresholds, Transition, evaluate, evaluate_not_polled};
use crate::clock::Clock;
use crate::domain::GroupName;
use crate::events::{DetailType, Event, EventHandler, HandlerError};
use crate::polling::{InstanceNotPolled, InstancePolled, InstancesPolled};
use crate::store::{Deliveries, Store, StoreError};

/// Instances of one `InstancePolled` event evaluated at once.
const EVALUATIONS_IN_FLIGHT: usize = 8;

/// Evaluations of one event retried after meeting a concurrent write to the same instance.
const CONFLICT_ATTEMPTS: usize = 5;

/// An event whose poll slot is older than this is stale: it is ignored, since newer polls have
/// been (or are being) evaluated and its data would only move counters backwards in time.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(10);

/// What evaluating one event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evaluated {
    /// At or before the last event that changed the instance's state (a duplicate or late), or
    /// older than [`STALE_AFTER`].
    Ignored,
    /// Nothing changed; nothing was written.
    Unchanged,
    /// The state was written; these alert records changed (possibly none: only counters moved).
    Changed(Vec<Changed>),
}

/// Evaluates `InstancePolled` events: one read of the instance's kept state and the tenant's
/// settings, the pure rules, and, only when something changed, one transaction that writes the
/// state, the changed alerts and the deliveries they call for; then sends those due at once.
#[derive(Clone, Debug)]
pub struct Evaluator {
    store: Store,
    clock: std::sync::Arc<dyn Clock>,
    dispatcher: Dispatcher,
    /// The dashboard's address, for links in notices.
    links: Option<String>,
}

impl Evaluator {
    pub fn new(store: Store, clock: std::sync::Arc<dyn Clock>, dispatcher: Dispatcher, links: Option<String>) -> Self {
        Self { store, clock, dispatcher, links }
    }

    pub async fn evaluate(&self, event: &InstancePolled) -> Result<Evaluated, StoreError> {
        self.evaluate_with(event.into(), |state, t| evaluate(state, event, t)).await
    }

    /// Every instance of an `InstancePolled` event, a few at a time. All are evaluated even if
    /// some fail; then the first error is returned (the event is delivered again, and the
    /// instances already evaluated are ignored as duplicates).
    pub async fn evaluate_all(&self, batch: &InstancesPolled) -> Result<Vec<Evaluated>, StoreError> {
        let results: Vec<Result<Evaluated, StoreError>> = futures_util::stream::iter(0..batch.polled.len())
            .map(|i| self.evaluate(&batch.polled[i]))
            .buffered(EVALUATIONS_IN_FLIGHT)
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// An instance with no recorded poll: opens `no_data` (the next poll resolves it).
    pub async fn evaluate_not_polled(&self, event: &InstanceNotPolled) -> Result<Evaluated, StoreError> {
        self.evaluate_with(event.into(), |state, t| evaluate_not_polled(state, event, t)).await
    }

    async fn evaluate_with(
        &self,
        origin: Origin<'_>,
        rules: impl Fn(&EvaluationState, &Thresholds) -> Option<(EvaluationState, Vec<Transition>)>,
    ) -> Result<Evaluated, StoreError> {
        let alerts = &self.store.alerts;
        let (tenant, instance) = (origin.tenant_id, origin.instance_id);
        if self.clock.now() - origin.slot > STALE_AFTER {
            return Ok(Evaluated::Ignored);
        }
        let group = origin.group.and_then(|g| GroupName::parse(g).ok());
        for _ in 0..CONFLICT_ATTEMPTS {
            let inputs = alerts.evaluation_inputs(tenant, instance).await?;
            let settings = &inputs.settings;
            let mut thresholds = settings.thresholds_for(instance, group.as_ref());
            thresholds.disabled =
                AlertKind::ALL.iter().copied().filter(|k| !settings.enabled(*k, instance, group.as_ref())).collect();
            let Some((evaluation, transitions)) = rules(&inputs.state.evaluation, &thresholds) else {
                return Ok(Evaluated::Ignored);
            };
            if !evaluation.differs(&inputs.state.evaluation) {
                return Ok(Evaluated::Unchanged);
            }
            let mut next = inputs.state.clone();
            next.evaluation = evaluation;
            let silenced = settings.silenced_until(instance, group.as_ref(), origin.slot);
            let changed = next.apply(&transitions, origin, silenced);
            let records: Vec<_> = changed.iter().map(|c| c.alert.clone()).collect();
            let planned = plan_deliveries(settings, &changed, self.clock.now(), self.links.as_deref());
            let items = planned.iter().map(Deliveries::item).collect::<Result<Vec<_>, _>>()?;
            match alerts.commit(tenant, instance, inputs.state.revision, &next, &records, items).await {
                Ok(_) => {
                    self.dispatcher.deliver_now(&planned).await;
                    return Ok(Evaluated::Changed(changed));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict("the instance's alerts keep changing"))
    }
}

#[async_trait]
impl EventHandler for Evaluator {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let bad = |e: serde_json::Error| HandlerError::from(format!("bad {}: {e}", event.detail_type));
        if event.detail_type == DetailType::INSTANCE_POLLED {
            self.evaluate_all(&event.payload().map_err(bad)?).await.map_err(HandlerError::new)?;
        } else if event.detail_type == DetailType::INSTANCE_NOT_POLLED {
            self.evaluate_not_polled(&event.payload().map_err(bad)?).await.map_err(HandlerError::new)?;
        } else {
            return Err(HandlerError::from(format!("not an alert event: {}", event.detail_type)));
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        "alert-evaluator"
    }
}
