//! The events port: publishing domain events ("PollBatch", "InstancePolled", ...) to whoever
//! handles them.
//!
//! Two adapters keep one contract (tests/integration/events_contract.rs): [`EventBridgePublisher`]
//! (PutEvents on an EventBridge bus, whose rules invoke the Lambda handlers) and [`InProcessBus`]
//! (the local stack: calls the same [`EventHandler`]s on tokio tasks). Both refuse, before sending
//! anything, what EventBridge would refuse or silently ignore: an entry over 256 KiB or a detail
//! that is not a JSON object. Delivery is at least once, in no particular order, so handlers must be
//! idempotent.

mod eventbridge;
mod in_process;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::ValueError;

pub use eventbridge::EventBridgePublisher;
pub use in_process::{DeadLetter, InProcessBus};

/// The `source` of every event Sikurd publishes; EventBridge rules match on it.
pub const SOURCE: &str = "sikurd";

/// EventBridge's PutEvents limits, enforced by both adapters.
pub mod limits {
    /// Entries in one PutEvents call.
    pub const ENTRIES_PER_CALL: usize = 10;
    /// One entry, counted as EventBridge counts it: source + detail-type + detail, in UTF-8 bytes.
    pub const ENTRY_BYTES: usize = 256 * 1024;
    /// All entries of one PutEvents call together.
    pub const CALL_BYTES: usize = 256 * 1024;
}

/// What kind of event this is; EventBridge's `detail-type`, and what handlers subscribe to.
/// 1 to 128 characters, none of them control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DetailType(Cow<'static, str>);

impl DetailType {
    pub const MAX_CHARS: usize = 128;

    /// A batch of instances for the poller to poll.
    pub const POLL_BATCH: Self = Self(Cow::Borrowed("PollBatch"));

    /// One instance was polled and its new state stored; the alert evaluator reacts to it.
    pub const INSTANCE_POLLED: Self = Self(Cow::Borrowed("InstancePolled"));

    /// An active instance has no recorded poll for several slots while the scheduler ran: the
    /// polling pipeline is failing for it (the `no_data` alert).
    pub const INSTANCE_NOT_POLLED: Self = Self(Cow::Borrowed("InstanceNotPolled"));

    /// A tenant's owner confirmed its deletion (`{"tenant_id"}`): carry out the confirmed
    /// deletions now (the `tenant-delete` function's purge).
    pub const TENANT_DELETION_CONFIRMED: Self = Self(Cow::Borrowed("TenantDeletionConfirmed"));

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.is_empty() {
            return Err(ValueError::new("detail type", "must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ValueError::new("detail type", format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        if raw.chars().any(char::is_control) {
            return Err(ValueError::new("detail type", "must not contain control characters"));
        }
        Ok(Self(Cow::Owned(raw.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for DetailType {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<DetailType> for String {
    fn from(d: DetailType) -> String {
        d.0.into_owned()
    }
}

/// One event. Serializes as the `detail-type` and `detail` fields of an EventBridge event, so the
/// envelope a Lambda function (or an SQS target) receives deserializes into it directly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "detail-type")]
    pub detail_type: DetailType,
    /// Must be a JSON object to be published.
    pub detail: serde_json::Value,
}

impl Event {
    pub fn new(detail_type: DetailType, detail: serde_json::Value) -> Self {
        Self { detail_type, detail }
    }

    /// An event whose detail is `payload` serialized; `payload` must serialize to a JSON object to be
    /// published.
    pub fn from_payload<T: Serialize + ?Sized>(
        detail_type: DetailType,
        payload: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self { detail_type, detail: serde_json::to_value(payload)? })
    }

    /// The detail, deserialized.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.detail)
    }
}

/// An event that was not published, with EventBridge's last answer for it.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedEvent {
    /// Its position in the list given to [`EventPublisher::publish`].
    pub index: usize,
    pub event: Event,
    /// EventBridge's error code, e.g. `ThrottlingException` or `InternalFailure`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event at `index` is over [`limits::ENTRY_BYTES`]; nothing was published.
    #[error("event {index} is {bytes} bytes, over the 256 KiB limit")]
    TooLarge { index: usize, bytes: usize },
    /// The event at `index` has a detail that is not a JSON object; nothing was published.
    #[error("event {index}'s detail is not a JSON object")]
    DetailNotObject { index: usize },
    /// These events were still refused after the retries; every other event was published.
    #[error("{} events were not published", .failed.len())]
    Failed { failed: Vec<FailedEvent> },
    /// The bus could not be reached. Events may have been published before the failure;
    /// publishing them again may deliver them twice.
    #[error("the event bus is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Publishes events.
#[async_trait]
pub trait EventPublisher: Send + Sync + fmt::Debug {
    /// Publishes every event, or says which were not published. Checks every event against the
    /// limits first and publishes nothing if one breaks them. Publishing no events does nothing.
    async fn publish(&self, events: Vec<Event>) -> Result<(), PublishError>;
}

/// Reacts to events of the detail types it is subscribed to. Called at least once per event
/// (again after a failure), so it must be idempotent.
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// An error makes the bus retry the event, then dead-letter it.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;

    /// Names the handler in logs and dead letters.
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// Why a handler failed.
pub struct HandlerError(Box<dyn std::error::Error + Send + Sync>);

impl HandlerError {
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for HandlerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for HandlerError {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Self(error)
    }
}

impl From<String> for HandlerError {
    fn from(message: String) -> Self {
        Self(message.into())
    }
}

impl From<&str> for HandlerError {
    fn from(message: &str) -> Self {
        Self(message.into())
    }
}

/// A handler made of an async closure that receives its own copy of each event.
pub fn handler_fn<F, Fut>(f: F) -> Arc<dyn EventHandler>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(FnHandler(f))
}

struct FnHandler<F>(F);

#[async_trait]
impl<F, Fut> EventHandler for FnHandler<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        (self.0)(event.clone()).await
    }

    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }
}

