use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::{Listing, StoreError, from_item, keys, listing, to_attrs};
use crate::domain::{Instance, InstanceId, TenantId};
use crate::table::{
    AttributeValue, BatchWrite, Condition, Cursor, Index, Item, Query, SortKeyRange, Table, TableError,
};

/// Attempts of a save that meets concurrent changes.
const SAVE_ATTEMPTS: usize = 3;

/// Monitored 3CX instances.
#[derive(Debug, Clone)]
pub struct Instances {
    table: Arc<dyn Table>,
}

fn item(instance: &Instance) -> Result<Item, StoreError> {
    let item = Item::new(keys::instance(&instance.tenant_id, &instance.id), to_attrs(instance)?);
    // Active instances are in the polling index, soft-deleted ones in the purge index.
    Ok(match instance.deleted_at {
        None => item.with_index_key(keys::poll_entry_across_tenants(&instance.tenant_id, &instance.id)),
        Some(at) => item.with_index_key(keys::purge_entry_across_tenants(&instance.tenant_id, &instance.id, at)),
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FleetRevision {
    tag: String,
}

impl Instances {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub async fn create(&self, instance: &Instance) -> Result<(), StoreError> {
        match self.table.put(item(instance)?, Some(Condition::NotExists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("instance already exists")),
            Err(e) => Err(e.into()),
            Ok(()) => {
                self.bump_fleet_revision(&instance.tenant_id).await;
                Ok(())
            }
        }
    }

    /// Moves the tenant's fleet revision on, after an instance write (never before: a reader
    /// must not see the new revision with the old fleet). A failure is logged, not returned: the
    /// instance is written, and readers bound the age of their copies anyway.
    async fn bump_fleet_revision(&self, tenant: &TenantId) {
        let revision = FleetRevision { tag: ulid::Ulid::new().to_string() };
        let result = match to_attrs(&revision) {
            Ok(attrs) => self.table.put(Item::new(keys::fleet_revision(tenant), attrs), None).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(tenant = %tenant, error = %e, "the fleet revision was not moved on");
        }
    }

    /// The tenant's fleet revision: a new value after every write of any of its instances
    /// (`None` before the first).
    pub async fn fleet_revision(&self, tenant: &TenantId) -> Result<Option<String>, StoreError> {
        let Some(item) = self.table.get(&keys::fleet_revision(tenant)).await? else { return Ok(None) };
        let revision: FleetRevision = from_item(item)?;
        Ok(Some(revision.tag))
    }

    /// Replaces the stored instance if it is still at `instance.revision`, and returns it at
    /// the next revision. Not found if it does not exist; a conflict if it was saved meanwhile
    /// (read it again and reapply the change).
    pub async fn save(&self, instance: &Instance) -> Result<Instance, StoreError> {
        let next = Instance { revision: instance.revision + 1, ..instance.clone() };
        let expected =
            Condition::AttrEquals { name: "revision".into(), value: AttributeValue::N(instance.revision.to_string()) };
        match self.table.put(item(&next)?, Some(expected)).await {
            Ok(()) => {
                self.bump_fleet_revision(&instance.tenant_id).await;
                Ok(next)
            }
            Err(TableError::ConditionFailed) => match self.get(&instance.tenant_id, &instance.id).await? {
                Some(_) => Err(StoreError::Conflict("the instance was changed meanwhile")),
                None => Err(StoreError::NotFound),
            },
            Err(e) => Err(e.into()),
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
        listing(page)
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

    /// Reads the instance, applies `change` and saves it; if it was saved meanwhile, starts over
    /// (up to 3 times). `change` may refuse with an error, which is returned as is.
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &InstanceId,
        change: impl Fn(&mut Instance) -> Result<(), StoreError>,
    ) -> Result<Instance, StoreError> {
        for _ in 0..SAVE_ATTEMPTS {
            let mut instance = self.get(tenant, id).await?.ok_or(StoreError::NotFound)?;
            change(&mut instance)?;
            match self.save(&instance).await {
                Err(StoreError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(StoreError::Conflict("the instance keeps changing"))
    }

    /// Saves `changed`; if the instance was saved meanwhile, applies `reapply` to the fresh copy
    /// and saves that instead (up to 3 times).
    pub async fn save_or_reapply(
        &self,
        changed: &Instance,
        reapply: impl Fn(&mut Instance),
    ) -> Result<Instance, StoreError> {
        let mut attempt = changed.clone();
        for _ in 0..SAVE_ATTEMPTS {
            match self.save(&attempt).await {
                Err(StoreError::Conflict(_)) => {
                    attempt = self.get(&changed.tenant_id, &changed.id).await?.ok_or(StoreError::NotFound)?;
                    reapply(&mut attempt);
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict("the instance keeps changing"))
    }

    /// Soft-deletes an active instance: it leaves the polling index and can be restored within
    /// the restore window.
    pub async fn soft_delete(
        &self,
        tenant: &TenantId,
        id: &InstanceId,
        now: DateTime<Utc>,
    ) -> Result<Instance, StoreError> {
        self.update(tenant, id, |instance| {
            if !instance.is_active() {
                return Err(StoreError::NotFound);
            }
            instance.deleted_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Undoes a soft delete made less than `window` ago; not found after that, a conflict for an
    /// active instance.
    pub async fn restore(
        &self,
        tenant: &TenantId,
        id: &InstanceId,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Instance, StoreError> {
        self.update(tenant, id, |instance| match instance.deleted_at {
            None => Err(StoreError::Conflict("instance is not deleted")),
            Some(at) if now - at >= window => Err(StoreError::NotFound),
            Some(_) => {
                instance.deleted_at = None;
                Ok(())
            }
        })
        .await
    }

    /// Every active instance of every tenant: all shards of the polling index, page by page.
    pub async fn all_due_for_polling_across_tenants(&self) -> Result<Vec<Instance>, StoreError> {
        let mut all = Vec::new();
        for shard in 0..keys::POLL_SHARDS {
            let mut cursor = None;
            loop {
                let page = self.due_for_polling_across_tenants(shard, 500, cursor).await?;
                all.extend(page.items);
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        Ok(all)
    }

    /// Instances of every tenant soft-deleted at or before `before`, oldest first, from the purge
    /// index: up to `limit` per shard.
    pub async fn deleted_before_across_tenants(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Instance>, StoreError> {
        let mut due = Vec::new();
        for shard in 0..keys::PURGE_SHARDS {
            let query = Query::partition(keys::purge_partition_across_tenants(shard))
                .index(Index::Gsi1)
                .range(SortKeyRange::AtMost(keys::due_at_or_before(before)))
                .limit(limit);
            due.extend(listing::<Instance>(self.table.query(&query).await?)?.items);
        }
        Ok(due)
    }

    /// Deletes everything kept in the instance's partition (metrics, backup records, day
    /// roll-ups, alert state), its credentials and its token, `batch` keys at a time, and the
    /// instance item last, so that a purge cut short is found and finished by the next run.
    /// Returns false when it stopped at `deadline` with work left.
    pub async fn purge(
        &self,
        instance: &Instance,
        batch: u32,
        deadline: std::time::Instant,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (&instance.tenant_id, &instance.id);
        if !super::delete_partition(self.table.as_ref(), keys::instance_data(tenant, id), batch, deadline).await? {
            return Ok(false);
        }
        self.table
            .batch_write(vec![
                BatchWrite::Delete(keys::credential(tenant, id)),
                BatchWrite::Delete(keys::credential_token(tenant, id)),
            ])
            .await?;
        self.table.delete(&keys::instance(tenant, id), None).await?;
        self.bump_fleet_revision(tenant).await;
        Ok(true)
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
        listing(page)
    }
}
