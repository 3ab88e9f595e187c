use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

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

    /// Every instance of the tenant (soft-deleted ones included), in id order: the fleet view.
    pub async fn list_all(&self, tenant: &TenantId) -> Result<Vec<Instance>, StoreError> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list(tenant, 1000, cursor).await?;
            all.extend(page.items);
            cursor = page.next;
            if cursor.is_none() {
                return Ok(all);
            }
        }
    }

    /// Marks an active instance deleted at `now`, which takes it out of the polling index.
    /// Not found if it does not exist or is already deleted.
    pub async fn soft_delete(
        &self,
        tenant: &TenantId,
        id: &InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Instance, StoreError> {
        let mut instance = self.get(tenant, id).await?.filter(Instance::is_active).ok_or(StoreError::NotFound)?;
        instance.deleted_at = Some(now);
        self.save(&instance).await?;
        Ok(instance)
    }

    /// Undoes a soft delete made less than `window` before `now`, which puts the instance back
    /// in the polling index. Not found if it does not exist or was deleted longer ago; a
    /// conflict if it is not deleted.
    pub async fn restore(
        &self,
        tenant: &TenantId,
        id: &InstanceId,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Instance, StoreError> {
        let mut instance = self.get(tenant, id).await?.ok_or(StoreError::NotFound)?;
        match instance.deleted_at {
            None => return Err(StoreError::Conflict("instance is not deleted")),
            Some(at) if now - at >= window => return Err(StoreError::NotFound),
            Some(_) => instance.deleted_at = None,
        }
        self.save(&instance).await?;
        Ok(instance)
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
