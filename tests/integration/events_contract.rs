//! The events contract: every case runs against the in-process bus and against EventBridge (moto),
//! where rules on a fresh bus route each detail type to its own SQS queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::json;
use sikurd::events::{
    DetailType, Event, EventBridgePublisher, EventPublisher, InProcessBus, PublishError, SOURCE, handler_fn, limits,
};
use sikurd_tests::{moto, unique_name};

/// The detail types every fixture subscribes to.
const SUBSCRIBED: [DetailType; 2] = [DetailType::POLL_BATCH, DetailType::INSTANCE_POLLED];

/// A publisher, and where to see what reached the subscribers of each detail type.
pub struct Bus {
    publisher: Arc<dyn EventPublisher>,
    sinks: Sinks,
}

enum Sinks {
    InProcess { bus: InProcessBus, seen: HashMap<DetailType, Arc<Mutex<Vec<Event>>>> },
    EventBridge { sqs: aws_sdk_sqs::Client, queues: HashMap<DetailType, String> },
}

impl Bus {
    pub fn in_process() -> Self {
        let bus = InProcessBus::new();
        let mut seen = HashMap::new();
        for detail_type in SUBSCRIBED {
            let events = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&events);
            bus.subscribe(
                detail_type.clone(),
                handler_fn(move |event| {
                    let sink = Arc::clone(&sink);
                    async move {
                        sink.lock().unwrap().push(event);
                        Ok(())
                    }
                }),
            );
            seen.insert(detail_type, events);
        }
        Self { publisher: Arc::new(bus.clone()), sinks: Sinks::InProcess { bus, seen } }
    }

    /// A fresh bus on moto with, per subscribed detail type, a rule matching our source and that
    /// detail type, targeting a fresh queue.
    pub async fn eventbridge() -> Self {
        let events = moto().eventbridge().await;
        let sqs = moto().sqs().await;
        let bus_name = unique_name("sikurd");
        events.create_event_bus().name(&bus_name).send().await.unwrap();
        let mut queues = HashMap::new();
        for detail_type in SUBSCRIBED {
            let queue_url =
                sqs.create_queue().queue_name(unique_name("sikurd")).send().await.unwrap().queue_url.unwrap();
            let attrs = sqs
                .get_queue_attributes()
                .queue_url(&queue_url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .unwrap();
            let queue_arn = attrs.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
            let rule = unique_name("to-queue");
            let pattern = json!({ "source": [SOURCE], "detail-type": [detail_type.as_str()] });
            events
                .put_rule()
                .name(&rule)
                .event_bus_name(&bus_name)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .unwrap();
            let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build().unwrap();
            events.put_targets().rule(&rule).event_bus_name(&bus_name).targets(target).send().await.unwrap();
            queues.insert(detail_type, queue_url);
        }
        Self {
            publisher: Arc::new(EventBridgePublisher::new(events, bus_name)),
            sinks: Sinks::EventBridge { sqs, queues },
        }
    }

    /// Every event delivered to the subscription for `detail_type` since the last call, in no
    /// particular order; an event delivered twice appears twice.
    pub async fn delivered(&self, detail_type: &DetailType) -> Vec<Event> {
        match &self.sinks {
            Sinks::InProcess { bus, seen } => {
                bus.idle().await;
                std::mem::take(&mut *seen[detail_type].lock().unwrap())
            }
            Sinks::EventBridge { sqs, queues } => {
                let mut out = Vec::new();
                loop {
                    let received = sqs
                        .receive_message()
                        .queue_url(&queues[detail_type])
                        .max_number_of_messages(10)
                        .visibility_timeout(600)
                        .wait_time_seconds(1)
                        .send()
                        .await
                        .unwrap();
                    let messages = received.messages();
                    if messages.is_empty() {
                        return out;
                    }
                    for message in messages {
                        let envelope: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
                        assert_eq!(envelope["source"], SOURCE);
                        out.push(serde_json::from_value(envelope).unwrap());
                    }
                }
            }
        }
    }

    /// Nothing reached any subscription.
    pub async fn assert_nothing_delivered(&self) {
        for detail_type in &SUBSCRIBED {
            assert_eq!(self.delivered(detail_type).await, [], "{detail_type} events were delivered");
        }
    }
}

fn numbered(detail_type: DetailType, n: u64) -> Event {
    Event::new(detail_type, json!({ "n": n, "instances": [format!("inst-{n}")], "note": "Zürich ✓", "ok": true }))
}

fn by_number(mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| e.detail["n"].as_u64());
    events
}

fn oversize() -> Event {
    Event::new(DetailType::POLL_BATCH, json!({ "pad": "x".repeat(limits::ENTRY_BYTES) }))
}

mod cases {
    use super::*;

