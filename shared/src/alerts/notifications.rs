use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use super::{Alert, AlertSettings, AlertStatus, ChangeKind, Changed, ChannelId};
use crate::clock::Clock;
use crate::domain::GroupName;
use crate::notify::{Delivery, Notice, NoticeKind, Notifier, RetrySchedule, SendError, Target};
use crate::store::{DeliveryRecord, DeliveryStatus, OpenedTarget, Store, StoreError, keys};

/// How long a claimed delivery is hidden from other sweeps while it is being sent.
const CLAIM_LEASE: Duration = Duration::minutes(2);
/// Due deliveries read per query of the due index.
const DUE_PAGE: u32 = 100;
/// Deliveries sent at once by one sweep.
const SENDS_IN_FLIGHT: usize = 16;
/// A sweep starts no new page after this long (the function's timeout is 60 s); the next sweep
/// goes on.
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(40);

/// The notice about `alert`, with a link to it on the dashboard when `links` is the
/// dashboard's address.
pub fn notice_for(alert: &Alert, kind: NoticeKind, links: Option<&str>) -> Notice {
    let detail = if alert.flapping {
        format!("{} (flapping: it opened again soon after resolving)", alert.detail)
    } else {
        alert.detail.clone()
    };
    Notice {
        kind,
        alert_id: alert.id.clone(),
        tenant_id: alert.tenant_id.clone(),
        alert_kind: alert.kind.as_str().to_owned(),
        severity: alert.severity.as_str().to_owned(),
        instance_id: alert.instance_id.clone(),
        instance_name: alert.instance_name.clone(),
        subject: alert.subject.clone(),
        detail,
        opened_at: alert.opened_at,
        resolved_at: alert.resolved.as_ref().map(|r| r.at),
        link: links.map(|base| format!("{}/alerts/{}", base.trim_end_matches('/'), alert.id)),
    }
}

/// The deliveries that the changed alerts call for under the tenant's routes:
/// - opened: each route's channels, when the alert's silence ends (at once if it has none);
///   a reminder every `remind_every_minutes` and the escalation channels after
///   `escalate_after_minutes`, both sent only while the alert is unacknowledged;
/// - severity raised: an `escalated` notice to the routes of the new severity;
/// - resolved: a `resolved` notice to the channels of routes with `notify_resolved`, sent only
///   where the opening was delivered; none for a flapping alert (it was told once);
/// - severity lowered: nothing.
///
/// A channel named by several routes gets one delivery per notice.
pub fn plan_deliveries(
    settings: &AlertSettings,
    changed: &[Changed],
    now: DateTime<Utc>,
    links: Option<&str>,
) -> Vec<DeliveryRecord> {
    let mut planned = Vec::new();
    for Changed { alert, what } in changed {
        let due = alert.silenced_until.filter(|end| *end > now).unwrap_or(now);
        let mut seen: HashSet<(NoticeKind, ChannelId)> = HashSet::new();
        let mut plan = |kind: NoticeKind, channel: &ChannelId, at: DateTime<Utc>, repeat: Option<u32>| {
            if seen.insert((kind, channel.clone())) {
                planned.push(DeliveryRecord::planned(notice_for(alert, kind, links), channel.clone(), at, repeat));
            }
        };
        for route in settings.routes_for(alert.kind, alert.severity) {
            match what {
                ChangeKind::Opened => {
                    for channel in &route.channels {
                        plan(NoticeKind::Opened, channel, due, None);
                        if let Some(every) = route.remind_every_minutes {
                            plan(NoticeKind::Reminder, channel, due + minutes(every), Some(every));
                        }
                    }
                    if let Some(after) = route.escalate_after_minutes {
                        let at = (alert.opened_at + minutes(after)).max(due);
                        for channel in &route.escalate_to {
                            plan(NoticeKind::Escalated, channel, at, None);
                        }
                    }
                }
                ChangeKind::SeverityRaised => {
                    for channel in &route.channels {
                        plan(NoticeKind::Escalated, channel, due, None);
                    }
                }
                ChangeKind::Resolved if route.notify_resolved && !alert.flapping => {
                    let escalated =
                        route.escalate_after_minutes.is_some_and(|after| alert.opened_at + minutes(after) <= now);
                    let channels = route.channels.iter().chain(route.escalate_to.iter().filter(|_| escalated));
                    for channel in channels {
                        plan(NoticeKind::Resolved, channel, now, None);
                    }
                }
                ChangeKind::Resolved | ChangeKind::SeverityLowered => {}
            }
        }
    }
    planned
}

fn minutes(m: u32) -> Duration {
    Duration::minutes(i64::from(m))
}