/// How often, and how patiently, a failed delivery is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included; 0 counts as 1.
    pub max_attempts: u32,
    /// The wait after the first failure; each further wait doubles.
    pub first_backoff: Duration,
}

impl RetryPolicy {
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }

    /// The wait after `failed_attempts` failures (1 or more).
    pub(crate) fn backoff(&self, failed_attempts: u32) -> Duration {
        let doublings = failed_attempts.saturating_sub(1).min(16);
        self.first_backoff.saturating_mul(1 << doublings)
    }
}

/// An event checked against the limits, with its detail serialized as EventBridge receives it.
pub(crate) struct Checked {
    pub(crate) detail: String,
    pub(crate) bytes: usize,
}

/// Checks every event against the limits.
pub(crate) fn check_events(events: &[Event]) -> Result<Vec<Checked>, PublishError> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            if !event.detail.is_object() {
                return Err(PublishError::DetailNotObject { index });
            }
            let detail = event.detail.to_string();
            let bytes = SOURCE.len() + event.detail_type.as_str().len() + detail.len();
            if bytes > limits::ENTRY_BYTES {
                return Err(PublishError::TooLarge { index, bytes });
            }
            Ok(Checked { detail, bytes })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn detail_types_are_one_to_128_characters_without_control_characters() {
        assert!(DetailType::parse("").is_err());
        assert!(DetailType::parse(&"é".repeat(128)).is_ok());
        assert!(DetailType::parse(&"x".repeat(129)).is_err());
        assert!(DetailType::parse("Poll\nBatch").is_err());
        assert_eq!(DetailType::parse("PollBatch").ok(), Some(DetailType::POLL_BATCH));
        assert_eq!(DetailType::INSTANCE_POLLED.as_str(), "InstancePolled");
    }

    #[test]
    fn events_read_the_fields_of_an_eventbridge_envelope() {
        let envelope = json!({
            "version": "0", "id": "1", "source": "sikurd", "detail-type": "PollBatch",
            "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {"instances": ["a", "b"]}
        });
        let event: Event = serde_json::from_value(envelope).unwrap();
        assert_eq!(event, Event::new(DetailType::POLL_BATCH, json!({"instances": ["a", "b"]})));

        let bad = json!({"detail-type": "", "detail": {}});
        assert!(serde_json::from_value::<Event>(bad).is_err());
    }

    #[test]
    fn payloads_round_trip_through_the_detail() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Batch {
            instances: Vec<String>,
        }
        let batch = Batch { instances: vec!["a".into()] };
        let event = Event::from_payload(DetailType::POLL_BATCH, &batch).unwrap();
        assert_eq!(event.payload::<Batch>().unwrap(), batch);
    }

    #[test]
    fn entries_are_measured_as_eventbridge_measures_them() {
        let room = limits::ENTRY_BYTES - SOURCE.len() - "PollBatch".len() - r#"{"p":""}"#.len();
        let fits = Event::new(DetailType::POLL_BATCH, json!({"p": "x".repeat(room)}));
        let over = Event::new(DetailType::POLL_BATCH, json!({"p": "x".repeat(room + 1)}));
        let checked = check_events(std::slice::from_ref(&fits)).unwrap();
        assert_eq!(checked[0].bytes, limits::ENTRY_BYTES);
        assert!(matches!(
            check_events(&[fits, over]),
            Err(PublishError::TooLarge { index: 1, bytes }) if bytes == limits::ENTRY_BYTES + 1
        ));
    }

    #[test]
    fn details_must_be_json_objects() {
        let events = [Event::new(DetailType::POLL_BATCH, json!({})), Event::new(DetailType::POLL_BATCH, json!([1]))];
        assert!(matches!(check_events(&events), Err(PublishError::DetailNotObject { index: 1 })));
    }

    #[test]
    fn backoff_doubles_from_the_first_wait() {
        let policy = RetryPolicy { max_attempts: 4, first_backoff: Duration::from_millis(50) };
        assert_eq!(policy.backoff(1), Duration::from_millis(50));
        assert_eq!(policy.backoff(3), Duration::from_millis(200));
        assert_eq!(RetryPolicy { max_attempts: 0, ..policy }.attempts(), 1);
    }
}
