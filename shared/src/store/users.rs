use std::sync::Arc;

use super::tenants::EmailClaim;
use super::{Listing, StoreError, from_item, keys, listing, to_attrs};
use crate::domain::{Role, TenantId, User, UserId};
use crate::table::{AttributeValue, Condition, Cursor, Item, Query, Table, TableError, TransactWrite};

/// A tenant's users, each with the claim on its e-mail address that makes the address unique
/// across tenants. Every write keeps user and claim in step, in one transaction.
#[derive(Debug, Clone)]
pub struct Users {
    table: Arc<dyn Table>,
}

fn claim_put(user: &User) -> Result<TransactWrite, StoreError> {
    let claim = EmailClaim { tenant_id: user.tenant_id.clone(), user_id: user.id.clone() };
    Ok(TransactWrite::Put {
        item: Item::new(keys::email_claim_across_tenants(&user.email), to_attrs(&claim)?),
        condition: Some(Condition::NotExists),
    })
}

/// The claim is this user's (not another's that took the address meanwhile).
fn claim_is_of(user: &User) -> Condition {
    Condition::AttrEquals { name: "user_id".into(), value: AttributeValue::S(user.id.to_string()) }
}

fn role_is(role: Role) -> Result<Condition, StoreError> {
    let value = to_attrs(&serde_json::json!({ "role": role }))?
        .remove("role")
        .ok_or_else(|| StoreError::Corrupt("role did not encode".into()))?;
    Ok(Condition::AttrEquals { name: "role".into(), value })
}

impl Users {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub async fn get(&self, tenant: &TenantId, user: &UserId) -> Result<Option<User>, StoreError> {
        self.table.get(&keys::user(tenant, user)).await?.map(from_item).transpose()
    }

    /// The tenant's users in id (creation) order.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Listing<User>, StoreError> {
        let (partition, prefix) = keys::users_of(tenant);
        let page = self.table.query(&Query::partition(partition).prefix(prefix).limit(limit).after(cursor)).await?;
        listing(page)
    }

    /// Adds a user to an existing tenant and claims its e-mail address; a conflict (and no
    /// write) if the address is in use in any tenant.
    pub async fn create(&self, tenant: &TenantId, user: &User) -> Result<(), StoreError> {
        if &user.tenant_id != tenant {
            return Err(StoreError::Conflict("user belongs to another tenant"));
        }
        let writes = vec![
            TransactWrite::Check { key: keys::tenant(tenant), condition: Condition::Exists },
            TransactWrite::Put {
                item: Item::new(keys::user(tenant, &user.id), to_attrs(user)?),
                condition: Some(Condition::NotExists),
            },
            claim_put(user)?,
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { failed }) if failed.contains(&2) => {
                Err(StoreError::Conflict("email address already in use"))
            }
            Err(TableError::TransactionCancelled { failed }) if failed.contains(&0) => Err(StoreError::NotFound),
            Err(TableError::TransactionCancelled { .. }) => Err(StoreError::Conflict("user already exists")),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces a user (name, role, password hash, e-mail address). A new address moves the
    /// claim, all or nothing: a conflict if the address is taken, not found if the user is gone.
    pub async fn update(&self, tenant: &TenantId, previous: &User, next: &User) -> Result<(), StoreError> {
        if &next.tenant_id != tenant || &previous.tenant_id != tenant || previous.id != next.id {
            return Err(StoreError::Conflict("user belongs to another tenant"));
        }
        let mut writes = vec![TransactWrite::Put {
            item: Item::new(keys::user(tenant, &next.id), to_attrs(next)?),
            condition: Some(Condition::Exists),
        }];
        if previous.email != next.email {
            writes.push(claim_put(next)?);
            writes.push(TransactWrite::Delete {
                key: keys::email_claim_across_tenants(&previous.email),
                condition: Some(claim_is_of(previous)),
            });
        }
        match self.table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { failed }) if failed.contains(&0) => Err(StoreError::NotFound),
            Err(TableError::TransactionCancelled { failed }) if failed.contains(&1) => {
                Err(StoreError::Conflict("email address already in use"))
            }
            Err(TableError::TransactionCancelled { .. }) => Err(StoreError::Conflict("user changed meanwhile")),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a user and frees its e-mail address, together. Not found if already gone.
    pub async fn delete(&self, tenant: &TenantId, user: &User) -> Result<(), StoreError> {
        if &user.tenant_id != tenant {
            return Err(StoreError::NotFound);
        }
        let writes = vec![
            TransactWrite::Delete { key: keys::user(tenant, &user.id), condition: Some(Condition::Exists) },
            TransactWrite::Delete {
                key: keys::email_claim_across_tenants(&user.email),
                condition: Some(claim_is_of(user)),
            },
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { .. }) => Err(StoreError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes `to` the owner and `from` (the current owner) an admin, together; a conflict if
    /// either changed role meanwhile.
    pub async fn transfer_ownership(&self, tenant: &TenantId, from: &User, to: &User) -> Result<(), StoreError> {
        if &from.tenant_id != tenant || &to.tenant_id != tenant || from.role != Role::Owner || from.id == to.id {
            return Err(StoreError::Conflict("not a transfer between two users of the tenant"));
        }
        let new_owner = User { role: Role::Owner, ..to.clone() };
        let old_owner = User { role: Role::Admin, ..from.clone() };
        let writes = vec![
            TransactWrite::Put {
                item: Item::new(keys::user(tenant, &new_owner.id), to_attrs(&new_owner)?),
                condition: Some(role_is(to.role)?),
            },
            TransactWrite::Put {
                item: Item::new(keys::user(tenant, &old_owner.id), to_attrs(&old_owner)?),
                condition: Some(role_is(Role::Owner)?),
            },
        ];
        match self.table.transact(writes).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { .. }) => Err(StoreError::Conflict("a role changed meanwhile")),
            Err(e) => Err(e.into()),
        }
    }
}
