use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Listing, StoreError, keys, listing, to_attrs};
use crate::domain::{BackupRecord, InstanceId, TenantId};
use crate::table::{BatchWrite, Condition, Cursor, Item, Query, SortKeyRange, Table, TableError};

/// Backup history per instance, kept indefinitely.
#[derive(Debug, Clone)]
pub struct Backups {
    table: Arc<dyn Table>,
}

impl Backups {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Records a backup attempt once: `identity` names the backup (for a reported backup, its
    /// file name; for a missed one, the slot it was due in). Returns false if already recorded.
    pub async fn record(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        identity: &str,
        record: &BackupRecord,
    ) -> Result<bool, StoreError> {
        let item = Item::new(keys::backup(tenant, instance, record.at, identity), to_attrs(record)?);
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(true),
            Err(TableError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Records backups the 3CX reported, identified by file name, in batch writes (one durable
    /// commit in the embedded table); recording one again rewrites the same item.
    pub async fn record_reported(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        reported: &[(&str, BackupRecord)],
    ) -> Result<(), StoreError> {
        let mut writes = std::collections::BTreeMap::new();
        for (name, record) in reported {
            let item = Item::new(keys::backup(tenant, instance, record.at, name), to_attrs(record)?);
            writes.insert(item.key.clone(), BatchWrite::Put(item));
        }
        if !writes.is_empty() {
            self.table.batch_write(writes.into_values().collect()).await?;
        }
        Ok(())
    }

    pub async fn newest_first(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Listing<BackupRecord>, StoreError> {
        let (partition, prefix) = keys::backups_of(tenant, instance);
        let page = self
            .table
            .query(&Query::partition(partition).prefix(prefix).descending().limit(limit).after(cursor))
            .await?;
        listing(page)
    }

    /// The backup records of `[from, to)`, oldest first.
    pub async fn between(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<BackupRecord>, StoreError> {
        let (partition, prefix) = keys::backups_of(tenant, instance);
        let range = SortKeyRange::Between {
            from: format!("{prefix}{}", keys::sortable_time(from)),
            // Every key of the last millisecond before `to`, whatever its hash suffix.
            to: format!("{prefix}{}#~", keys::sortable_time(to - chrono::Duration::milliseconds(1))),
        };
        let mut records = Vec::new();
        let mut cursor = None;
        loop {
            let page =
                self.table.query(&Query::partition(partition.clone()).range(range.clone()).after(cursor)).await?;
            let listed: Listing<BackupRecord> = listing(page)?;
            records.extend(listed.items);
            cursor = listed.next;
            if cursor.is_none() {
                return Ok(records);
            }
        }
    }
}
