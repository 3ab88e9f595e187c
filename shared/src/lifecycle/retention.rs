use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::blobs::{BlobPrefix, Blobs};
use crate::domain::RESTORE_WINDOW_DAYS;
use crate::reports::Reporter;
use crate::store::{Store, StoreError};
use crate::table::Table;

/// Instances read from the purge index at a time.
const PURGE_PAGE: u32 = 50;
/// Keys of an instance's partition deleted per round.
const PURGE_BATCH: u32 = 500;
/// Expired items deleted per call of the embedded table.
const EXPIRED_BATCH: usize = 1000;
/// Past days rolled up for reports in a run (a job stopped longer leaves those days to be read
/// from the metrics by the reports that need them).
pub const ROLL_UP_DAYS: u32 = 7;

/// The nightly job: rolls up yesterday for reports, purges the instances soft-deleted more
/// than 30 days ago (their alerts and audit entries stay, with the instance's name on them),
/// and deletes expired items where the table does not do it itself.
///
/// Every step works in bounded batches and leaves the store consistent between them: a run
/// stopped at its deadline (or by a crash) loses nothing, and the next run finishes the work.
/// A run with nothing to do writes nothing.
#[derive(Debug, Clone)]
pub struct Retention {
    store: Store,
    table: Arc<dyn Table>,
    /// Where exports are kept, when no lifecycle rule of the store expires them (the local
    /// blob directory; S3's bucket rule does it in the cloud).
    exports: Option<Arc<dyn Blobs>>,
    /// Carries out confirmed tenant deletions (the table and the blob store).
    deletions: Option<Arc<super::TenantDeletion>>,
}

/// How long an export archive is kept: a day more than its link works.
pub const EXPORT_KEPT_DAYS: i64 = 8;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
    #[error(transparent)]
    Deletion(#[from] super::DeletionError),
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub days_rolled_up: usize,
    pub instances_purged: usize,
    pub expired_items_deleted: usize,
    pub exports_deleted: usize,
    pub tenants_deleted: usize,
    /// False when the run stopped at its deadline with work left for the next one.
    pub finished: bool,
}

impl Retention {
    /// `table` is the store's table (for the expired items).
    pub fn new(store: Store, table: Arc<dyn Table>) -> Self {
        Self { store, table, exports: None, deletions: None }
    }

    /// Also carries out the tenant deletions that were confirmed (7 days at most after the
    /// confirmation, whatever happened to the immediate run).
    pub fn deleting_tenants(self, deletions: Arc<super::TenantDeletion>) -> Self {
        Self { deletions: Some(deletions), ..self }
    }

    /// Also deletes export archives older than [`EXPORT_KEPT_DAYS`] from `blobs`.
    pub fn expiring_exports_in(self, blobs: Arc<dyn Blobs>) -> Self {
        Self { exports: Some(blobs), ..self }
    }

    /// Deletes the archives under `exports/` made more than [`EXPORT_KEPT_DAYS`] ago (their
    /// name is the export id, a ULID of when it was made). Returns how many.
    async fn expire_exports(&self, blobs: &dyn Blobs, now: DateTime<Utc>) -> Result<usize, crate::blobs::BlobError> {
        let cutoff = now - Duration::days(EXPORT_KEPT_DAYS);
        let mut deleted = 0;
        for blob in blobs.list(&BlobPrefix::parse("exports/")?).await? {
            let made = blob
                .key
                .segments()
                .last()
                .and_then(|name| name.strip_prefix("exp_"))
                .and_then(|name| name.strip_suffix(".zip"))
                .and_then(|id| ulid::Ulid::from_string(id).ok())
                .and_then(|id| DateTime::<Utc>::from_timestamp_millis(i64::try_from(id.timestamp_ms()).ok()?));
            if made.is_some_and(|made| made < cutoff) {
                blobs.delete(&blob.key).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// One run at `now`, stopping at `deadline` (the Lambda's, less a margin).
    pub async fn run(&self, now: DateTime<Utc>, deadline: Instant) -> Result<RetentionReport, RetentionError> {
        let mut report = RetentionReport {
            days_rolled_up: Reporter::new(self.store.clone()).roll_up_missing(now, ROLL_UP_DAYS).await?,
            ..RetentionReport::default()
        };
        if let Some(deletions) = &self.deletions {
            report.tenants_deleted = deletions.purge_confirmed(deadline).await?;
            if !deletions.pending_done().await? {
                return Ok(report);
            }
        }
        let cutoff = now - Duration::days(RESTORE_WINDOW_DAYS);
        loop {
            let due = self.store.instances.deleted_before_across_tenants(cutoff, PURGE_PAGE).await?;
            if due.is_empty() {
                break;
            }
            for instance in &due {
                if !self.store.instances.purge(instance, PURGE_BATCH, deadline).await? {
                    return Ok(report);
                }
                tracing::info!(tenant = %instance.tenant_id, instance = %instance.id, "purged a deleted instance");
                report.instances_purged += 1;
            }
        }
        loop {
            if Instant::now() >= deadline {
                return Ok(report);
            }
            let deleted = self.table.purge_expired(EXPIRED_BATCH).await.map_err(StoreError::from)?;
            report.expired_items_deleted += deleted;
            if deleted < EXPIRED_BATCH {
                break;
            }
        }
        if let Some(blobs) = &self.exports {
            report.exports_deleted = self.expire_exports(blobs.as_ref(), now).await?;
        }
        report.finished = true;
        Ok(report)
    }
}
