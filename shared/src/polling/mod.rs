//! From a scheduled tick to a snapshot of every 3CX in the store.
//!
//! The [`Scheduler`] lists the instances due (the polling index, no scan) and publishes them in
//! `PollBatch` events. The [`Poller`] polls a batch concurrently, each poll bounded by the
//! client's deadline, and hands each result to the [`Recorder`], which writes one metric row per
//! instance and poll slot, the new backup records, and the instance's state when it changed, and
//! then publishes `InstancePolled` events. A poll reads `SystemStatus` and only the collections
//! it shows changed ([`Known`]); every collection is read on an instance's first poll, after a
//! failed one, on "poll now", and once an hour at a minute of the instance's own
//! ([`known_of`]). A redelivered batch polls again but writes nothing
//! twice: metric rows and backup records are keyed by slot and backup and written only if absent.

mod backup_rule;
mod poller;
mod recorder;
mod scheduler;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

pub use backup_rule::{MISSED_BACKUP_GRACE, missed_backup_due};
pub use poller::{BatchReport, Poller};
pub use recorder::Recorder;
pub use scheduler::{Scheduler, SchedulerError, TickReport};

use crate::domain::{
    Instance, InstanceId, InstanceStatus, LicenceInfo, MetricSnapshot, PollOutcome, TenantId, TrunkState,
};
use crate::pbx::Known;

/// How often each active instance is polled.
pub const POLL_INTERVAL: Duration = Duration::minutes(1);

/// Instances per `PollBatch` event.
pub const BATCH_SIZE: usize = 25;

/// The poll slot `now` falls in: the start of its interval.
pub fn slot_of(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(POLL_INTERVAL).unwrap_or(now)
}

/// Slots between two full polls of an instance (one hour).
pub const FULL_POLL_EVERY: i64 = 60;

/// What the poll of `instance` for `slot` takes as known: its last state, unless the instance
/// was not healthy at its last poll or `slot` is its hourly full poll.
pub fn known_of(instance: &Instance, slot: DateTime<Utc>) -> Known {
    let healthy = matches!(instance.status, InstanceStatus::Ok | InstanceStatus::Degraded);
    let own_slot = instance.id.as_str().bytes().fold(0_i64, |h, b| (h * 31 + i64::from(b)) % FULL_POLL_EVERY);
    let slot_index = slot.timestamp().div_euclid(POLL_INTERVAL.num_seconds()).rem_euclid(FULL_POLL_EVERY);
    Known {
        full: !healthy || slot_index == own_slot,
        trunks: instance.trunks.clone(),
        last_backup_at: instance.backups_seen.reported_at,
        token: None,
    }
}

/// One instance to poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollTarget {
    pub tenant_id: TenantId,
    pub instance_id: InstanceId,
}

/// The detail of a `PollBatch` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollBatch {
    pub slot: DateTime<Utc>,
    pub targets: Vec<PollTarget>,
}

/// The detail of an `InstancePolled` event: enough for alert evaluation without a read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstancePolled {
    pub tenant_id: TenantId,
    pub instance_id: InstanceId,
    pub instance_name: String,
    pub group: Option<String>,
    pub slot: DateTime<Utc>,
    pub status: InstanceStatus,
    pub previous_status: InstanceStatus,
    pub reason: Option<String>,
    pub snapshot: MetricSnapshot,
    pub trunks: Vec<TrunkState>,
    pub licence: Option<LicenceInfo>,
    pub last_backup_at: Option<DateTime<Utc>>,
    /// Backups recorded by this poll that failed (a scheduled backup that did not appear).
    pub failed_backups: u32,
}

/// The detail of an `InstancePolled` event: the instances one poller batch polled and
/// recorded (one event per batch, split further only to stay under EventBridge's 256 KiB), each
/// with enough for alert evaluation without a read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstancesPolled {
    pub polled: Vec<InstancePolled>,
}

/// An `InstancePolled` event's detail is kept under this many bytes of JSON.
const POLLED_EVENT_BYTES: usize = 200 * 1024;

impl InstancesPolled {
    /// The `InstancePolled` events for `polled`: as few as fit under the size limit, in order.
    pub fn events(polled: &[InstancePolled]) -> Vec<crate::events::Event> {
        let mut events = Vec::new();
        let mut chunk: Vec<InstancePolled> = Vec::new();
        let mut bytes = 0;
        for p in polled {
            let size = serde_json::to_vec(p).map(|v| v.len() + 1).unwrap_or(0);
            if !chunk.is_empty() && bytes + size > POLLED_EVENT_BYTES {
                events.extend(Self::event(std::mem::take(&mut chunk)));
                bytes = 0;
            }
            bytes += size;
            chunk.push(p.clone());
        }
        if !chunk.is_empty() {
            events.extend(Self::event(chunk));
        }
        events
    }

