use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{Listing, StoreError, from_item, keys, listing, to_attrs};
use crate::clock::Clock;
use crate::domain::{InstanceId, MetricSnapshot, TenantId};
use crate::table::{BatchWrite, Condition, Cursor, Item, Query, SortKeyRange, Table, TableError};

/// How long metric rows are kept (their TTL).
pub const METRIC_RETENTION_DAYS: i64 = 90;

/// Poll snapshots, one row per instance and poll slot, kept 90 days.
#[derive(Debug, Clone)]
pub struct Metrics {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl Metrics {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    /// Stores a snapshot with a TTL 90 days after it was recorded. Returns false (and writes
    /// nothing) if the slot already has a row, so a redelivered poll does not duplicate it.
    pub async fn record(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        snapshot: &MetricSnapshot,
    ) -> Result<bool, StoreError> {
        let expires = self.clock.now() + Duration::days(METRIC_RETENTION_DAYS);
        let item = Item::new(keys::metric(tenant, instance, snapshot.at), to_attrs(snapshot)?).expiring_at(expires);
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores many snapshots of one instance at once, without the once-per-slot check of
    /// [`Self::record`] (an import, a benchmark's fixture): batch writes, each expiring 90
    /// days after now.
    pub async fn record_batch(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        snapshots: &[MetricSnapshot],
    ) -> Result<(), StoreError> {
        let expires = self.clock.now() + Duration::days(METRIC_RETENTION_DAYS);
        let writes = snapshots
            .iter()
            .map(|s| {
                Ok(BatchWrite::Put(Item::new(keys::metric(tenant, instance, s.at), to_attrs(s)?).expiring_at(expires)))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(self.table.batch_write(writes).await?)
    }

    /// Snapshots taken in `[from, to]`, oldest first.
    pub async fn range(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Listing<MetricSnapshot>, StoreError> {
        let (partition, _) = keys::metrics_of(tenant, instance);
        let range = SortKeyRange::Between {
            from: keys::metric(tenant, instance, from).sk,
            to: keys::metric(tenant, instance, to).sk,
        };
        let page = self.table.query(&Query::partition(partition).range(range).limit(limit).after(cursor)).await?;
        listing(page)
    }

    pub async fn latest(&self, tenant: &TenantId, instance: &InstanceId) -> Result<Option<MetricSnapshot>, StoreError> {
        let (partition, prefix) = keys::metrics_of(tenant, instance);
        let page = self.table.query(&Query::partition(partition).prefix(prefix).descending().limit(1)).await?;
        page.items.into_iter().next().map(from_item).transpose()
    }
}
