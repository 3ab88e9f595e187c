use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, from_item, keys, to_attrs};
use crate::alerts::ChannelId;
use crate::domain::{AlertId, DeliveryId, TenantId};
use crate::notify::Notice;
use crate::table::{AttributeValue, Condition, Index, Item, Query, SortKeyRange, Table, TableError};

/// Where a delivery is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting to be sent at `due_at` (or sent again after a failure).
    Pending,
    Delivered,
    /// Every attempt failed, or the failure was permanent.
    Failed,
    /// Not sent: the alert was acknowledged or resolved first, or the channel is gone.
    Dropped,
}

/// One notice of an alert to one channel, from planning to its last attempt. Kept with the
/// alert; in the due index while pending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: DeliveryId,
    pub tenant_id: TenantId,
    pub alert_id: AlertId,
    pub channel_id: ChannelId,
    pub notice: crate::notify::Notice,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    pub status: DeliveryStatus,
    /// Why the last attempt failed, or why it was dropped.
    pub last_error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    /// For a reminder: another one this many minutes later while the alert is unacknowledged.
    pub repeat_every_minutes: Option<u32>,
    pub revision: u64,
}

impl DeliveryRecord {
    /// A pending delivery; its id follows from the alert, the notice, the channel and `due_at`.
    pub fn planned(
        notice: Notice,
        channel_id: ChannelId,
        due_at: DateTime<Utc>,
        repeat_every_minutes: Option<u32>,
    ) -> Self {
        let seed = format!("{}|{}|{}|{}", notice.alert_id, notice.kind.as_str(), channel_id, due_at.timestamp_millis());
        Self {
            id: DeliveryId::derived(due_at, &seed),
            tenant_id: notice.tenant_id.clone(),
            alert_id: notice.alert_id.clone(),
            channel_id,
            notice,
            due_at,
            attempts: 0,
            status: DeliveryStatus::Pending,
            last_error: None,
            finished_at: None,
            repeat_every_minutes,
            revision: 0,
        }
    }
}

/// Pending, delivered and failed notifications.
#[derive(Debug, Clone)]
pub struct Deliveries {
    table: Arc<dyn Table>,
}

impl Deliveries {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// The item of a delivery: in the due index while pending.
    pub fn item(record: &DeliveryRecord) -> Result<Item, StoreError> {
        let item = Item::new(keys::delivery(&record.tenant_id, &record.alert_id, &record.id), to_attrs(record)?);
        Ok(if record.status == DeliveryStatus::Pending {
            item.with_index_key(keys::delivery_due_across_tenants(&record.tenant_id, &record.id, record.due_at))
        } else {
            item
        })
    }

    /// Stores new deliveries; one that exists already (a replanned one) is left as it is.
    pub async fn plan(&self, records: &[DeliveryRecord]) -> Result<(), StoreError> {
        for record in records {
            match self.table.put(Self::item(record)?, Some(Condition::NotExists)).await {
                Ok(()) | Err(TableError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Writes `record` at the next revision if it is still at `record.revision`; a conflict if
    /// someone else (another sweep) wrote it meanwhile. Returns it as written.
    pub async fn save(&self, record: &DeliveryRecord) -> Result<DeliveryRecord, StoreError> {
        let next = DeliveryRecord { revision: record.revision + 1, ..record.clone() };
        let condition =
            Condition::AttrEquals { name: "revision".into(), value: AttributeValue::N(record.revision.to_string()) };
        match self.table.put(Self::item(&next)?, Some(condition)).await {
            Ok(()) => Ok(next),
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("the delivery was changed meanwhile")),
            Err(e) => Err(e.into()),
        }
    }

    /// Pending deliveries of every tenant in one shard of the due index, due at or before `at`,
    /// earliest first.
    pub async fn due_across_tenants(
        &self,
        shard: u8,
        at: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let query = Query::partition(keys::deliveries_due_across_tenants(shard))
            .index(Index::Gsi1)
            .range(SortKeyRange::AtMost(keys::due_at_or_before(at)))
            .limit(limit);
        let page = self.table.query(&query).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Every delivery of an alert, in id order.
    pub async fn of_alert(&self, tenant: &TenantId, alert: &AlertId) -> Result<Vec<DeliveryRecord>, StoreError> {
        let (partition, prefix) = keys::deliveries_of(tenant, alert);
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page =
                self.table.query(&Query::partition(partition.clone()).prefix(prefix).limit(200).after(cursor)).await?;
            for item in page.items {
                all.push(from_item(item)?);
            }
            cursor = page.next;
            if cursor.is_none() {
                return Ok(all);
            }
        }
    }
}
