use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveTime};

use super::{Listing, METRIC_RETENTION_DAYS, StoreError, keys, listing, to_attrs};
use crate::domain::{InstanceId, TenantId};
use crate::reports::DayRollup;
use crate::table::{Item, Query, SortKeyRange, Table};

/// Each instance's metrics rolled up per UTC day, for reports: one item per instance and day,
/// kept as long as the metrics it sums (90 days after the day).
#[derive(Debug, Clone)]
pub struct Rollups {
    table: Arc<dyn Table>,
}

impl Rollups {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Writes (or rewrites: the same day rolls up the same) one day's roll-up.
    pub async fn put(&self, tenant: &TenantId, instance: &InstanceId, rollup: &DayRollup) -> Result<(), StoreError> {
        let expires = (rollup.day + Duration::days(METRIC_RETENTION_DAYS + 1)).and_time(NaiveTime::MIN).and_utc();
        let item = Item::new(keys::day_rollup(tenant, instance, rollup.day), to_attrs(rollup)?).expiring_at(expires);
        Ok(self.table.put(item, None).await?)
    }

    /// The roll-ups of the days `[first, last]` that have one, oldest first.
    pub async fn between(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<DayRollup>, StoreError> {
        let (partition, _) = keys::day_rollups_of(tenant, instance);
        let range = SortKeyRange::Between {
            from: keys::day_rollup(tenant, instance, first).sk,
            to: keys::day_rollup(tenant, instance, last).sk,
        };
        let page = self.table.query(&Query::partition(partition).range(range)).await?;
        let listed: Listing<DayRollup> = listing(page)?;
        Ok(listed.items)
    }
}
