use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, from_item, keys, to_attrs};
use crate::domain::{Tenant, TenantId};
use crate::table::{Condition, Index, Item, Query, Table, TableError, TransactWrite};

#[derive(Serialize, Deserialize)]
struct TokenRecord {
    tenant_id: TenantId,
}

/// What the ledger keeps of a deleted tenant (and nothing else).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionLedger {
    pub tenant_id: TenantId,
    pub requested_at: DateTime<Utc>,
    /// The support person who asked.
    pub requested_by: String,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// When the last item and blob were deleted.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Tenant deletions: confirmation tokens (by hash), the ledger, the pending index.
#[derive(Debug, Clone)]
pub struct Deletions {
    table: Arc<dyn Table>,
}

impl Deletions {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Records a request: the token's hash (expiring), the ledger entry, the tenant's new state.
    pub async fn requested(
        &self,
        token_hash: &str,
        expires: DateTime<Utc>,
        ledger: &DeletionLedger,
        tenant: &Tenant,
    ) -> Result<(), StoreError> {
        let token = TokenRecord { tenant_id: ledger.tenant_id.clone() };
        let writes = vec![
            TransactWrite::Put {
                item: Item::new(keys::deletion_token_across_tenants(token_hash), to_attrs(&token)?)
                    .expiring_at(expires),
                condition: Some(Condition::NotExists),
            },
            TransactWrite::Put {
                item: Item::new(keys::deletion_ledger_across_tenants(&ledger.tenant_id), to_attrs(ledger)?),
                condition: None,
            },
            TransactWrite::Put { item: Item::new(keys::tenant(&tenant.id), to_attrs(tenant)?), condition: None },
        ];
        Ok(self.table.transact(writes).await?)
    }

    /// The tenant a live token (by hash) would delete.
    pub async fn token_tenant(&self, token_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let found = self.table.get(&keys::deletion_token_across_tenants(token_hash)).await?;
        Ok(found.map(from_item::<TokenRecord>).transpose()?.map(|t| t.tenant_id))
    }

    /// Uses the token up and locks the tenant (`locked`), marking the deletion pending, all at
    /// once; false if the token was used meanwhile or has expired.
    pub async fn confirmed(
        &self,
        token_hash: &str,
        locked: &Tenant,
        ledger: &DeletionLedger,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let writes = vec![
            TransactWrite::Delete {
                key: keys::deletion_token_across_tenants(token_hash),
                condition: Some(Condition::Exists),
            },
            TransactWrite::Put { item: Item::new(keys::tenant(&locked.id), to_attrs(locked)?), condition: None },
            TransactWrite::Put {
                item: Item::new(keys::deletion_ledger_across_tenants(&ledger.tenant_id), to_attrs(ledger)?)
                    .with_index_key(keys::deletion_pending_across_tenants(&ledger.tenant_id, at)),
                condition: None,
            },
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(true),
            Err(TableError::TransactionCancelled { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn ledger(&self, tenant: &TenantId) -> Result<Option<DeletionLedger>, StoreError> {
        self.table.get(&keys::deletion_ledger_across_tenants(tenant)).await?.map(from_item).transpose()
    }

    /// Confirmed deletions not carried out yet, oldest first.
    pub async fn pending(&self, limit: u32) -> Result<Vec<DeletionLedger>, StoreError> {
        let query = Query::partition(keys::DELETIONS_PENDING).index(Index::Gsi1).limit(limit);
        self.table.query(&query).await?.items.into_iter().map(from_item).collect()
    }

    /// Marks the deletion done (out of the pending index), once.
    pub async fn finished(&self, tenant: &TenantId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let Some(mut ledger) = self.ledger(tenant).await? else { return Ok(()) };
        ledger.deleted_at = ledger.deleted_at.or(Some(at));
        let item = Item::new(keys::deletion_ledger_across_tenants(tenant), to_attrs(&ledger)?);
        Ok(self.table.put(item, None).await?)
    }
}
