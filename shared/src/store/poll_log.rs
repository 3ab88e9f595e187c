use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{StoreError, from_item, keys, to_attrs};
use crate::clock::Clock;
use crate::domain::{InstanceId, TenantId};
use crate::table::{Condition, Item, Query, Table, TableError};

/// How long the pipeline's records are kept.
const KEPT: Duration = Duration::days(1);

#[derive(Serialize, Deserialize)]
struct Tick {
    slot: DateTime<Utc>,
}

/// The instances a batch polled, each as [`poll_token`]: no tenant or instance id is kept here,
/// so a deleted tenant leaves nothing in the poll log.
#[derive(Serialize, Deserialize)]
struct PolledBatch {
    slot: DateTime<Utc>,
    #[serde(default)]
    tokens: Vec<String>,
}

/// An opaque stand-in for an instance in the poll log: 128 bits of SHA-256 of its ids.
pub fn poll_token(tenant: &TenantId, instance: &InstanceId) -> String {
    hex::encode(&Sha256::digest(format!("{tenant}#{instance}").as_bytes())[..16])
}

/// What the polling pipeline did per slot, across tenants, kept a day: that the scheduler ran,
/// and which instances each poller batch recorded. The scheduler reads it to find active
/// instances that were not polled (`no_data`): one write per minute and one per batch of 25.
#[derive(Debug, Clone)]
pub struct PollLog {
    table: Arc<dyn Table>,
    clock: Arc<dyn Clock>,
}

impl PollLog {
    pub fn new(table: Arc<dyn Table>, clock: Arc<dyn Clock>) -> Self {
        Self { table, clock }
    }

    fn expires(&self) -> DateTime<Utc> {
        self.clock.now() + KEPT
    }

    pub async fn record_tick_across_tenants(&self, slot: DateTime<Utc>) -> Result<(), StoreError> {
        let item =
            Item::new(keys::poll_tick_across_tenants(slot), to_attrs(&Tick { slot })?).expiring_at(self.expires());
        Ok(self.table.put(item, None).await?)
    }

    /// Whether the scheduler ran for every one of `slots`.
    pub async fn ticked_across_tenants(&self, slots: &[DateTime<Utc>]) -> Result<bool, StoreError> {
        let keys: Vec<_> = slots.iter().map(|s| keys::poll_tick_across_tenants(*s)).collect();
        Ok(self.table.batch_get(&keys).await?.len() == keys.len())
    }

    /// Records the instances a batch polled and recorded for `slot`; nothing for none, nothing
    /// again for a redelivered batch that recorded the same.
    pub async fn record_batch_across_tenants(
        &self,
        slot: DateTime<Utc>,
        polled: Vec<(TenantId, InstanceId)>,
    ) -> Result<(), StoreError> {
        let mut tokens: Vec<String> = polled.iter().map(|(t, i)| poll_token(t, i)).collect();
        tokens.sort();
        if tokens.is_empty() {
            return Ok(());
        }
        let key = keys::polled_batch_across_tenants(slot, &tokens.concat());
        let item = Item::new(key, to_attrs(&PolledBatch { slot, tokens })?).expiring_at(self.expires());
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every instance recorded as polled for `slot`, of every tenant, as [`poll_token`]s.
    pub async fn polled_across_tenants(&self, slot: DateTime<Utc>) -> Result<HashSet<String>, StoreError> {
        let mut polled = HashSet::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(keys::polled_across_tenants(slot)).limit(1000).after(cursor);
            let page = self.table.query(&query).await?;
            for item in page.items {
                polled.extend(from_item::<PolledBatch>(item)?.tokens);
            }
            cursor = page.next;
            if cursor.is_none() {
                return Ok(polled);
            }
        }
    }
}
