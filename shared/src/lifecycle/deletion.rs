//! Tenant deletion: support asks, the account owner confirms through a single-use link sent to
//! the owner's e-mail address, the tenant is locked at once, and every item of it in the table
//! and every blob under its prefixes is hard-deleted. A ledger outside the tenant keeps only its
//! id, the timestamps and the support person, as proof.
//!
//! - The token is 256 random bits; only its SHA-256 is stored, for 72 hours; confirming deletes
//!   it (single use).
//! - Confirming locks the tenant (no session works, logins are refused), ends every session and
//!   takes its instances out of the polling index; the hard deletion follows, by
//!   [`TenantDeletion::purge_confirmed`] (the retention job, and the deletion function).
//! - The purge works partition by partition in bounded batches; the ledger's pending entry goes
//!   last, so a purge cut short is found and finished by the next run; running it again on a
//!   deleted tenant changes nothing.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::blobs::{BlobError, BlobPrefix, Blobs};
use crate::clock::Clock;
use crate::domain::{Actor, AuditEntry, AuditId, AuditOutcome, Email, Role, TenantId, TenantState};
use crate::notify::{Mailer, SendError};
use crate::store::{DeletionLedger, Store, StoreError, delete_partition, keys};
use crate::table::{BatchWrite, Index, Query, Table, TableError};