    fn event(polled: Vec<InstancePolled>) -> Option<crate::events::Event> {
        crate::events::Event::from_payload(crate::events::DetailType::INSTANCE_POLLED, &Self { polled }).ok()
    }
}

/// Slots in a row without a recorded poll that make an instance "not polled" (`no_data`).
pub const NOT_POLLED_AFTER_SLOTS: i64 = 3;

/// The detail of an `InstanceNotPolled` event: an active instance has no recorded poll in the
/// [`NOT_POLLED_AFTER_SLOTS`] slots before `slot`, though the scheduler ran for each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceNotPolled {
    pub tenant_id: TenantId,
    pub instance_id: InstanceId,
    pub instance_name: String,
    pub group: Option<String>,
    pub slot: DateTime<Utc>,
    /// The first slot without a recorded poll.
    pub since: DateTime<Utc>,
}

impl InstancePolled {
    pub fn outcome(&self) -> PollOutcome {
        self.snapshot.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;

    #[test]
    fn the_sample_poll_batch_event_reads_as_a_batch() {
        let event: Event = serde_json::from_str(include_str!("../../../events/poll-batch.json")).unwrap();
        assert_eq!(event.detail_type, crate::events::DetailType::POLL_BATCH);
        let batch: PollBatch = event.payload().unwrap();
        assert_eq!(batch.targets.len(), 2);
        assert_eq!(batch.slot, slot_of(batch.slot));
    }

    #[test]
    fn the_sample_instance_events_read_as_their_payloads() {
        let event: Event = serde_json::from_str(include_str!("../../../events/instance-polled.json")).unwrap();
        assert_eq!(event.detail_type, crate::events::DetailType::INSTANCE_POLLED);
        let batch: InstancesPolled = event.payload().unwrap();
        assert_eq!(batch.polled.len(), 2);
        assert_eq!(batch.polled[0].trunks.iter().filter(|t| !t.online).count(), 1);
        let event: Event = serde_json::from_str(include_str!("../../../events/instance-not-polled.json")).unwrap();
        assert_eq!(event.detail_type, crate::events::DetailType::INSTANCE_NOT_POLLED);
        let not_polled: InstanceNotPolled = event.payload().unwrap();
        assert_eq!(not_polled.slot - not_polled.since, POLL_INTERVAL * NOT_POLLED_AFTER_SLOTS as i32);
    }

    #[test]
    fn polled_instances_travel_one_event_per_batch_unless_too_large() {
        let event: Event = serde_json::from_str(include_str!("../../../events/instance-polled.json")).unwrap();
        let one = event.payload::<InstancesPolled>().unwrap().polled.remove(0);
        let batch: Vec<InstancePolled> = (0..25).map(|_| one.clone()).collect();
        assert_eq!(InstancesPolled::events(&batch).len(), 1);
        let mut big = one.clone();
        big.reason = Some("x".repeat(60_000));
        let events = InstancesPolled::events(&vec![big; 10]);
        assert_eq!(events.len(), 4, "three of 60 kB fit under 200 kB");
        let back: usize = events.iter().map(|e| e.payload::<InstancesPolled>().unwrap().polled.len()).sum();
        assert_eq!(back, 10);
        assert!(InstancesPolled::events(&[]).is_empty());
    }

    #[test]
    fn a_healthy_instance_is_polled_in_full_once_an_hour() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T09:00:00Z").unwrap().with_timezone(&Utc);
        let mut instance = Instance::new(
            TenantId::generate(),
            crate::domain::InstanceName::parse("pbx").unwrap(),
            crate::domain::PbxAddress::parse_url("https://pbx.example.com:5001").unwrap(),
            None,
            now,
        );
        assert!(known_of(&instance, now).full, "never polled");
        instance.status = InstanceStatus::Ok;
        let full: Vec<i64> = (0..180).filter(|m| known_of(&instance, now + Duration::minutes(*m)).full).collect();
        assert_eq!(full.len(), 3, "{full:?}");
        assert_eq!(full[1] - full[0], 60);
        for status in [InstanceStatus::Unreachable, InstanceStatus::LoginFailing, InstanceStatus::Unsupported] {
            instance.status = status;
            assert!((0..60).all(|m| known_of(&instance, now + Duration::minutes(m)).full), "{status:?}");
        }
    }

    #[test]
    fn slots_are_whole_minutes() {
        let t = DateTime::parse_from_rfc3339("2026-11-29T09:20:42.5Z").unwrap().with_timezone(&Utc);
        assert_eq!(slot_of(t).to_rfc3339(), "2026-11-29T09:20:00+00:00");
    }
}
