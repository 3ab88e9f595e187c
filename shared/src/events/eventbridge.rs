//! The EventBridge adapter (`aws-sdk-eventbridge`): PutEvents in calls of at most 10 entries and
//! 256 KiB; entries refused with a retryable error code are sent again with backoff.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::{
    Checked, DetailType, Event, EventPublisher, FailedEvent, PublishError, RetryPolicy, SOURCE, check_events, limits,
};

/// Error codes that will not change on a retry (PutEvents' documented non-retryable codes).
const PERMANENT_CODES: &[&str] = &[
    "AccessDeniedException",
    "InvalidAccountIdException",
    "InvalidArgument",
    "MalformedDetail",
    "RedactionFailure",
    "NotAuthorizedForSourceException",
    "NotAuthorizedForDetailTypeException",
];

/// Publishes to one EventBridge bus with the source [`SOURCE`].
///
/// Entries refused with a retryable code (throttling, internal failures, or a code not known to be
/// permanent) are sent again, by default up to 4 tries in all, 50 ms after the first failure and
/// doubling; what is still refused then, or refused with a permanent code, is returned in
/// [`PublishError::Failed`]. A failed call as a whole (after the SDK's own retries) is
/// [`PublishError::Unavailable`].
#[derive(Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
    retry: RetryPolicy,
}

impl fmt::Debug for EventBridgePublisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBridgePublisher")
            .field("bus_name", &self.bus_name)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl EventBridgePublisher {
    pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy { max_attempts: 4, first_backoff: Duration::from_millis(50) };

    /// `bus_name` is the bus's name or ARN.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into(), retry: Self::DEFAULT_RETRY }
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: Vec<Event>) -> Result<(), PublishError> {
        let sender = SdkSender { client: &self.client, bus_name: &self.bus_name };
        publish_with(&sender, self.retry, events).await
    }
}

/// One entry ready to send.
struct Entry<'a> {
    detail_type: &'a DetailType,
    checked: Checked,
}

/// EventBridge's answer for an entry it refused.
#[derive(Clone, Debug)]
struct Refusal {
    code: String,
    message: String,
}

type SendError = Box<dyn std::error::Error + Send + Sync>;

/// Sends one PutEvents call; answers for each entry, in order.
#[async_trait]
trait ChunkSender: Send + Sync {
    async fn send(&self, chunk: &[&Entry<'_>]) -> Result<Vec<Result<(), Refusal>>, SendError>;
}

struct SdkSender<'a> {
    client: &'a Client,
    bus_name: &'a str,
}

#[async_trait]
impl ChunkSender for SdkSender<'_> {
    async fn send(&self, chunk: &[&Entry<'_>]) -> Result<Vec<Result<(), Refusal>>, SendError> {
        let entries = chunk
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(e.detail_type.as_str())
                    .detail(e.checked.detail.as_str())
                    .event_bus_name(self.bus_name)
                    .build()
            })
            .collect();
        let out = self.client.put_events().set_entries(Some(entries)).send().await?;
        Ok(out
            .entries()
            .iter()
            .map(|r| match r.error_code() {
                Some(code) => {
                    Err(Refusal { code: code.to_owned(), message: r.error_message().unwrap_or_default().to_owned() })
                }
                None => Ok(()),
            })
            .collect())
    }
}

fn is_permanent(code: &str) -> bool {
    PERMANENT_CODES.contains(&code)
}