/// How long a confirmation link works.
pub const CONFIRM_WITHIN_HOURS: i64 = 72;
/// Keys deleted per round.
const BATCH: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("no tenant {0}")]
    NoSuchTenant(TenantId),
    #[error("the tenant has no owner to confirm its deletion")]
    NoOwner,
    #[error("the support person's name must be 1 to 100 characters")]
    InvalidRequester,
    /// Unknown, used or expired: the same answer for each.
    #[error("the confirmation link is not valid (used, expired or unknown)")]
    InvalidToken,
    #[error("the confirmation e-mail could not be sent: {0}")]
    Mail(#[from] SendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

impl From<TableError> for DeletionError {
    fn from(e: TableError) -> Self {
        Self::Store(e.into())
    }
}

/// A request sent to the owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletionRequested {
    pub tenant_id: TenantId,
    /// The owner's address the link went to.
    pub sent_to: String,
    pub link_expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub struct TenantDeletion {
    store: Store,
    table: Arc<dyn Table>,
    blobs: Arc<dyn Blobs>,
    clock: Arc<dyn Clock>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The blob prefixes that hold a tenant's objects.
pub fn blob_prefixes(tenant: &TenantId) -> Result<Vec<BlobPrefix>, BlobError> {
    Ok(vec![BlobPrefix::parse(format!("exports/{tenant}/"))?, BlobPrefix::parse(format!("tenants/{tenant}/"))?])
}

impl TenantDeletion {
    /// `table` is the store's table (deletion reaches every partition of the tenant).
    pub fn new(store: Store, table: Arc<dyn Table>, blobs: Arc<dyn Blobs>, clock: Arc<dyn Clock>) -> Self {
        Self { store, table, blobs, clock }
    }

    async fn audit(
        &self,
        tenant: &TenantId,
        actor: Actor,
        action: &str,
        outcome: AuditOutcome,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            id: AuditId::generate(),
            at: self.clock.now(),
            actor,
            action: action.into(),
            target: Some(tenant.to_string()),
            target_name: None,
            source_ip: None,
            outcome,
        };
        self.store.audit.append(tenant, &entry).await
    }

    /// Support asks: e-mails the owner a confirmation link (`{confirm_url}{token}`), valid 72 h.
    /// Asking again sends a new link; earlier ones keep working until they expire.
    pub async fn request(
        &self,
        tenant_id: &TenantId,
        requested_by: &str,
        mailer: &dyn Mailer,
        confirm_url: &str,
    ) -> Result<DeletionRequested, DeletionError> {
        let requested_by = requested_by.trim();
        if requested_by.is_empty() || requested_by.chars().count() > 100 {
            return Err(DeletionError::InvalidRequester);
        }
        let mut tenant =
            self.store.tenants.get(tenant_id).await?.ok_or_else(|| DeletionError::NoSuchTenant(tenant_id.clone()))?;
        if tenant.is_locked() {
            return Err(DeletionError::NoSuchTenant(tenant_id.clone()));
        }
        let owners: Vec<Email> = self
            .store
            .users
            .list(tenant_id, 200, None)
            .await?
            .items
            .into_iter()
            .filter(|u| u.role == Role::Owner)
            .map(|u| u.email)
            .collect();
        let owner = owners.first().cloned().ok_or(DeletionError::NoOwner)?;
        let now = self.clock.now();
        let expires = now + Duration::hours(CONFIRM_WITHIN_HOURS);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let ledger = DeletionLedger {
            tenant_id: tenant_id.clone(),
            requested_at: now,
            requested_by: requested_by.to_owned(),
            confirmed_at: None,
            deleted_at: None,
        };
        tenant.state = TenantState::DeletionRequested { requested_at: now };
        self.store.deletions.requested(&token_hash(&token), expires, &ledger, &tenant).await?;
        let text = format!(
            "Sikurd support ({requested_by}) was asked to delete the account \"{}\" and everything Sikurd holds on it: \
             its instances, their credentials, metrics, backup history, alerts, the audit log, users and settings.\n\n\
             If you want this, confirm here within {CONFIRM_WITHIN_HOURS} hours:\n\n{confirm_url}{token}\n\n\
             Confirming locks the account at once (every session ends, logins stop, polling stops); its data is deleted \
             for good within 7 days. If you did not ask for this, ignore this e-mail and tell support.",
            tenant.name
        );
        let sent =
            mailer.send(std::slice::from_ref(&owner), &format!("Confirm the deletion of {}", tenant.name), &text).await;
        let outcome = match &sent {
            Ok(()) => AuditOutcome::Succeeded,
            Err(e) => AuditOutcome::Failed { reason: e.to_string() },
        };
        self.audit(tenant_id, Actor::Support { name: requested_by.to_owned() }, "tenant.deletion_requested", outcome)
            .await?;
        sent?;
        Ok(DeletionRequested { tenant_id: tenant_id.clone(), sent_to: owner.to_string(), link_expires_at: expires })
    }

    /// The owner confirms with the token from the link: see [`confirm`].
    pub async fn confirm(&self, token: &str) -> Result<TenantId, DeletionError> {
        confirm(&self.store, self.clock.now(), token).await
    }

    /// Carries out every confirmed deletion, oldest first, until `deadline`. Returns how many it
    /// finished.
    pub async fn purge_confirmed(&self, deadline: Instant) -> Result<usize, DeletionError> {
        let mut done = 0;
        for ledger in self.store.deletions.pending(50).await? {
            if !self.purge(&ledger.tenant_id, deadline).await? {
                break;
            }
            done += 1;
        }
        Ok(done)
    }

    /// Whether no confirmed deletion is waiting.
    pub async fn pending_done(&self) -> Result<bool, DeletionError> {
        Ok(self.store.deletions.pending(1).await?.is_empty())
    }

    /// Deletes every item of a locked tenant and every blob under its prefixes, then marks the
    /// ledger done. False when it stopped at `deadline` (the next run goes on).
    pub async fn purge(&self, tenant_id: &TenantId, deadline: Instant) -> Result<bool, DeletionError> {
        let table = self.table.as_ref();
        // Instances first: the tenant partition lists them.
        for instance in self.store.instances.list_all(tenant_id).await? {
            if !self.store.instances.purge(&instance, BATCH, deadline).await? {
                return Ok(false);
            }
        }
        // Alerts: each alert's deliveries, then the alerts and their status entries.
        loop {
            let alerts =
                table.query(&Query::partition(keys::alerts_of(tenant_id)).limit(100).including_expired()).await?;
            if alerts.items.is_empty() {
                break;
            }
            for item in &alerts.items {
                let (partition, _) = keys::deliveries_of(
                    tenant_id,
                    &crate::domain::AlertId::parse(&item.key.sk).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
                if !delete_partition(table, partition, BATCH, deadline).await? {
                    return Ok(false);
                }
            }
            table.batch_write(alerts.items.into_iter().map(|i| BatchWrite::Delete(i.key)).collect()).await?;
            if Instant::now() >= deadline {
                return Ok(false);
            }
        }
        for partition in [
            keys::alerts_by_status(tenant_id, true),
            keys::alerts_by_status(tenant_id, false),
            keys::audit_partition(tenant_id),
        ] {
            if !delete_partition(table, partition, BATCH, deadline).await? {
                return Ok(false);
            }
        }
        // Users: their sessions and e-mail claims, before the tenant partition that lists them.
        loop {
            let users = self.store.users.list(tenant_id, 200, None).await?;
            if users.items.is_empty() {
                break;
            }
            for user in &users.items {
                // Every session of the user, expired ones too (DynamoDB keeps those a while).
                let sessions = Query::partition(keys::user_sessions(tenant_id, &user.id))
                    .index(Index::Gsi1)
                    .limit(BATCH)
                    .including_expired();
                loop {
                    let page = table.query(&sessions).await?;
                    if page.items.is_empty() {
                        break;
                    }
                    table.batch_write(page.items.into_iter().map(|i| BatchWrite::Delete(i.key)).collect()).await?;
                }
                table.delete(&keys::email_claim_across_tenants(&user.email), None).await?;
                table.delete(&keys::user(tenant_id, &user.id), None).await?;
            }
        }
        let tenant_partition = keys::tenant(tenant_id).pk;
        if !delete_partition(table, tenant_partition, BATCH, deadline).await? {
            return Ok(false);
        }
        for prefix in blob_prefixes(tenant_id)? {
            self.blobs.delete_prefix(&prefix).await?;
        }
        self.store.deletions.finished(tenant_id, self.clock.now()).await?;
        tracing::info!(tenant = %tenant_id, "tenant deleted");
        Ok(true)
    }

    /// The ledger entry of a tenant, deleted or on its way.
    pub async fn ledger(&self, tenant_id: &TenantId) -> Result<Option<DeletionLedger>, DeletionError> {
        Ok(self.store.deletions.ledger(tenant_id).await?)
    }
}

/// The owner confirms with the token from the link (the API's confirmation route): the token is
/// used up and the tenant locked in one transaction, then every session ends and its instances
/// leave the polling index. Returns the tenant. An unknown, used or expired token, and a tenant
/// already gone, are all [`DeletionError::InvalidToken`].
pub async fn confirm(store: &Store, now: DateTime<Utc>, token: &str) -> Result<TenantId, DeletionError> {
    if token.is_empty() || token.len() > 200 {
        return Err(DeletionError::InvalidToken);
    }
    let hash = token_hash(token);
    let tenant_id = store.deletions.token_tenant(&hash).await?.ok_or(DeletionError::InvalidToken)?;
    let mut tenant = store.tenants.get(&tenant_id).await?.ok_or(DeletionError::InvalidToken)?;
    let mut ledger = store.deletions.ledger(&tenant_id).await?.ok_or(DeletionError::InvalidToken)?;
    ledger.confirmed_at = Some(now);
    tenant.state = TenantState::Locked { confirmed_at: now };
    if !store.deletions.confirmed(&hash, &tenant, &ledger, now).await? {
        return Err(DeletionError::InvalidToken);
    }
    let mut cursor = None;
    loop {
        let page = store.users.list(&tenant_id, 200, cursor).await?;
        for user in &page.items {
            store.sessions.revoke_all_of_user(&tenant_id, &user.id).await?;
        }
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    for instance in store.instances.list_all(&tenant_id).await? {
        if instance.is_active() {
            store.instances.soft_delete(&tenant_id, &instance.id, now).await?;
        }
    }
    let entry = AuditEntry {
        id: AuditId::generate(),
        at: now,
        actor: Actor::System,
        action: "tenant.deletion_confirmed".into(),
        target: Some(tenant_id.to_string()),
        target_name: None,
        source_ip: None,
        outcome: AuditOutcome::Succeeded,
    };
    store.audit.append(&tenant_id, &entry).await?;
    Ok(tenant_id)
}
