//! `retention`: the nightly data-lifecycle job (`lifecycle::Retention`, with confirmed tenant
//! deletions), within the invocation's deadline; what is left when it stops is done by the next
//! run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env};
use crate::lifecycle::{Retention, RetentionError, RetentionReport, TenantDeletion};

/// Time kept back from the invocation's deadline to finish the batch in hand and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Config {
    table: String,
    bucket: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { table: super::table_name(env)?, bucket: super::export_bucket(env)? })
    }
}

/// The job over the table. It holds no keys: it never opens a secret (deleting a sealed item
/// needs none), so the function has no KMS permission.
pub struct Handler {
    retention: Retention,
    clock: Arc<dyn Clock>,
}

impl Handler {
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (store, table) = super::keyless_store(sdk, &config.table, Arc::clone(&clock));
        let blobs = super::export_blobs(sdk, &config.bucket);
        let deletions = TenantDeletion::new(store.clone(), Arc::clone(&table), blobs, Arc::clone(&clock));
        Self { retention: Retention::new(store, table).deleting_tenants(Arc::new(deletions)), clock }
    }

    /// One run, stopping [`DEADLINE_MARGIN`] before `deadline`.
    pub async fn run(&self, deadline: Instant) -> Result<RetentionReport, RetentionError> {
        let stop = deadline.checked_sub(DEADLINE_MARGIN).unwrap_or_else(Instant::now);
        let report = self.retention.run(self.clock.now(), stop).await?;
        tracing::info!(?report, "retention run");
        Ok(report)
    }
}
