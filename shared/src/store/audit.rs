use std::sync::Arc;

use super::{Listing, StoreError, keys, listing, to_attrs};
use crate::domain::{AuditEntry, TenantId};
use crate::table::{Condition, Cursor, Item, Query, Table, TableError};

/// A tenant's audit log: append and read, nothing else.
#[derive(Debug, Clone)]
pub struct AuditLog {
    table: Arc<dyn Table>,
}

impl AuditLog {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Appends an entry; an entry is never overwritten.
    pub async fn append(&self, tenant: &TenantId, entry: &AuditEntry) -> Result<(), StoreError> {
        let item = Item::new(keys::audit(tenant, entry.at, &entry.id), to_attrs(entry)?);
        match self.table.put(item, Some(Condition::NotExists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("audit entry already exists")),
            other => Ok(other?),
        }
    }

    pub async fn newest_first(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Listing<AuditEntry>, StoreError> {
        let query = Query::partition(keys::audit_partition(tenant)).descending().limit(limit).after(cursor);
        let page = self.table.query(&query).await?;
        listing(page)
    }
}
