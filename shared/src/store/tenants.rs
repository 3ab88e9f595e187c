use std::sync::Arc;

use super::{StoreError, from_item, keys, to_attrs};
use crate::domain::Tenant;
use crate::domain::{Email, TenantId, User, UserId};
use crate::table::{Condition, Item, Table, TableError, TransactWrite};

/// Tenants and their users.
#[derive(Debug, Clone)]
pub struct Tenants {
    table: Arc<dyn Table>,
}

/// Who signs in with an e-mail address; stored under [`keys::email_claim_across_tenants`].
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct EmailClaim {
    pub(super) tenant_id: TenantId,
    pub(super) user_id: UserId,
}

impl Tenants {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// Creates a tenant with its first user, all or nothing: if the e-mail address is taken
    /// (in any tenant) nothing is written and the result is a conflict.
    pub async fn create_with_owner(&self, tenant: &Tenant, owner: &User) -> Result<(), StoreError> {
        if owner.tenant_id != tenant.id {
            return Err(StoreError::Conflict("owner belongs to another tenant"));
        }
        let claim = EmailClaim { tenant_id: tenant.id.clone(), user_id: owner.id.clone() };
        let writes = vec![
            TransactWrite::Put {
                item: Item::new(keys::tenant(&tenant.id), to_attrs(tenant)?),
                condition: Some(Condition::NotExists),
            },
            TransactWrite::Put {
                item: Item::new(keys::user(&tenant.id, &owner.id), to_attrs(owner)?),
                condition: Some(Condition::NotExists),
            },
            TransactWrite::Put {
                item: Item::new(keys::email_claim_across_tenants(&owner.email), to_attrs(&claim)?),
                condition: Some(Condition::NotExists),
            },
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { failed }) if failed.contains(&2) => {
                Err(StoreError::Conflict("email address already in use"))
            }
            Err(TableError::TransactionCancelled { .. }) => Err(StoreError::Conflict("tenant already exists")),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a tenant without users (local tools; sign-up goes through
    /// [`Self::create_with_owner`]).
    pub async fn create(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let item = Item::new(keys::tenant(&tenant.id), to_attrs(tenant)?);
        match self.table.put(item, Some(Condition::NotExists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("tenant already exists")),
            other => Ok(other?),
        }
    }

    pub async fn get(&self, tenant: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.table.get(&keys::tenant(tenant)).await?.map(from_item).transpose()
    }

    pub async fn user(&self, tenant: &TenantId, user: &UserId) -> Result<Option<User>, StoreError> {
        self.table.get(&keys::user(tenant, user)).await?.map(from_item).transpose()
    }

    /// The user who signs in with this address, whichever tenant they belong to (login only).
    pub async fn find_user_by_email_across_tenants(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let Some(item) = self.table.get(&keys::email_claim_across_tenants(email)).await? else {
            return Ok(None);
        };
        let claim: EmailClaim = from_item(item)?;
        self.user(&claim.tenant_id, &claim.user_id).await
    }
}
