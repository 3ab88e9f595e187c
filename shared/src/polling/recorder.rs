use std::sync::Arc;

use chrono::{DateTime, Offset, Utc};

use super::{InstancePolled, missed_backup_due};
use crate::clock::Clock;
use crate::domain::{BackupOutcome, BackupRecord, Instance, InstanceStatus, MetricSnapshot, PollOutcome};
use crate::pbx::{PbxReading, PollFailure, PollReport};
use crate::store::{Store, StoreError, keys};

/// Disk use at or above this is a degraded 3CX.
const DISK_DEGRADED_PERCENT: u8 = 90;

/// Writes what one poll found: a metric row, new backup records, the instance's state.
#[derive(Debug, Clone)]
pub struct Recorder {
    store: Store,
    clock: Arc<dyn Clock>,
}

fn status_of(result: &Result<PbxReading, PollFailure>) -> (InstanceStatus, Option<String>) {
    match result {
        Ok(r) => {
            let mut problems = Vec::new();
            let offline: Vec<&str> = r.trunks.iter().filter(|t| !t.online).map(|t| t.name.as_str()).collect();
            if !offline.is_empty() {
                problems.push(format!("trunks offline: {}", offline.join(", ")));
            }
            if !r.services_not_running.is_empty() {
                problems.push(format!("services not running: {}", r.services_not_running.join(", ")));
            }
            if r.disk_usage_percent.is_some_and(|d| d >= DISK_DEGRADED_PERCENT) {
                problems.push("disk nearly full".into());
            }
            if r.licence.active == Some(false) {
                problems.push("licence not active".into());
            }
            if problems.is_empty() {
                (InstanceStatus::Ok, None)
            } else {
                (InstanceStatus::Degraded, Some(problems.join("; ")))
            }
        }
        Err(PollFailure::Unreachable(why)) => (InstanceStatus::Unreachable, Some(why.clone())),
        Err(PollFailure::LoginFailed(why)) => (InstanceStatus::LoginFailing, Some(why.clone())),
        Err(PollFailure::Unsupported(why)) => (InstanceStatus::Unsupported, Some(why.clone())),
    }
}

fn snapshot_of(slot: DateTime<Utc>, report: &PollReport) -> MetricSnapshot {
    let latency_ms = u32::try_from(report.latency.as_millis()).unwrap_or(u32::MAX);
    match &report.result {
        Ok(r) => MetricSnapshot {
            at: slot,
            outcome: PollOutcome::Ok,
            latency_ms,
            calls_active: r.calls_active,
            max_sim_calls: r.licence.max_sim_calls,
            extensions_registered: r.extensions_registered,
            extensions_total: r.extensions_total,
            trunks_registered: r.trunks_registered,
            trunks_total: r.trunks_total,
            disk_usage_percent: r.disk_usage_percent,
            services_not_running: r.services_not_running.clone(),
            licence_active: r.licence.active,
        },
        Err(failure) => {
            let outcome = match failure {
                PollFailure::Unreachable(_) => PollOutcome::Unreachable,
                PollFailure::LoginFailed(_) => PollOutcome::LoginFailed,
                PollFailure::Unsupported(_) => PollOutcome::Unsupported,
            };
            MetricSnapshot::failed(slot, outcome, latency_ms)
        }
    }
}

impl Recorder {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records one poll of `instance` for `slot` and returns the event describing it.
    pub async fn record(
        &self,
        instance: &Instance,
        slot: DateTime<Utc>,
        report: &PollReport,
    ) -> Result<InstancePolled, StoreError> {
        let tenant = &instance.tenant_id;
        let snapshot = snapshot_of(slot, report);
        self.store.metrics.record(tenant, &instance.id, &snapshot).await?;

        let (status, reason) = status_of(&report.result);
        let mut next = instance.clone();
        next.status = status;
        next.status_reason = reason.clone();
        let mut failed_backups = 0;
        if let Ok(reading) = &report.result {
            next.version = reading.version.clone().or(next.version);
            next.licence = Some(reading.licence.clone());
            next.trunks = reading.trunks.clone();
            failed_backups = self.record_backups(&mut next, reading).await?;
        }
        if next != *instance {
            // An API edit or delete may have landed during the poll: keep it, and lay only what
            // the poll found over it.
            let found = next.clone();
            next = self
                .store
                .instances
                .save_or_reapply(&next, |fresh| {
                    fresh.status = found.status;
                    fresh.status_reason.clone_from(&found.status_reason);
                    fresh.version.clone_from(&found.version);
                    fresh.licence.clone_from(&found.licence);
                    fresh.trunks.clone_from(&found.trunks);
                    fresh.backups_seen.newest_at = fresh.backups_seen.newest_at.max(found.backups_seen.newest_at);
                    fresh.backups_seen.missed_due_at =
                        fresh.backups_seen.missed_due_at.max(found.backups_seen.missed_due_at);
                    fresh.backups_seen.reported_at = found.backups_seen.reported_at;
                })
                .await?;
        }
        Ok(InstancePolled {
            tenant_id: tenant.clone(),
            instance_id: instance.id.clone(),
            instance_name: instance.name.to_string(),
            group: instance.group.as_ref().map(ToString::to_string),
            slot,
            status,
            previous_status: instance.status,
            reason,
            snapshot,
            trunks: next.trunks.clone(),
            licence: next.licence.clone(),
            last_backup_at: next.backups_seen.newest_at,
            failed_backups,
        })
    }

    /// Records backups newer than the newest already recorded, and a missed scheduled backup;
    /// returns how many failed attempts were recorded.
    async fn record_backups(&self, instance: &mut Instance, reading: &PbxReading) -> Result<u32, StoreError> {
        let tenant = &instance.tenant_id;
        let seen = instance.backups_seen.newest_at;
        if let Some(files) = &reading.backups {
            let new: Vec<(&str, BackupRecord)> = files
                .iter()
                .filter(|b| seen.is_none_or(|s| b.created_at > s))
                .map(|b| {
                    let record =
                        BackupRecord { at: b.created_at, size_bytes: b.size_bytes, outcome: BackupOutcome::Succeeded };
                    (b.name.as_str(), record)
                })
                .collect();
            self.store.backups.record_reported(tenant, &instance.id, &new).await?;
            if let Some(newest) = new.iter().map(|(_, r)| r.at).max() {
                instance.backups_seen.newest_at = Some(newest);
            }
            instance.backups_seen.reported_at = reading.last_backup_at;
        }
        let newest = instance.backups_seen.newest_at.max(reading.last_backup_at);
        let Some(schedule) = &reading.backup_schedule else { return Ok(0) };
        let offset = reading.utc_offset.unwrap_or_else(|| Utc.fix());
        let Some(due) = missed_backup_due(schedule, offset, newest, self.clock.now()) else { return Ok(0) };
        if instance.backups_seen.missed_due_at.is_some_and(|m| m >= due) {
            return Ok(0);
        }
        let record = BackupRecord {
            at: due,
            size_bytes: None,
            outcome: BackupOutcome::Failed { reason: "the scheduled backup did not appear".into() },
        };
        let identity = format!("missed@{}", keys::sortable_time(due));
        let recorded = self.store.backups.record(tenant, &instance.id, &identity, &record).await?;
        instance.backups_seen.missed_due_at = Some(due);
        Ok(u32::from(recorded))
    }
}
