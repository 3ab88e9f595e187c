//! The in-process bus: delivers each event to the handlers subscribed to its detail type, on tokio
//! tasks, with EventBridge's behaviour where it matters: the publisher does not wait for handlers,
//! a failing handler is retried and then dead-lettered, an event nobody subscribed to is dropped.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::{DetailType, Event, EventHandler, EventPublisher, HandlerError, PublishError, RetryPolicy, check_events};

/// A delivery that failed on every attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub event: Event,
    /// The handler's [`EventHandler::name`].
    pub handler: &'static str,
    pub attempts: u32,
    /// The last attempt's error.
    pub error: String,
}

/// An event bus inside the process; cloning it gives another handle to the same bus.
///
/// [`EventPublisher::publish`] checks the events as EventBridge would, then returns at once; each
/// (event, subscribed handler) pair is delivered on its own task. A failed delivery is retried, by
/// default up to 3 tries in all, 100 ms after the first failure and doubling; a handler that
/// panics counts as failed. A delivery that fails every try is logged and kept in
/// [`InProcessBus::dead_letters`]. Publishing needs a tokio runtime.
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

struct Inner {
    handlers: RwLock<HashMap<DetailType, Vec<Arc<dyn EventHandler>>>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    in_flight: watch::Sender<usize>,
    retry: RetryPolicy,
}

impl fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subscribed: Vec<String> =
            read(&self.inner.handlers).iter().map(|(t, hs)| format!("{t} ({})", hs.len())).collect();
        f.debug_struct("InProcessBus")
            .field("subscribed", &subscribed)
            .field("in_flight", &*self.inner.in_flight.borrow())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Default for InProcessBus {
    fn default() -> Self {
        Self::new()
    }
}

impl InProcessBus {
    pub const DEFAULT_RETRY: RetryPolicy = RetryPolicy { max_attempts: 3, first_backoff: Duration::from_millis(100) };

    pub fn new() -> Self {
        Self::with_retry_policy(Self::DEFAULT_RETRY)
    }

    pub fn with_retry_policy(retry: RetryPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                handlers: RwLock::new(HashMap::new()),
                dead_letters: Mutex::new(Vec::new()),
                in_flight: watch::Sender::new(0),
                retry,
            }),
        }
    }

    /// From now on, events of `detail_type` are delivered to `handler` too (once per subscription).
    pub fn subscribe(&self, detail_type: DetailType, handler: Arc<dyn EventHandler>) {
        write(&self.inner.handlers).entry(detail_type).or_default().push(handler);
    }

    /// Returns once no delivery is under way, counting deliveries of events that handlers publish
    /// while it waits.
    pub async fn idle(&self) {
        let mut rx = self.inner.in_flight.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Every delivery that failed on all its attempts, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        lock(&self.inner.dead_letters).clone()
    }
}

#[async_trait]
impl EventPublisher for InProcessBus {
    async fn publish(&self, events: Vec<Event>) -> Result<(), PublishError> {
        check_events(&events)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| PublishError::Unavailable(Box::new(e)))?;
        for event in events {
            let handlers = read(&self.inner.handlers).get(&event.detail_type).cloned().unwrap_or_default();
            if handlers.is_empty() {
                tracing::debug!(detail_type = %event.detail_type, "no handler subscribed; event dropped");
                continue;
            }
            let event = Arc::new(event);
            for handler in handlers {
                let delivery = InFlight::start(&self.inner);
                runtime.spawn(deliver(delivery, Arc::clone(&event), handler));
            }
        }
        Ok(())
    }
}

/// Counts one delivery as under way until dropped, even if its task panics or is cancelled.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn start(inner: &Arc<Inner>) -> Self {
        inner.in_flight.send_modify(|n| *n += 1);
        Self(Arc::clone(inner))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn deliver(delivery: InFlight, event: Arc<Event>, handler: Arc<dyn EventHandler>) {
    let inner = &delivery.0;
    let mut attempt = 1;
    loop {
        let error = match attempt_once(&event, &handler).await {
            Ok(()) => return,
            Err(e) => e,
        };
        if attempt < inner.retry.attempts() {
            tracing::debug!(
                detail_type = %event.detail_type, handler = handler.name(), attempt, error = %error,
                "event handler failed; retrying"
            );
            tokio::time::sleep(inner.retry.backoff(attempt)).await;
            attempt += 1;
            continue;
        }
        tracing::warn!(
            detail_type = %event.detail_type, handler = handler.name(), attempts = attempt, error = %error,
            "event handler failed on every attempt; event dead-lettered"
        );
        lock(&inner.dead_letters).push(DeadLetter {
            event: Event::clone(&event),
            handler: handler.name(),
            attempts: attempt,
            error: error.to_string(),
        });
        return;
    }
}

