//! The `poll-scheduler` binary under the Lambda Runtime API emulator, against moto: a schedule
//! tick becomes `PollBatch` events on the bus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use sikurd::domain::{Instance, InstanceName, PbxAddress, TenantId};
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};
use sikurd_tests::{moto, unique_name};

/// A queue that receives every `PollBatch` event of the bus.
async fn poll_batch_queue(bus: &str) -> String {
    let sqs = moto().sqs().await;
    let queue_url = sqs.create_queue().queue_name(unique_name("batches")).send().await.unwrap().queue_url.unwrap();
    let attrs =
        sqs.get_queue_attributes().queue_url(&queue_url).attribute_names(QueueAttributeName::QueueArn).send().await;
    let queue_arn = attrs.unwrap().attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
    let events = moto().eventbridge().await;
    let pattern = json!({ "source": ["sikurd"], "detail-type": ["PollBatch"] });
    events.put_rule().name("poll-batches").event_bus_name(bus).event_pattern(pattern.to_string()).send().await.unwrap();
    let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(queue_arn).build().unwrap();
    events.put_targets().rule("poll-batches").event_bus_name(bus).targets(target).send().await.unwrap();
    queue_url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_tick_publishes_every_active_instance_in_poll_batches() {
    let cloud = CloudResources::create().await;
    let queue = poll_batch_queue(&cloud.event_bus).await;
    let tenant = TenantId::generate();
    let mut ids = Vec::new();
    for i in 0..3 {
        let address = PbxAddress::parse_url(&format!("https://pbx-{i}.example.com:5001")).unwrap();
        let name = InstanceName::parse(&format!("pbx-{i}")).unwrap();
        let instance = Instance::new(tenant.clone(), name, address, None, chrono::Utc::now());
        cloud.store.instances.create(&instance).await.unwrap();
        ids.push(instance.id.to_string());
    }

    let binary = Path::new(env!("CARGO_BIN_EXE_poll-scheduler"));
    let mut function = LambdaFunction::start(binary, "poll-scheduler", &cloud.environment(&[])).await;
    let report = function.invoke(sample_event("schedule-tick.json"), Duration::from_secs(60)).await.response();
    assert_eq!(report["instances"], 3, "{report}");
    assert_eq!(report["batches"], 1, "{report}");

    let sqs = moto().sqs().await;
    let received = sqs.receive_message().queue_url(&queue).max_number_of_messages(10).send().await.unwrap();
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let event: Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(event["detail-type"], "PollBatch");
    let mut polled: Vec<String> = event["detail"]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["instance_id"].as_str().unwrap().to_owned())
        .collect();
    polled.sort();
    ids.sort();
    assert_eq!(polled, ids);
    assert_eq!(event["detail"]["slot"], report["slot"]);
}
