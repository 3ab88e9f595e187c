use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::{StreamExt, TryStreamExt};

use super::{
    AvailabilityReport, DayRollup, InstanceInputs, Month, Period, existed_during, group_reports, instance_report,
    midnight,
};
use crate::alerts::{Alert, AlertSettings};
use crate::domain::{Instance, InstanceId, MetricSnapshot, TenantId};
use crate::store::{METRIC_RETENTION_DAYS, Store, StoreError};

/// Instances read at once while building a report or rolling up days.
const IN_FLIGHT: usize = 16;
/// Metric rows per page while rolling up a day (a day is about 1,440).
const METRIC_PAGE: u32 = 1000;

/// Builds reports from the store, and rolls up days for them.
#[derive(Debug, Clone)]
pub struct Reporter {
    store: Store,
}

impl Reporter {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The first day whose metrics are all still kept on `now`.
    fn metrics_since(now: DateTime<Utc>) -> NaiveDate {
        now.date_naive() - Duration::days(METRIC_RETENTION_DAYS - 1)
    }

    /// The tenant's report of `month` as of `now`; `None` for a month still to come.
    pub async fn availability(
        &self,
        tenant: &TenantId,
        month: Month,
        now: DateTime<Utc>,
    ) -> Result<Option<AvailabilityReport>, StoreError> {
        let Some(period) = Period::of(month, now) else {
            return Ok(None);
        };
        let instances: Vec<Instance> =
            self.store.instances.list_all(tenant).await?.into_iter().filter(|i| existed_during(i, &period)).collect();
        let settings = self.store.alerts.settings(tenant).await?;
        let mut alerts: HashMap<InstanceId, Vec<Alert>> = HashMap::new();
        for alert in self.store.alerts.opened_between(tenant, period.from, period.until).await? {
            alerts.entry(alert.instance_id.clone()).or_default().push(alert);
        }
        let settings = &settings;
        let alerts = &alerts;
        // Owned instances: a closure over borrowed ones makes a future that is not `Send` for
        // every lifetime, which axum's handlers need.
        let mut reports = futures_util::stream::iter(instances)
            .map(|instance| async move {
                let instance = &instance;
                let rollups = self.rollups_of(instance, settings, &period, now).await?;
                let stale_after = settings.thresholds_for(&instance.id, instance.group.as_ref()).backup_stale_after;
                let backups = self
                    .store
                    .backups
                    .between(&instance.tenant_id, &instance.id, period.from - stale_after, period.until)
                    .await?;
                let alerts: Vec<&Alert> = alerts.get(&instance.id).map(|a| a.iter().collect()).unwrap_or_default();
                let inputs =
                    InstanceInputs { instance, rollups: &rollups, alerts: &alerts, backups: &backups, stale_after };
                Ok::<_, StoreError>(instance_report(&period, now, &inputs))
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await?;
        reports.sort_by(|(a, _), (b, _)| {
            let key = |r: &super::InstanceReport| {
                (r.group.is_none(), r.group.as_ref().map(|g| g.to_lowercase()), r.name.to_lowercase())
            };
            key(a).cmp(&key(b))
        });
        let groups = group_reports(&reports);
        Ok(Some(AvailabilityReport {
            month: month.to_string(),
            from: period.from,
            complete_until: period.complete_until,
            generated_at: now,
            metrics_since: midnight(Self::metrics_since(now)),
            instances: reports.into_iter().map(|(r, _)| r).collect(),
            groups,
        }))
    }

    /// The roll-ups of the period's complete days whose metrics are kept: stored ones, and the
    /// missing ones computed from the metrics (not stored: that is the nightly job's).
    async fn rollups_of(
        &self,
        instance: &Instance,
        settings: &AlertSettings,
        period: &Period,
        now: DateTime<Utc>,
    ) -> Result<Vec<DayRollup>, StoreError> {
        let since = Self::metrics_since(now);
        let days: Vec<NaiveDate> = period.days().filter(|d| *d >= since).collect();
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Ok(Vec::new());
        };
        let stored = self.store.rollups.between(&instance.tenant_id, &instance.id, *first, *last).await?;
        let mut rollups = Vec::with_capacity(days.len());
        for day in days {
            match stored.iter().find(|r| r.day == day) {
                Some(r) => rollups.push(r.clone()),
                None => rollups.push(self.roll_up(instance, settings, day).await?),
            }
        }
        Ok(rollups)
    }

    /// One day of one instance, from its metrics and the maintenance windows in `settings`.
    pub async fn roll_up(
        &self,
        instance: &Instance,
        settings: &AlertSettings,
        day: NaiveDate,
    ) -> Result<DayRollup, StoreError> {
        let (from, to) = (midnight(day), midnight(day + Duration::days(1)) - Duration::milliseconds(1));
        let mut snapshots: Vec<MetricSnapshot> = Vec::new();
        let mut cursor = None;
        loop {
            let page =
                self.store.metrics.range(&instance.tenant_id, &instance.id, from, to, METRIC_PAGE, cursor).await?;
            snapshots.extend(page.items);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        let in_maintenance = |at| settings.silenced_until(&instance.id, instance.group.as_ref(), at).is_some();
        Ok(DayRollup::of(day, &snapshots, in_maintenance))
    }

    /// Rolls up and stores, for every active instance of every tenant (the polling index),
    /// each complete day of the last `days` that has no roll-up yet: the nightly job. Running it
    /// again writes nothing; a run cut short is finished by the next. Returns the roll-ups
    /// written.
    pub async fn roll_up_missing(&self, now: DateTime<Utc>, days: u32) -> Result<usize, StoreError> {
        let today = now.date_naive();
        let first = (today - Duration::days(i64::from(days))).max(Self::metrics_since(now));
        let Some(last) = today.pred_opt().filter(|last| *last >= first) else {
            return Ok(0);
        };
        let mut by_tenant: HashMap<TenantId, Vec<Instance>> = HashMap::new();
        for instance in self.store.instances.all_due_for_polling_across_tenants().await? {
            by_tenant.entry(instance.tenant_id.clone()).or_default().push(instance);
        }
        let mut written = 0;
        for (tenant, instances) in by_tenant {
            let settings = self.store.alerts.settings(&tenant).await?;
            let settings = &settings;
            let counts: Vec<usize> = futures_util::stream::iter(instances)
                .map(|instance| async move {
                    let instance = &instance;
                    let stored = self.store.rollups.between(&instance.tenant_id, &instance.id, first, last).await?;
                    let mut written = 0;
                    for day in first.iter_days().take_while(|d| *d <= last) {
                        if day < instance.created_at.date_naive() || stored.iter().any(|r| r.day == day) {
                            continue;
                        }
                        let rollup = self.roll_up(instance, settings, day).await?;
                        self.store.rollups.put(&instance.tenant_id, &instance.id, &rollup).await?;
                        written += 1;
                    }
                    Ok::<_, StoreError>(written)
                })
                .buffer_unordered(IN_FLIGHT)
                .try_collect()
                .await?;
            written += counts.iter().sum::<usize>();
        }
        Ok(written)
    }
}