/// What one delivery attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatched {
    /// Another sweep holds it, or it is not due yet.
    Skipped,
    /// Moved to the end of a maintenance window or mute.
    Postponed(DateTime<Utc>),
    Delivered,
    /// Failed; tried again at this time.
    Retrying(DateTime<Utc>),
    Failed(String),
    Dropped(String),
}

/// Counts of one sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
    pub dropped: usize,
    pub postponed: usize,
    pub skipped: usize,
    /// Deliveries whose state could not be read or written; the next sweep tries again.
    pub store_errors: usize,
}

/// Sends planned deliveries when they are due: claims each (so two sweeps never send the same
/// one), checks that it is still wanted (alert still open and unacknowledged for reminders,
/// not silenced, channel still there), sends it, and records the outcome; a retryable failure
/// is tried again later by the [`RetrySchedule`]. A failing delivery never holds up another.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    store: Store,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    retry: RetrySchedule,
}

impl Dispatcher {
    pub fn new(store: Store, notifier: Arc<dyn Notifier>, clock: Arc<dyn Clock>) -> Self {
        Self { store, notifier, clock, retry: RetrySchedule::default() }
    }

    pub fn with_retry_schedule(mut self, retry: RetrySchedule) -> Self {
        self.retry = retry;
        self
    }

