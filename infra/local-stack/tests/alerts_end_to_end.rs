//! Alerts end to end on the local stack, as it runs: the scheduler's ticks poll a simulated 3CX
//! over HTTP, the poller publishes `InstancePolled` on the in-process bus, the evaluator opens
//! and resolves alerts, and notifications reach a webhook receiver (signature checked) and the
//! e-mail outbox. The clock is moved a minute per tick instead of waited for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use secrecy::SecretString;
use sikurd::alerts::{AlertKind, AlertStatus, ChannelId, Route};
use sikurd::clock::{Clock, ManualClock};
use sikurd::domain::{Email, Instance, InstanceName, PbxAddress, PbxCredentials};
use sikurd::notify::EmailTarget;
use sikurd::polling::slot_of;
use sikurd::store::{AlertFilter, Channel, ChannelKind};
use sikurd_local::stack::LocalStack;
use sikurd_pbx_sim::{Faults, PbxSpec, SimConfig, Simulator};
use sikurd_tests::receiver::{WebhookReceiver, route_everything_to_webhook};

/// The outbox's messages, oldest first.
fn outbox(data_dir: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("outbox")) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.iter().map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_trunk_opens_one_alert_notifies_webhook_and_email_and_resolves_with_its_duration() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let clock = Arc::new(ManualClock::new(slot_of(Utc::now())));
    let start = clock.now();
    let stack =
        LocalStack::open_with_clock(dir.path(), Vec::new(), Some("http://sikurd.localhost".into()), clock.clone())
            .unwrap();
    let tenant = stack.local_tenant("tenant", "End to End MSP").await.unwrap();

    let spec = PbxSpec::healthy("e2e-pbx");
    let admin = spec.admin.clone().unwrap();
    sim.add_pbx(spec).unwrap();
    let address = PbxAddress::parse_url(&sim.base_url_for("e2e-pbx")).unwrap();
    let mut instance = Instance::new(tenant.clone(), InstanceName::parse("Head office").unwrap(), address, None, start);
    let credentials = PbxCredentials::admin(&admin.username, SecretString::from(admin.password)).unwrap();
    instance.credential_kind = Some(credentials.kind());
    stack.store.credentials.put(&tenant, &instance.id, &credentials).await.unwrap();
    stack.store.instances.create(&instance).await.unwrap();

    let receiver = WebhookReceiver::start().await;
    let secret = SecretString::from("whsec_end-to-end");
    route_everything_to_webhook(&stack.store, &tenant, &receiver.url(), &secret).await;
    let mail = ChannelId::generate();
    let to = EmailTarget::new(vec![Email::parse("noc@msp.example").unwrap()]).unwrap();
    let channel = Channel {
        id: mail.clone(),
        tenant_id: tenant.clone(),
        name: "NOC mailbox".into(),
        kind: ChannelKind::Email { target: to },
        created_at: start,
    };
    stack.store.channels.create(&channel).await.unwrap();
    let route = Route::new("mail", vec![mail]);
    stack.store.alerts.update_settings(&tenant, |s| Ok(s.add_route(route.clone())?)).await.unwrap();

    let tick = |minute: i64| {
        let stack = &stack;
        let clock = clock.clone();
        async move {
            clock.set(start + Duration::minutes(minute) + Duration::seconds(1));
            let report = stack.scheduler.tick(clock.now()).await.unwrap();
            assert_eq!(report.instances, 1);
            stack.bus.idle().await;
            assert!(stack.bus.dead_letters().is_empty(), "{:?}", stack.bus.dead_letters());
        }
    };
    let alerts = |status| {
        let stack = &stack;
        let tenant = tenant.clone();
        async move {
            let filter = AlertFilter { status, ..AlertFilter::default() };
            stack.store.alerts.list(&tenant, &filter, 10, None).await.unwrap().items
        }
    };

    tick(0).await;
    sim.set_faults("e2e-pbx", Faults { trunk_down: Some("Primary SIP".into()), ..Faults::default() }).unwrap();
    tick(1).await;
    assert!(alerts(None).await.is_empty(), "one offline poll opens nothing");
    tick(2).await;
    tick(3).await;
    let open = alerts(None).await;
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(
        (open[0].kind, open[0].subject.as_str(), open[0].status),
        (AlertKind::TrunkDown, "Primary SIP", AlertStatus::Open)
    );
    assert_eq!(open[0].opened_at, start + Duration::minutes(2));

    let posts = receiver.wait_for(1, StdDuration::from_secs(10)).await;
    assert_eq!(posts.len(), 1, "one webhook");
    posts[0].verify(&secret).unwrap();
    let body = posts[0].json();
    assert_eq!(
        (body["type"].as_str(), body["alert"]["kind"].as_str()),
        (Some("alert.opened"), Some("trunk_down")),
        "{body}"
    );
    let mails = outbox(dir.path());
    assert_eq!(mails.len(), 1, "one e-mail: {mails:#?}");
    assert_eq!(mails[0]["to"], serde_json::json!(["noc@msp.example"]));
    let subject = mails[0]["subject"].as_str().unwrap();
    assert!(subject.contains("trunk_down") && subject.contains("Head office"), "{subject}");

    sim.set_faults("e2e-pbx", Faults::default()).unwrap();
    tick(4).await;
    let resolved = alerts(Some(AlertStatus::Resolved)).await;
    assert_eq!(resolved.len(), 1, "{resolved:#?}");
    assert_eq!(resolved[0].id, open[0].id);
    assert_eq!(resolved[0].duration(clock.now()), Duration::minutes(2));
    assert!(alerts(Some(AlertStatus::Open)).await.is_empty());

    let posts = receiver.wait_for(2, StdDuration::from_secs(10)).await;
    assert_eq!(posts.len(), 2);
    posts[1].verify(&secret).unwrap();
    let body = posts[1].json();
    assert_eq!(body["type"], "alert.resolved", "{body}");
    let mails = outbox(dir.path());
    assert_eq!(mails.len(), 2);
    let subject = mails[1]["subject"].as_str().unwrap();
    assert!(subject.starts_with("RESOLVED") && subject.contains("after 2 min"), "{subject}");

    tick(5).await;
    assert_eq!((receiver.received().len(), outbox(dir.path()).len()), (2, 2), "nothing more once healthy");
}
