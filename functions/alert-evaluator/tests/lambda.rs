//! The `alert-evaluator` binary under the Lambda Runtime API emulator, against moto and a local
//! webhook receiver.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use sikurd::alerts::{AlertKind, AlertStatus};
use sikurd::domain::{InstanceId, TenantId};
use sikurd::store::AlertFilter;
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};
use sikurd_tests::receiver::{WebhookReceiver, route_everything_to_webhook};

const LIMIT: Duration = Duration::from_secs(60);

/// The sample InstancePolled event for `slot` with its first instance only, the trunk
/// "Primary SIP" online or not.
fn polled(tenant: &TenantId, instance: &InstanceId, slot: DateTime<Utc>, primary_online: bool) -> Value {
    let mut event = sample_event("instance-polled.json");
    let mut one = event["detail"]["polled"][0].take();
    one["tenant_id"] = json!(tenant);
    one["instance_id"] = json!(instance);
    one["slot"] = json!(slot);
    one["snapshot"]["at"] = json!(slot);
    one["trunks"][0]["online"] = json!(primary_online);
    event["detail"] = json!({ "polled": [one] });
    event
}

fn evaluated(ignored: usize, unchanged: usize, changed: usize, alerts_changed: usize) -> Value {
    json!({
        "handled": "evaluated",
        "instances": ignored + unchanged + changed,
        "ignored": ignored,
        "unchanged": unchanged,
        "changed": changed,
        "alerts_changed": alerts_changed,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_evaluator_opens_one_alert_for_a_trunk_down_twice_notifies_once_and_refuses_other_events() {
    let cloud = CloudResources::create().await;
    let receiver = WebhookReceiver::start().await;
    let secret = SecretString::from("whsec_lambda-test-secret");
    let tenant = TenantId::generate();
    let instance = InstanceId::generate();
    route_everything_to_webhook(&cloud.store, &tenant, &receiver.url(), &secret).await;

    let binary = Path::new(env!("CARGO_BIN_EXE_alert-evaluator"));
    let env = cloud.environment(&[("SIKURD_WEBHOOK_TARGETS", "any")]);
    let mut function = LambdaFunction::start(binary, "alert-evaluator", &env).await;

    let start = sikurd::polling::slot_of(Utc::now()) - chrono::Duration::minutes(5);
    let minute = |m: i64| start + chrono::Duration::minutes(m);
    let answers: Vec<Value> = {
        let mut answers = Vec::new();
        for (m, online) in [(0, true), (1, false), (2, false)] {
            answers.push(function.invoke(polled(&tenant, &instance, minute(m), online), LIMIT).await.response());
        }
        answers
    };
    assert_eq!(answers, [evaluated(0, 0, 1, 0), evaluated(0, 0, 1, 0), evaluated(0, 0, 1, 1)]);

    let open = AlertFilter { status: Some(AlertStatus::Open), ..AlertFilter::default() };
    let alerts = cloud.store.alerts.list(&tenant, &open, 10, None).await.unwrap().items;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!((alerts[0].kind, alerts[0].subject.as_str()), (AlertKind::TrunkDown, "Primary SIP"));

    // EventBridge may deliver twice, and late: nothing more opens, nothing more is sent.
    let again = function.invoke(polled(&tenant, &instance, minute(2), false), LIMIT).await.response();
    assert_eq!(again, evaluated(1, 0, 0, 0));
    let steady = function.invoke(polled(&tenant, &instance, minute(3), false), LIMIT).await.response();
    assert_eq!(steady, evaluated(0, 1, 0, 0));
    assert_eq!(cloud.store.alerts.list(&tenant, &open, 10, None).await.unwrap().items.len(), 1);

    let posts = receiver.wait_for(1, LIMIT).await;
    assert_eq!(posts.len(), 1, "one notification");
    posts[0].verify(&secret).unwrap();
    assert_eq!(posts[0].json()["type"], "alert.opened", "{}", posts[0].json());

    let swept = function.invoke(sample_event("schedule-tick.json"), LIMIT).await.response();
    assert_eq!(swept["handled"], "swept", "{swept}");

    let error = function.invoke(sample_event("poll-batch.json"), LIMIT).await.error();
    assert!(error["errorMessage"].as_str().unwrap_or("").contains("not an InstancePolled"), "{error}");
    let error =
        function.invoke(json!({ "detail-type": "InstancePolled", "detail": { "slot": 5 } }), LIMIT).await.error();
    assert!(error["errorMessage"].as_str().unwrap_or("").contains("not an InstancePolled"), "{error}");
}

#[test]
fn a_missing_sender_address_stops_the_cold_start_and_is_named() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alert-evaluator"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("SIKURD_TABLE_NAME", "sikurd-test")
        .env("SIKURD_KMS_KEY_ID", "alias/sikurd-test")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SIKURD_SENDER_EMAIL is not set"), "{stderr}");
}