    pub async fn published_events_arrive_once_with_their_detail(bus: Bus) {
        let events: Vec<Event> = (0..25).map(|n| numbered(DetailType::POLL_BATCH, n)).collect();
        bus.publisher.publish(events.clone()).await.unwrap();
        assert_eq!(by_number(bus.delivered(&DetailType::POLL_BATCH).await), events);
        assert_eq!(bus.delivered(&DetailType::INSTANCE_POLLED).await, []);
    }

    pub async fn events_reach_only_the_subscribers_of_their_detail_type(bus: Bus) {
        let batches: Vec<Event> = (0..3).map(|n| numbered(DetailType::POLL_BATCH, n)).collect();
        let polled: Vec<Event> = (10..12).map(|n| numbered(DetailType::INSTANCE_POLLED, n)).collect();
        let mixed =
            vec![batches[0].clone(), polled[0].clone(), batches[1].clone(), polled[1].clone(), batches[2].clone()];
        bus.publisher.publish(mixed).await.unwrap();
        assert_eq!(by_number(bus.delivered(&DetailType::POLL_BATCH).await), batches);
        assert_eq!(by_number(bus.delivered(&DetailType::INSTANCE_POLLED).await), polled);
    }

    pub async fn an_oversize_event_is_refused_before_anything_is_sent(bus: Bus) {
        let events = vec![numbered(DetailType::POLL_BATCH, 0), oversize(), numbered(DetailType::INSTANCE_POLLED, 1)];
        let err = bus.publisher.publish(events).await.unwrap_err();
        assert!(matches!(err, PublishError::TooLarge { index: 1, bytes } if bytes > limits::ENTRY_BYTES), "{err:?}");
        bus.assert_nothing_delivered().await;
    }

    pub async fn a_detail_that_is_not_a_json_object_is_refused_before_anything_is_sent(bus: Bus) {
        let events = vec![numbered(DetailType::POLL_BATCH, 0), Event::new(DetailType::POLL_BATCH, json!(["a"]))];
        let err = bus.publisher.publish(events).await.unwrap_err();
        assert!(matches!(err, PublishError::DetailNotObject { index: 1 }), "{err:?}");
        bus.assert_nothing_delivered().await;
    }

    pub async fn publishing_no_events_succeeds_and_delivers_nothing(bus: Bus) {
        bus.publisher.publish(Vec::new()).await.unwrap();
        bus.assert_nothing_delivered().await;
    }
}

macro_rules! for_each_bus {
    ($($case:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case(super::Bus::in_process()).await
                }
            )*
        }
        mod eventbridge {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case(super::Bus::eventbridge().await).await
                }
            )*
        }
    };
}

for_each_bus!(
    published_events_arrive_once_with_their_detail,
    events_reach_only_the_subscribers_of_their_detail_type,
    an_oversize_event_is_refused_before_anything_is_sent,
    a_detail_that_is_not_a_json_object_is_refused_before_anything_is_sent,
    publishing_no_events_succeeds_and_delivers_nothing,
);

/// What only one adapter has: the in-process bus's dead letters, EventBridge's missing bus.
mod adapter_specific {
    use super::*;

    #[tokio::test]
    async fn a_handler_that_always_fails_is_dead_lettered_after_retries_while_other_events_are_delivered() {
        let bus = Bus::in_process();
        let Sinks::InProcess { bus: in_process, .. } = &bus.sinks else { unreachable!() };
        in_process.subscribe(DetailType::INSTANCE_POLLED, handler_fn(|_| async { Err("the PBX is on fire".into()) }));

        let batches: Vec<Event> = (0..3).map(|n| numbered(DetailType::POLL_BATCH, n)).collect();
        let polled = numbered(DetailType::INSTANCE_POLLED, 7);
        let mut events = batches.clone();
        events.push(polled.clone());
        bus.publisher.publish(events).await.unwrap();

        assert_eq!(by_number(bus.delivered(&DetailType::POLL_BATCH).await), batches);
        assert_eq!(bus.delivered(&DetailType::INSTANCE_POLLED).await, std::slice::from_ref(&polled));
        let dead = in_process.dead_letters();
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0].event, polled);
        assert_eq!(dead[0].attempts, InProcessBus::DEFAULT_RETRY.max_attempts);
        assert_eq!(dead[0].error, "the PBX is on fire");
    }

    #[tokio::test]
    async fn publishing_to_a_bus_that_does_not_exist_is_unavailable() {
        let publisher = EventBridgePublisher::new(moto().eventbridge().await, unique_name("missing"));
        let err = publisher.publish(vec![numbered(DetailType::POLL_BATCH, 0)]).await.unwrap_err();
        assert!(matches!(err, PublishError::Unavailable(_)), "{err:?}");
    }
}
