use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

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
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    pub days_rolled_up: usize,
    pub instances_purged: usize,
    pub expired_items_deleted: usize,
    /// False when the run stopped at its deadline with work left for the next one.
    pub finished: bool,
}

impl Retention {
    /// `table` is the store's table (for the expired items).
    pub fn new(store: Store, table: Arc<dyn Table>) -> Self {
        Self { store, table }
    }

    /// One run at `now`, stopping at `deadline` (the Lambda's, less a margin).
    pub async fn run(&self, now: DateTime<Utc>, deadline: Instant) -> Result<RetentionReport, StoreError> {
        let mut report = RetentionReport {
            days_rolled_up: Reporter::new(self.store.clone()).roll_up_missing(now, ROLL_UP_DAYS).await?,
            ..RetentionReport::default()
        };
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
            let deleted = self.table.purge_expired(EXPIRED_BATCH).await?;
            report.expired_items_deleted += deleted;
            if deleted < EXPIRED_BATCH {
                break;
            }
        }
        report.finished = true;
        Ok(report)
    }
}
