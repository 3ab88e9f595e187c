use std::sync::Arc;

use super::{Listing, StoreError, from_item, keys, to_attrs};
use crate::domain::{Instance, InstanceId, TenantId};
use crate::table::{Condition, Cursor, Index, Item, Query, Table, TableError};

/// Monitored 3CX instances.
#[derive(Debug, Clone)]
pub struct Instances {
    table: Arc<dyn Table>,
}

fn item(instance: &Instance) -> Result<Item, StoreError> {
    let item = Item::new(keys::instance(&instance.tenant_id, &instance.id), to_attrs(instance)?);
    // Only active instances are in the polling index (it is sparse).
    Ok(if instance.is_active() {
        item.with_index_key(keys::poll_entry_across_tenants(&instance.tenant_id, &instance.id))
    } else {
        item
    })
}

impl Instances {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub async fn create(&self, instance: &Instance) -> Result<(), StoreError> {
        match self.table.put(item(instance)?, Some(Condition::NotExists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("instance already exists")),
            other => Ok(other?),
        }
    }

    /// Replaces a stored instance; not found if it does not exist.
    pub async fn save(&self, instance: &Instance) -> Result<(), StoreError> {
        match self.table.put(item(instance)?, Some(Condition::Exists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::NotFound),
            other => Ok(other?),
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: &InstanceId) -> Result<Option<Instance>, StoreError> {
        self.table.get(&keys::instance(tenant, id)).await?.map(from_item).transpose()
    }

    /// The tenant's instances (soft-deleted ones included), in id order.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Listing<Instance>, StoreError> {
        let (partition, prefix) = keys::instances_of(tenant);
        let page = self.table.query(&Query::partition(partition).prefix(prefix).limit(limit).after(cursor)).await?;
        Ok(Listing { items: page.items.into_iter().map(from_item).collect::<Result<_, _>>()?, next: page.next })
    }

    /// Active instances of every tenant in one shard of the polling index (see
    /// [`keys::POLL_SHARDS`]). Reads only instance items: its cost grows with the fleet,
    /// never with the history, and it never scans the table.
    pub async fn due_for_polling_across_tenants(
        &self,
        shard: u8,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Listing<Instance>, StoreError> {
        let query =
            Query::partition(keys::poll_partition_across_tenants(shard)).index(Index::Gsi1).limit(limit).after(cursor);
        let page = self.table.query(&query).await?;
        Ok(Listing { items: page.items.into_iter().map(from_item).collect::<Result<_, _>>()?, next: page.next })
    }
}
