//! `tenant-delete`: support's side of a tenant deletion (`lifecycle::TenantDeletion`), invoked
//! directly by the support role. `{"action": "request", "tenant_id", "requested_by"}` e-mails the
//! owner the confirmation link; `{"action": "purge"}` carries out the confirmed deletions now
//! (the nightly retention run does it too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::notifications::{MailConfig, public_url};
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Env};
use crate::domain::TenantId;
use crate::lifecycle::{DeletionError, DeletionRequested, TenantDeletion};
use crate::notify::Mailer;

/// Time kept back from the invocation's deadline to finish the batch in hand and answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Config {
    table: String,
    bucket: String,
    mail: MailConfig,
    /// Where the dashboard is: the confirmation link is `{public_url}/#/confirm-deletion/{token}`.
    public_url: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: super::table_name(env)?,
            bucket: super::export_bucket(env)?,
            mail: MailConfig::from_env(env)?,
            public_url: public_url(env).ok_or(ConfigError::Missing { name: "SIKURD_PUBLIC_URL" })?,
        })
    }
}

/// An invocation.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeleteRequest {
    Request { tenant_id: String, requested_by: String },
    Purge,
}

/// What an invocation did.
#[derive(Debug, Serialize)]
#[serde(tag = "done", rename_all = "snake_case")]
pub enum DeleteAnswer {
    Requested(DeletionRequested),
    Purged { tenants_deleted: usize, finished: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteRequestError {
    #[error("tenant_id {0:?} is not a tenant id (ten_…)")]
    BadTenantId(String),
    #[error(transparent)]
    Deletion(#[from] DeletionError),
}

pub struct Handler {
    deletion: TenantDeletion,
    mailer: Arc<dyn Mailer>,
    confirm_url: String,
}

impl Handler {
    pub fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (store, table) = super::keyless_store(sdk, &config.table, Arc::clone(&clock));
        let blobs = super::export_blobs(sdk, &config.bucket);
        Self {
            deletion: TenantDeletion::new(store, table, blobs, clock),
            mailer: config.mail.mailer(sdk),
            confirm_url: format!("{}/#/confirm-deletion/", config.public_url),
        }
    }

    pub async fn handle(&self, request: DeleteRequest, deadline: Instant) -> Result<DeleteAnswer, DeleteRequestError> {
        match request {
            DeleteRequest::Request { tenant_id, requested_by } => {
                let tenant = TenantId::parse(&tenant_id).map_err(|_| DeleteRequestError::BadTenantId(tenant_id))?;
                let sent =
                    self.deletion.request(&tenant, &requested_by, self.mailer.as_ref(), &self.confirm_url).await?;
                Ok(DeleteAnswer::Requested(sent))
            }
            DeleteRequest::Purge => {
                let stop = deadline.checked_sub(DEADLINE_MARGIN).unwrap_or_else(Instant::now);
                let tenants_deleted = self.deletion.purge_confirmed(stop).await?;
                let finished = self.deletion.pending_done().await?;
                Ok(DeleteAnswer::Purged { tenants_deleted, finished })
            }
        }
    }
}