/// Runs the handler on its own task, so a panic is a failed attempt rather than a lost delivery.
async fn attempt_once(event: &Arc<Event>, handler: &Arc<dyn EventHandler>) -> Result<(), HandlerError> {
    let (event, handler) = (Arc::clone(event), Arc::clone(handler));
    match tokio::spawn(async move { handler.handle(&event).await }).await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => Err("the handler panicked".into()),
        Err(_) => Err("the handler's task was cancelled".into()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use serde_json::json;

    use super::*;
    use crate::events::handler_fn;

    const FAST: RetryPolicy = RetryPolicy { max_attempts: 3, first_backoff: Duration::from_millis(1) };

    fn event(n: u64) -> Event {
        Event::new(DetailType::POLL_BATCH, json!({ "n": n }))
    }

    fn recorder() -> (Arc<Mutex<Vec<Event>>>, Arc<dyn EventHandler>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        let handler = handler_fn(move |e| {
            let s = Arc::clone(&s);
            async move {
                s.lock().unwrap().push(e);
                Ok(())
            }
        });
        (seen, handler)
    }

    #[tokio::test]
    async fn idle_waits_for_events_that_handlers_publish() {
        let bus = InProcessBus::with_retry_policy(FAST);
        let (seen, rec) = recorder();
        let b = bus.clone();
        bus.subscribe(
            DetailType::POLL_BATCH,
            handler_fn(move |e| {
                let b = b.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let polled = Event::new(DetailType::INSTANCE_POLLED, e.detail);
                    b.publish(vec![polled]).await.map_err(HandlerError::new)
                }
            }),
        );
        bus.subscribe(DetailType::INSTANCE_POLLED, rec);
        bus.publish(vec![event(1), event(2)]).await.unwrap();
        bus.idle().await;
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert!(bus.dead_letters().is_empty());
    }

    #[tokio::test]
    async fn a_handler_that_fails_then_succeeds_is_not_dead_lettered() {
        let bus = InProcessBus::with_retry_policy(FAST);
        let calls = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&calls);
        bus.subscribe(
            DetailType::POLL_BATCH,
            handler_fn(move |_| {
                let c = Arc::clone(&c);
                async move { if c.fetch_add(1, Ordering::SeqCst) < 2 { Err("not yet".into()) } else { Ok(()) } }
            }),
        );
        bus.publish(vec![event(1)]).await.unwrap();
        bus.idle().await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert!(bus.dead_letters().is_empty());
    }

    #[tokio::test]
    async fn a_panicking_handler_is_retried_then_dead_lettered() {
        let bus = InProcessBus::with_retry_policy(FAST);
        bus.subscribe(DetailType::POLL_BATCH, handler_fn(|_| async { panic!("boom") }));
        bus.publish(vec![event(7)]).await.unwrap();
        bus.idle().await;
        let dead = bus.dead_letters();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].event, event(7));
        assert_eq!(dead[0].attempts, 3);
        assert_eq!(dead[0].error, "the handler panicked");
    }

    #[tokio::test]
    async fn events_nobody_subscribed_to_are_dropped() {
        let bus = InProcessBus::with_retry_policy(FAST);
        let (seen, rec) = recorder();
        bus.subscribe(DetailType::INSTANCE_POLLED, rec);
        bus.publish(vec![event(1)]).await.unwrap();
        bus.idle().await;
        assert!(seen.lock().unwrap().is_empty());
        assert!(bus.dead_letters().is_empty());
    }

    #[tokio::test]
    async fn every_subscription_gets_its_own_delivery() {
        let bus = InProcessBus::with_retry_policy(FAST);
        let (seen, rec) = recorder();
        bus.subscribe(DetailType::POLL_BATCH, Arc::clone(&rec));
        bus.subscribe(DetailType::POLL_BATCH, rec);
        bus.publish(vec![event(1)]).await.unwrap();
        bus.idle().await;
        assert_eq!(seen.lock().unwrap().len(), 2);
    }
}
