//! The Lambda functions: what each reads from its environment, and its handler built on the AWS
//! adapters. The binaries under `functions/` add only the Lambda runtime; `template.yaml` sets
//! every variable read here (a test holds them together).

pub mod alert_evaluator;
pub mod api;
pub mod export;
pub mod notifications;
pub mod poll_scheduler;
pub mod poller;
pub mod retention;
pub mod tenant_delete;

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::clock::Clock;
use crate::config::{ConfigError, Env};
use crate::crypto::{Envelope, KmsKeys};
use crate::events::{EventBridgePublisher, EventPublisher};
use crate::pbx::{ClientBuildError, PbxClient, PbxClientConfig, TargetPolicy};
use crate::polling::{Poller, Recorder};
use crate::store::Store;
use crate::table::{DynamoTable, Table};

/// A function of `template.yaml`: its name (of the package, the binary and the template's
/// `BuildProperties.Binary`) and a check of its configuration.
pub struct Function {
    pub name: &'static str,
    pub check_config: fn(&Env) -> Result<(), ConfigError>,
}

/// Every function with a package under `functions/`.
pub const FUNCTIONS: &[Function] = &[
    Function { name: "alert-evaluator", check_config: |env| alert_evaluator::Config::from_env(env).map(drop) },
    Function { name: "api", check_config: |env| api::Config::from_env(env).map(drop) },
    Function { name: "export", check_config: |env| export::Config::from_env(env).map(drop) },
    Function { name: "poll-scheduler", check_config: |env| poll_scheduler::Config::from_env(env).map(drop) },
    Function { name: "poller", check_config: |env| poller::Config::from_env(env).map(drop) },
    Function { name: "retention", check_config: |env| retention::Config::from_env(env).map(drop) },
    Function { name: "tenant-delete", check_config: |env| tenant_delete::Config::from_env(env).map(drop) },
];

/// An invocation's deadline (Lambda's milliseconds since the epoch) on the monotonic clock.
pub fn invocation_deadline(deadline_ms: u64) -> std::time::Instant {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let now_ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    std::time::Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// `SIKURD_TABLE_NAME`: the DynamoDB table.
fn table_name(env: &Env) -> Result<String, ConfigError> {
    env.required("SIKURD_TABLE_NAME")
}

/// `SIKURD_KMS_KEY_ID`: the KMS key that wraps the data keys of secrets.
fn kms_key_id(env: &Env) -> Result<String, ConfigError> {
    env.required("SIKURD_KMS_KEY_ID")
}

/// `SIKURD_EXPORT_BUCKET`: the S3 bucket of tenant exports.
fn export_bucket(env: &Env) -> Result<String, ConfigError> {
    env.required("SIKURD_EXPORT_BUCKET")
}

/// `SIKURD_EVENT_BUS_NAME`: the EventBridge bus of `PollBatch` and `InstancePolled` events.
fn event_bus_name(env: &Env) -> Result<String, ConfigError> {
    env.required("SIKURD_EVENT_BUS_NAME")
}

/// A target policy variable: `public` (the default: HTTPS to public addresses only) or `any`
/// (also private addresses and plain HTTP; for a deployment inside a private network, and tests).
fn target_policy(env: &Env, name: &'static str) -> Result<TargetPolicy, ConfigError> {
    match env.optional(name).as_deref() {
        None | Some("public") => Ok(TargetPolicy::PublicOnly),
        Some("any") => Ok(TargetPolicy::AllowPrivate),
        Some(other) => Err(ConfigError::Invalid { name, reason: format!("{other:?} is not `public` or `any`") }),
    }
}

/// `SIKURD_PBX_TARGETS`: which 3CX addresses may be polled ([`target_policy`]).
fn pbx_client_config(env: &Env) -> Result<PbxClientConfig, ConfigError> {
    Ok(PbxClientConfig { policy: target_policy(env, "SIKURD_PBX_TARGETS")?, ..PbxClientConfig::cloud() })
}

/// What a function that polls 3CX systems reads: `poller`, and `api` for "poll now".
#[derive(Clone, Debug)]
pub struct PollingConfig {
    table: String,
    kms_key: String,
    pub(crate) event_bus: String,
    pbx: PbxClientConfig,
}

impl PollingConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table: table_name(env)?,
            kms_key: kms_key_id(env)?,
            event_bus: event_bus_name(env)?,
            pbx: pbx_client_config(env)?,
        })
    }

    /// The store and a poller on it, polling at most `concurrency` 3CX systems at once.
    fn build(
        &self,
        sdk: &SdkConfig,
        clock: Arc<dyn Clock>,
        concurrency: usize,
    ) -> Result<(Store, Poller), ClientBuildError> {
        let store = store(sdk, &self.table, &self.kms_key, Arc::clone(&clock));
        let client = Arc::new(PbxClient::new(self.pbx.clone())?);
        let recorder = Recorder::new(store.clone(), clock);
        let poller = Poller::new(store.clone(), client, recorder, event_bus(sdk, &self.event_bus), concurrency);
        Ok((store, poller))
    }
}

fn dynamo_table(sdk: &SdkConfig, name: &str, clock: Arc<dyn Clock>) -> Arc<dyn Table> {
    Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(sdk), name, clock))
}

fn store(sdk: &SdkConfig, table: &str, kms_key: &str, clock: Arc<dyn Clock>) -> Store {
    let keys = KmsKeys::new(aws_sdk_kms::Client::new(sdk), kms_key);
    Store::new(dynamo_table(sdk, table, Arc::clone(&clock)), Envelope::new(Arc::new(keys)), clock)
}

/// The store of a function that holds no keys (it never seals or opens a secret), and its table.
fn keyless_store(sdk: &SdkConfig, table: &str, clock: Arc<dyn Clock>) -> (Store, Arc<dyn Table>) {
    let table = dynamo_table(sdk, table, Arc::clone(&clock));
    let envelope = Envelope::new(Arc::new(crate::crypto::NoKeys));
    (Store::new(Arc::clone(&table), envelope, clock), table)
}

/// The export bucket.
fn export_blobs(sdk: &SdkConfig, bucket: &str) -> Arc<crate::blobs::S3Blobs> {
    Arc::new(crate::blobs::S3Blobs::new(crate::aws::s3_client(sdk), bucket))
}

fn event_bus(sdk: &SdkConfig, name: &str) -> Arc<dyn EventPublisher> {
    Arc::new(EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(sdk), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named_and_a_bad_target_policy_refused() {
        for function in FUNCTIONS {
            let err = (function.check_config)(&Env::default()).err().map(|e| e.to_string()).unwrap_or_default();
            assert_eq!(err, "SIKURD_TABLE_NAME is not set", "{}", function.name);
        }
        let env = Env::from_pairs([("SIKURD_PBX_TARGETS", "everything")]);
        assert!(pbx_client_config(&env).is_err());
        let env = Env::from_pairs([("SIKURD_PBX_TARGETS", "any")]);
        assert_eq!(pbx_client_config(&env).map(|c| c.policy).ok(), Some(TargetPolicy::AllowPrivate));
        assert_eq!(pbx_client_config(&Env::default()).map(|c| c.policy).ok(), Some(TargetPolicy::PublicOnly));
    }
}
