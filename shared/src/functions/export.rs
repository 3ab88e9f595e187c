//! `export`: a support person's full export of one tenant (`lifecycle::Exporter`), invoked
//! directly (no event source; only the support role may invoke it).

use std::sync::Arc;

use serde::Deserialize;

use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env};
use crate::domain::TenantId;
use crate::lifecycle::{ExportError, Exported, Exporter};

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

/// The invocation: `{"tenant_id": "ten_…", "requested_by": "Ada Lovelace"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub tenant_id: String,
    /// The support person asking, by name (in the tenant's audit log and the manifest).
    pub requested_by: String,
}

/// Why an invocation was refused or failed; its message is the function's error.
#[derive(Debug, thiserror::Error)]
pub enum ExportRequestError {
    #[error("tenant_id {0:?} is not a tenant id (ten_…)")]
    BadTenantId(String),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// Exports one tenant per invocation. It holds no keys: secrets are never exported.
pub struct Handler {
    exporter: Exporter,
}

impl Handler {
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (store, _) = super::keyless_store(sdk, &config.table, Arc::clone(&clock));
        let blobs = super::export_blobs(sdk, &config.bucket);
        Self { exporter: Exporter::new(store, blobs, clock) }
    }

    pub async fn export(&self, request: &ExportRequest) -> Result<Exported, ExportRequestError> {
        let tenant = TenantId::parse(&request.tenant_id)
            .map_err(|_| ExportRequestError::BadTenantId(request.tenant_id.clone()))?;
        let exported = self.exporter.export(&tenant, &request.requested_by).await?;
        tracing::info!(tenant = %tenant, export = %exported.export_id, bytes = exported.size_bytes, "tenant exported");
        Ok(exported)
    }
}