/// Splits the pending entries into calls of at most 10 entries and 256 KiB.
fn chunks<'e, 'a>(pending: &[(usize, &'e Entry<'a>)]) -> Vec<Vec<(usize, &'e Entry<'a>)>> {
    let mut calls: Vec<Vec<(usize, &Entry)>> = Vec::new();
    let mut current: Vec<(usize, &Entry)> = Vec::new();
    let mut bytes = 0;
    for &(index, entry) in pending {
        if !current.is_empty()
            && (current.len() == limits::ENTRIES_PER_CALL || bytes + entry.checked.bytes > limits::CALL_BYTES)
        {
            calls.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += entry.checked.bytes;
        current.push((index, entry));
    }
    if !current.is_empty() {
        calls.push(current);
    }
    calls
}

async fn publish_with(sender: &dyn ChunkSender, retry: RetryPolicy, events: Vec<Event>) -> Result<(), PublishError> {
    let checked = check_events(&events)?;
    let entries: Vec<Entry> =
        events.iter().zip(checked).map(|(event, checked)| Entry { detail_type: &event.detail_type, checked }).collect();

    let mut pending: Vec<(usize, &Entry)> = entries.iter().enumerate().collect();
    let mut refused: BTreeMap<usize, Refusal> = BTreeMap::new();
    let mut attempt = 1;
    while !pending.is_empty() {
        let mut again = Vec::new();
        for call in chunks(&pending) {
            let sent: Vec<&Entry> = call.iter().map(|&(_, e)| e).collect();
            let mut answers = sender.send(&sent).await.map_err(PublishError::Unavailable)?.into_iter();
            for (index, entry) in call {
                let refusal = match answers.next() {
                    Some(Ok(())) => continue,
                    Some(Err(refusal)) => refusal,
                    None => Refusal { code: "MissingResult".into(), message: "PutEvents returned no result".into() },
                };
                if attempt < retry.attempts() && !is_permanent(&refusal.code) {
                    tracing::debug!(
                        detail_type = %entry.detail_type, code = %refusal.code, attempt,
                        "EventBridge refused an event; retrying"
                    );
                    again.push((index, entry));
                } else {
                    refused.insert(index, refusal);
                }
            }
        }
        if !again.is_empty() {
            tokio::time::sleep(retry.backoff(attempt)).await;
            attempt += 1;
        }
        pending = again;
    }
    drop(entries);

    if refused.is_empty() {
        return Ok(());
    }
    let failed = events
        .into_iter()
        .enumerate()
        .filter_map(|(index, event)| {
            refused.remove(&index).map(|r| FailedEvent { index, event, code: r.code, message: r.message })
        })
        .collect();
    Err(PublishError::Failed { failed })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;

    /// Fails the entries whose detail `n` is planned to fail, a given number of times.
    #[derive(Default)]
    struct FakeSender {
        plan: Mutex<HashMap<u64, (u32, &'static str)>>,
        calls: Mutex<Vec<Vec<u64>>>,
        delivered: Mutex<Vec<u64>>,
        unreachable: bool,
    }

    impl FakeSender {
        fn failing(plan: impl IntoIterator<Item = (u64, u32, &'static str)>) -> Self {
            let plan = plan.into_iter().map(|(n, times, code)| (n, (times, code))).collect();
            Self { plan: Mutex::new(plan), ..Self::default() }
        }

        fn calls(&self) -> Vec<Vec<u64>> {
            self.calls.lock().unwrap().clone()
        }

        fn delivered(&self) -> Vec<u64> {
            let mut d = self.delivered.lock().unwrap().clone();
            d.sort_unstable();
            d
        }
    }

    fn number(entry: &Entry<'_>) -> u64 {
        serde_json::from_str::<serde_json::Value>(&entry.checked.detail).unwrap()["n"].as_u64().unwrap()
    }

    #[async_trait]
    impl ChunkSender for FakeSender {
        async fn send(&self, chunk: &[&Entry<'_>]) -> Result<Vec<Result<(), Refusal>>, SendError> {
            if self.unreachable {
                return Err("connection refused".into());
            }
            assert!(chunk.len() <= limits::ENTRIES_PER_CALL, "a call of {} entries", chunk.len());
            let bytes: usize = chunk.iter().map(|e| e.checked.bytes).sum();
            assert!(bytes <= limits::CALL_BYTES, "a call of {bytes} bytes");
            self.calls.lock().unwrap().push(chunk.iter().map(|e| number(e)).collect());
            let mut plan = self.plan.lock().unwrap();
            Ok(chunk
                .iter()
                .map(|e| {
                    let n = number(e);
                    match plan.get_mut(&n) {
                        Some((times, code)) if *times > 0 => {
                            *times -= 1;
                            Err(Refusal { code: (*code).to_owned(), message: format!("entry {n} refused") })
                        }
                        _ => {
                            self.delivered.lock().unwrap().push(n);
                            Ok(())
                        }
                    }
                })
                .collect())
        }
    }

    const FAST: RetryPolicy = RetryPolicy { max_attempts: 4, first_backoff: Duration::from_millis(1) };

    fn events(count: u64) -> Vec<Event> {
        (0..count).map(|n| Event::new(DetailType::POLL_BATCH, json!({ "n": n }))).collect()
    }

    #[tokio::test]
    async fn events_are_sent_at_most_ten_per_call() {
        let sender = FakeSender::default();
        publish_with(&sender, FAST, events(25)).await.unwrap();
        let sizes: Vec<usize> = sender.calls().iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        assert_eq!(sender.delivered(), (0..25).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn calls_stay_under_256_kib() {
        let sender = FakeSender::default();
        let big: Vec<Event> =
            (0..5).map(|n| Event::new(DetailType::POLL_BATCH, json!({ "n": n, "pad": "x".repeat(100_000) }))).collect();
        publish_with(&sender, FAST, big).await.unwrap();
        let sizes: Vec<usize> = sender.calls().iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[tokio::test]
    async fn refused_entries_are_retried_alone_until_they_succeed() {
        let sender = FakeSender::failing([(3, 2, "ThrottlingException"), (17, 1, "InternalFailure")]);
        publish_with(&sender, FAST, events(20)).await.unwrap();
        assert_eq!(sender.delivered(), (0..20).collect::<Vec<_>>());
        assert_eq!(sender.calls()[2..], [vec![3, 17], vec![3]]);
    }

    #[tokio::test]
    async fn entries_still_refused_after_the_last_attempt_are_reported_and_the_others_published() {
        let sender = FakeSender::failing([(4, u32::MAX, "ThrottlingException")]);
        let err = publish_with(&sender, FAST, events(12)).await.unwrap_err();
        let PublishError::Failed { failed } = err else { panic!("unexpected {err:?}") };
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].index, 4);
        assert_eq!(failed[0].event, events(12).remove(4));
        assert_eq!(failed[0].code, "ThrottlingException");
        assert_eq!(failed[0].message, "entry 4 refused");
        assert_eq!(sender.delivered(), (0..12).filter(|&n| n != 4).collect::<Vec<_>>());
        let tries = sender.calls().iter().filter(|c| c.contains(&4)).count();
        assert_eq!(tries, 4);
    }

    #[tokio::test]
    async fn entries_refused_with_a_permanent_code_are_not_retried() {
        let sender = FakeSender::failing([(1, u32::MAX, "InvalidArgument")]);
        let err = publish_with(&sender, FAST, events(3)).await.unwrap_err();
        let PublishError::Failed { failed } = err else { panic!("unexpected {err:?}") };
        assert_eq!(failed.iter().map(|f| (f.index, f.code.as_str())).collect::<Vec<_>>(), [(1, "InvalidArgument")]);
        assert_eq!(sender.calls().len(), 1);
    }

    #[tokio::test]
    async fn an_oversize_event_stops_the_whole_publish_before_any_call() {
        let sender = FakeSender::default();
        let mut all = events(15);
        all.push(Event::new(DetailType::POLL_BATCH, json!({ "pad": "x".repeat(limits::ENTRY_BYTES) })));
        let err = publish_with(&sender, FAST, all).await.unwrap_err();
        assert!(matches!(err, PublishError::TooLarge { index: 15, .. }), "{err:?}");
        assert!(sender.calls().is_empty());
    }

    #[tokio::test]
    async fn a_failed_call_is_unavailable() {
        let sender = FakeSender { unreachable: true, ..FakeSender::default() };
        let err = publish_with(&sender, FAST, events(1)).await.unwrap_err();
        assert!(matches!(err, PublishError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn publishing_nothing_makes_no_call() {
        let sender = FakeSender::default();
        publish_with(&sender, FAST, Vec::new()).await.unwrap();
        assert!(sender.calls().is_empty());
    }
}