    /// Sends every delivery due now, in every shard of the due index.
    pub async fn sweep(&self) -> SweepReport {
        let mut report = SweepReport::default();
        let now = self.clock.now();
        let started = std::time::Instant::now();
        for shard in 0..keys::DELIVERY_SHARDS {
            while started.elapsed() < SWEEP_BUDGET {
                let due = match self.store.deliveries.due_across_tenants(shard, now, DUE_PAGE).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::error!(shard, error = %e, "reading due deliveries failed");
                        report.store_errors += 1;
                        break;
                    }
                };
                let full = due.len() == DUE_PAGE as usize;
                let outcomes: Vec<_> = futures_util::stream::iter(due)
                    .map(|d| self.deliver(d))
                    .buffer_unordered(SENDS_IN_FLIGHT)
                    .collect()
                    .await;
                let mut progressed = false;
                for outcome in outcomes {
                    match outcome {
                        Ok(Dispatched::Delivered) => report.delivered += 1,
                        Ok(Dispatched::Retrying(_)) => report.retrying += 1,
                        Ok(Dispatched::Failed(_)) => report.failed += 1,
                        Ok(Dispatched::Dropped(_)) => report.dropped += 1,
                        Ok(Dispatched::Postponed(_)) => report.postponed += 1,
                        Ok(Dispatched::Skipped) => {
                            report.skipped += 1;
                            continue;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "a delivery's state could not be kept");
                            report.store_errors += 1;
                            continue;
                        }
                    }
                    progressed = true;
                }
                if !full || !progressed {
                    break;
                }
            }
        }
        report
    }

    /// Sends one delivery if it is due and still wanted, and records the outcome.
    pub async fn deliver(&self, record: DeliveryRecord) -> Result<Dispatched, StoreError> {
        let now = self.clock.now();
        if record.status != DeliveryStatus::Pending || record.due_at > now {
            return Ok(Dispatched::Skipped);
        }
        let deliveries = &self.store.deliveries;
        let claimed = match deliveries.save(&DeliveryRecord { due_at: now + CLAIM_LEASE, ..record }).await {
            Ok(claimed) => claimed,
            Err(StoreError::Conflict(_)) => return Ok(Dispatched::Skipped),
            Err(e) => return Err(e),
        };
        // On an error the delivery stays claimed: the lease runs out and a later sweep tries again.
        let (next, outcome) = self.check_and_send(&claimed, now).await?;
        let repeat = matches!(outcome, Dispatched::Delivered).then_some(next.repeat_every_minutes).flatten();
        deliveries.save(&next).await?;
        if let Some(every) = repeat {
            let reminder = DeliveryRecord::planned(
                claimed.notice.clone(),
                claimed.channel_id.clone(),
                now + minutes(every),
                Some(every),
            );
            deliveries.plan(std::slice::from_ref(&reminder)).await?;
        }
        Ok(outcome)
    }

    async fn check_and_send(
        &self,
        claimed: &DeliveryRecord,
        now: DateTime<Utc>,
    ) -> Result<(DeliveryRecord, Dispatched), StoreError> {
        let finished = |status: DeliveryStatus, error: Option<String>| DeliveryRecord {
            status,
            last_error: error,
            finished_at: Some(now),
            ..claimed.clone()
        };
        let drop = |why: &str| {
            Ok((finished(DeliveryStatus::Dropped, Some(why.to_owned())), Dispatched::Dropped(why.to_owned())))
        };
        let tenant = &claimed.tenant_id;
        let kind = claimed.notice.kind;
        let Some(alert) = self.store.alerts.get(tenant, &claimed.alert_id).await? else {
            return drop("the alert no longer exists");
        };
        match kind {
            NoticeKind::Opened | NoticeKind::Reminder | NoticeKind::Escalated
                if alert.status == AlertStatus::Resolved =>
            {
                return drop("the alert resolved before this was sent");
            }
            NoticeKind::Reminder | NoticeKind::Escalated if alert.status == AlertStatus::Acknowledged => {
                return drop("the alert was acknowledged");
            }
            NoticeKind::Resolved => {
                let opened_here = self.store.deliveries.of_alert(tenant, &alert.id).await?.iter().any(|d| {
                    d.channel_id == claimed.channel_id
                        && d.notice.kind == NoticeKind::Opened
                        && d.status == DeliveryStatus::Delivered
                });
                if !opened_here {
                    return drop("the opening was never delivered to this channel");
                }
            }
            _ => {}
        }
        if kind != NoticeKind::Resolved {
            let settings = self.store.alerts.settings(tenant).await?;
            let group = alert.group.as_deref().and_then(|g| GroupName::parse(g).ok());
            if let Some(until) = settings.silenced_until(&alert.instance_id, group.as_ref(), now) {
                let postponed = DeliveryRecord { due_at: until, ..claimed.clone() };
                return Ok((postponed, Dispatched::Postponed(until)));
            }
        }
        let Some(channel) = self.store.channels.get(tenant, &claimed.channel_id).await? else {
            return drop("the channel was deleted");
        };
        let opened = match self.store.channels.open(&channel).await {
            Ok(opened) => opened,
            Err(e) => {
                tracing::error!(tenant = %tenant, channel = %channel.id, error = %e, "a channel's secrets cannot be opened");
                let why = "the channel's secrets cannot be opened".to_owned();
                return Ok((finished(DeliveryStatus::Failed, Some(why.clone())), Dispatched::Failed(why)));
            }
        };
        let result = self.send(claimed, &opened).await;
        let attempts = claimed.attempts + 1;
        Ok(match result {
            Ok(()) => (DeliveryRecord { attempts, ..finished(DeliveryStatus::Delivered, None) }, Dispatched::Delivered),
            Err(SendError::Retryable(why)) => match self.retry.next_attempt_after(attempts) {
                Some(wait) => {
                    let at = now + wait;
                    let retry = DeliveryRecord { attempts, due_at: at, last_error: Some(why), ..claimed.clone() };
                    (retry, Dispatched::Retrying(at))
                }
                None => (
                    DeliveryRecord { attempts, ..finished(DeliveryStatus::Failed, Some(why.clone())) },
                    Dispatched::Failed(why),
                ),
            },
            Err(SendError::Permanent(why)) => (
                DeliveryRecord { attempts, ..finished(DeliveryStatus::Failed, Some(why.clone())) },
                Dispatched::Failed(why),
            ),
        })
    }

    async fn send(&self, record: &DeliveryRecord, target: &OpenedTarget) -> Result<(), SendError> {
        let target = match target {
            OpenedTarget::Email(email) => Target::Email(email),
            OpenedTarget::Webhook(webhook, secret) => Target::Webhook(webhook, secret),
        };
        let outcome = self.notifier.send(&Delivery { id: &record.id, notice: &record.notice, target }).await;
        if let Err(e) = &outcome {
            tracing::warn!(
                tenant = %record.tenant_id, alert = %record.alert_id, channel = %record.channel_id,
                delivery = %record.id, attempt = record.attempts + 1, error = %e, "a notification was not delivered"
            );
        }
        outcome
    }

    /// Sends a test notice to a channel at once (the "send test" action); not retried.
    pub async fn send_test(&self, channel: &crate::store::Channel, links: Option<&str>) -> Result<(), TestError> {
        let opened = self.store.channels.open(channel).await?;
        let notice = Notice::test(channel.tenant_id.clone(), self.clock.now(), links.map(str::to_owned));
        let record = DeliveryRecord::planned(notice, channel.id.clone(), self.clock.now(), None);
        Ok(self.send(&record, &opened).await?)
    }

    /// Plans and sends at once the deliveries due now; the sweep takes the rest.
    pub async fn deliver_now(&self, planned: &[DeliveryRecord]) {
        let now = self.clock.now();
        let due: Vec<DeliveryRecord> = planned.iter().filter(|d| d.due_at <= now).cloned().collect();
        let results: Vec<_> =
            futures_util::stream::iter(due).map(|d| self.deliver(d)).buffer_unordered(SENDS_IN_FLIGHT).collect().await;
        for result in results {
            if let Err(e) = result {
                tracing::warn!(error = %e, "a delivery is left to the next sweep");
            }
        }
    }
}

/// Why a test notice was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the channel did not accept the notice: {0}")]
    Send(#[from] SendError),
}
