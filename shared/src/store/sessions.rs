use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{StoreError, from_item, keys, to_attrs};
use crate::domain::{Session, SessionHash, TenantId, UserId};
use crate::table::{BatchWrite, Condition, Cursor, Index, Item, Query, Table, TableError};

/// Signed-in browsers, keyed by the SHA-256 of the session id, each listed under its user in
/// the secondary index so that all of a user's sessions can be revoked. The item's TTL is the
/// session's absolute end, so both adapters treat an ended session as absent.
#[derive(Debug, Clone)]
pub struct Sessions {
    table: Arc<dyn Table>,
}

fn item(hash: &SessionHash, session: &Session) -> Result<Item, StoreError> {
    Ok(Item::new(keys::session_across_tenants(hash), to_attrs(session)?)
        .with_index_key(keys::user_session_entry(&session.tenant_id, &session.user_id, hash))
        .expiring_at(session.ends_at))
}

impl Sessions {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    pub async fn create(&self, hash: &SessionHash, session: &Session) -> Result<(), StoreError> {
        match self.table.put(item(hash, session)?, Some(Condition::NotExists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("session already exists")),
            other => Ok(other?),
        }
    }

    /// The session with this hash, whichever tenant it belongs to (read before the tenant is
    /// known); `None` once it ended or was revoked.
    pub async fn get_across_tenants(&self, hash: &SessionHash) -> Result<Option<Session>, StoreError> {
        self.table.get(&keys::session_across_tenants(hash)).await?.map(from_item).transpose()
    }

    /// Records activity; writes nothing if the session was revoked meanwhile.
    pub async fn touch(&self, hash: &SessionHash, session: &Session, now: DateTime<Utc>) -> Result<(), StoreError> {
        let touched = Session { last_seen_at: now, ..session.clone() };
        match self.table.put(item(hash, &touched)?, Some(Condition::Exists)).await {
            Err(TableError::ConditionFailed) => Ok(()),
            other => Ok(other?),
        }
    }

    /// Ends one session; ending an ended session is not an error.
    pub async fn revoke(&self, hash: &SessionHash) -> Result<(), StoreError> {
        Ok(self.table.delete(&keys::session_across_tenants(hash), None).await?)
    }

    /// Ends every session of a user; returns how many there were.
    pub async fn revoke_all_of_user(&self, tenant: &TenantId, user: &UserId) -> Result<usize, StoreError> {
        let mut keys_to_delete = Vec::new();
        let mut cursor: Option<Cursor> = None;
        loop {
            let query = Query::partition(keys::user_sessions(tenant, user)).index(Index::Gsi1).limit(100).after(cursor);
            let page = self.table.query(&query).await?;
            keys_to_delete.extend(page.items.into_iter().map(|i| i.key));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        let count = keys_to_delete.len();
        if count > 0 {
            self.table.batch_write(keys_to_delete.into_iter().map(BatchWrite::Delete).collect()).await?;
        }
        Ok(count)
    }
}
