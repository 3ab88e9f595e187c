//! Repositories: every read and write of Sikurd's data, built once on the [`Table`] port.
//! Each method that touches tenant data takes the `&TenantId` first and builds its keys in
//! [`keys`]; there is no unscoped "get by id". The few methods that read across tenants say so
//! in their names.

mod alerts;
mod audit;
mod backups;
mod channels;
mod credentials;
mod deletions;
mod deliveries;
mod instances;
pub mod keys;
mod metrics;
mod poll_log;
mod rollups;
mod sessions;
mod tenants;
mod throttle;
mod users;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use alerts::{AlertFilter, AlertPage, Alerts, EvaluationInputs};
pub use audit::AuditLog;
pub use backups::Backups;
pub use channels::{Channel, ChannelKind, Channels, MAX_CHANNELS, OpenedTarget};
pub use credentials::Credentials;
pub use deletions::{DeletionLedger, Deletions};
pub use deliveries::{Deliveries, DeliveryRecord, DeliveryStatus};
pub use instances::Instances;
pub use metrics::{METRIC_RETENTION_DAYS, Metrics};
pub use poll_log::{PollLog, poll_token};
pub use rollups::Rollups;
pub use sessions::Sessions;
pub use tenants::Tenants;
pub use throttle::LoginThrottle;
pub use users::Users;

use crate::clock::Clock;
use crate::crypto::{CryptoError, Envelope};
use crate::domain::ValueError;
use crate::table::{Attributes, Cursor, Item, Query, Table, TableError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or concurrency condition failed (already exists, changed meanwhile).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Invalid(#[from] ValueError),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Table(#[from] TableError),
}

/// A refused change to alert settings: the route, window or override does not exist (not
/// found), or the change is invalid, a limit included.
impl From<crate::alerts::SettingsError> for StoreError {
    fn from(e: crate::alerts::SettingsError) -> Self {
        use crate::alerts::SettingsError;
        match e {
            SettingsError::NotFound { .. } => Self::NotFound,
            SettingsError::Invalid(e) => Self::Invalid(e),
            SettingsError::TooMany { what, max } => {
                Self::Invalid(ValueError::new(what, format!("a tenant may have at most {max}")))
            }
        }
    }
}

/// A page of records and the cursor to the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

pub(crate) fn to_attrs<T: Serialize>(value: &T) -> Result<Attributes, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))
}

/// A page of table items read as records.
pub(crate) fn listing<T: DeserializeOwned>(page: crate::table::Page) -> Result<Listing<T>, StoreError> {
    Ok(Listing { items: page.items.into_iter().map(from_item).collect::<Result<_, _>>()?, next: page.next })
}

/// Deletes every item of `partition` (expired ones too), `batch` keys at a time. Returns false
/// when it stopped at `deadline` with items left (call again to go on).
pub(crate) async fn delete_partition(
    table: &dyn Table,
    partition: String,
    batch: u32,
    deadline: std::time::Instant,
) -> Result<bool, StoreError> {
    loop {
        let page = table.query(&Query::partition(partition.clone()).limit(batch).including_expired()).await?;
        if page.items.is_empty() {
            return Ok(true);
        }
        table
            .batch_write(page.items.into_iter().map(|item| crate::table::BatchWrite::Delete(item.key)).collect())
            .await?;
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item.attrs)
        .map_err(|e| StoreError::Corrupt(format!("{}/{}: {e}", item.key.pk, item.key.sk)))
}

/// All repositories over one table.
#[derive(Debug, Clone)]
pub struct Store {
    pub tenants: Tenants,
    pub users: Users,
    pub sessions: Sessions,
    pub login_throttle: LoginThrottle,
    pub instances: Instances,
    pub credentials: Credentials,
    pub metrics: Metrics,
    pub backups: Backups,
    pub audit: AuditLog,
    pub alerts: Alerts,
    pub channels: Channels,
    pub deliveries: Deliveries,
    pub poll_log: PollLog,
    pub rollups: Rollups,
    pub deletions: Deletions,
}

impl Store {
    pub fn new(table: Arc<dyn Table>, envelope: Envelope, clock: Arc<dyn Clock>) -> Self {
        Self {
            tenants: Tenants::new(Arc::clone(&table)),
            users: Users::new(Arc::clone(&table)),
            sessions: Sessions::new(Arc::clone(&table)),
            login_throttle: LoginThrottle::new(Arc::clone(&table)),
            instances: Instances::new(Arc::clone(&table)),
            credentials: Credentials::new(Arc::clone(&table), envelope.clone()),
            channels: Channels::new(Arc::clone(&table), envelope),
            deliveries: Deliveries::new(Arc::clone(&table)),
            poll_log: PollLog::new(Arc::clone(&table), Arc::clone(&clock)),
            metrics: Metrics::new(Arc::clone(&table), Arc::clone(&clock)),
            backups: Backups::new(Arc::clone(&table)),
            rollups: Rollups::new(Arc::clone(&table)),
            deletions: Deletions::new(Arc::clone(&table)),
            audit: AuditLog::new(Arc::clone(&table)),
            alerts: Alerts::new(table),
        }
    }
}
