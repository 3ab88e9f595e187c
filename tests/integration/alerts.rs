//! Alerts end to end below the HTTP layer: the evaluator over both table adapters (one read per
//! event, no write when nothing changes, one alert however events are duplicated or raced),
//! notifications (routing, retries with backoff, maintenance windows, reminders and escalation),
//! and the alert routes of the API (list, acknowledge, resolve, CSV).

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sikurd::alerts::{
    AlertKind, AlertStatus, ChannelId, Dispatcher, Evaluated, Evaluator, MaintenanceWindow, Route, RuleOverride, Scope,
    WindowSchedule,
};
use sikurd::clock::Clock;
use sikurd::domain::{InstanceId, TenantId};
use sikurd::notify::{EmailTarget, RetrySchedule, SendError};
use sikurd::polling::InstancePolled;
use sikurd::store::{AlertFilter, Channel, ChannelKind, DeliveryStatus, StoreError};
use sikurd_tests::api::ApiFixture;
use sikurd_tests::receiver::RecordingNotifier;
use sikurd_tests::{StoreFixture, dynamo_store, embedded_store};

const HOOK_A: &str = "https://hooks.a.example/sikurd";
const HOOK_B: &str = "https://hooks.b.example/sikurd";

/// One instance's alerts over a store, with a notifier that records what it sends.
struct World {
    stores: StoreFixture,
    notifier: Arc<RecordingNotifier>,
    dispatcher: Dispatcher,
    evaluator: Evaluator,
    tenant: TenantId,
    instance: InstanceId,
    start: DateTime<Utc>,
}

impl World {
    fn new(stores: StoreFixture) -> Self {
        let notifier = Arc::new(RecordingNotifier::default());
        let clock: Arc<dyn Clock> = stores.tables.clock.clone();
        let dispatcher = Dispatcher::new(stores.store.clone(), notifier.clone(), Arc::clone(&clock));
        let evaluator =
            Evaluator::new(stores.store.clone(), clock, dispatcher.clone(), Some("https://sikurd.example".into()));
        let start = sikurd::polling::slot_of(stores.tables.clock.now());
        Self {
            stores,
            notifier,
            dispatcher,
            evaluator,
            tenant: TenantId::generate(),
            instance: InstanceId::generate(),
            start,
        }
    }

    fn at(&self, minute: i64) -> DateTime<Utc> {
        self.start + Duration::minutes(minute)
    }

    /// A healthy poll at `minute`, with the trunk "Primary SIP" online or not.
    fn polled(&self, minute: i64, primary_online: bool) -> InstancePolled {
        sikurd_tests::receiver::instance_polled(&self.tenant, &self.instance, self.at(minute), primary_online)
    }

    /// Evaluates the poll at `minute` a few seconds after its slot began.
    async fn poll(&self, minute: i64, primary_online: bool) -> Evaluated {
        self.stores.tables.clock.set(self.at(minute) + Duration::seconds(5));
        self.evaluator.evaluate(&self.polled(minute, primary_online)).await.unwrap()
    }

    fn set_clock(&self, minute: i64) {
        self.stores.tables.clock.set(self.at(minute) + Duration::seconds(5));
    }

    async fn webhook_channel(&self, url: &str) -> ChannelId {
        let id = ChannelId::generate();
        let target = sikurd::notify::WebhookTarget::new(
            url,
            sikurd::notify::WebhookFormat::Generic,
            sikurd::pbx::TargetPolicy::PublicOnly,
        )
        .unwrap();
        let secret = secrecy::SecretString::from("whsec_test");
        let kind = self.stores.store.channels.webhook_kind(&self.tenant, &id, target, &secret).await.unwrap();
        self.add_channel(&id, kind).await;
        id
    }

    async fn add_channel(&self, id: &ChannelId, kind: ChannelKind) {
        let channel = Channel {
            id: id.clone(),
            tenant_id: self.tenant.clone(),
            name: format!("channel {id}"),
            kind,
            created_at: self.start,
        };
        self.stores.store.channels.create(&channel).await.unwrap();
    }

    async fn change_settings(&self, change: impl Fn(&mut sikurd::alerts::AlertSettings) + Send + Sync) {
        self.stores
            .store
            .alerts
            .update_settings(&self.tenant, |s| {
                change(s);
                Ok(s.validate()?)
            })
            .await
            .unwrap();
    }

    async fn route(&self, route: Route) {
        self.change_settings(move |s| s.routes.push(route.clone())).await;
    }

    async fn alerts(&self, status: Option<AlertStatus>) -> Vec<sikurd::alerts::Alert> {
        let filter = AlertFilter { status, ..AlertFilter::default() };
        self.stores.store.alerts.list(&self.tenant, &filter, 100, None).await.unwrap().items
    }

    async fn deliveries(&self, alert: &sikurd::alerts::Alert) -> Vec<sikurd::store::DeliveryRecord> {
        self.stores.store.deliveries.of_alert(&self.tenant, &alert.id).await.unwrap()
    }
}

fn changed_kinds(evaluated: &Evaluated) -> Vec<(AlertKind, String)> {
    match evaluated {
        Evaluated::Changed(changed) => changed.iter().map(|c| (c.alert.kind, c.alert.subject.clone())).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn an_unchanged_instance_costs_one_read_and_no_write_per_event() {
    let world = World::new(embedded_store());
    assert!(matches!(world.poll(0, true).await, Evaluated::Changed(_)), "the first event keeps the trunks seen");
    let counting = &world.stores.counting;
    for minute in 1..=20 {
        counting.reset();
        assert_eq!(world.poll(minute, true).await, Evaluated::Unchanged, "minute {minute}");
        let counts = counting.counts();
        assert_eq!((counts.read_calls, counts.items_written), (1, 0), "minute {minute}: {counts:?}");
    }
    counting.reset();
    assert_eq!(world.poll(20, true).await, Evaluated::Unchanged, "a redelivered event changes nothing");
    assert_eq!(counting.counts().items_written, 0);
    let stale = world.polled(1, false);
    assert_eq!(world.evaluator.evaluate(&stale).await.unwrap(), Evaluated::Ignored, "19 minutes late: stale");
    assert_eq!(counting.counts().items_written, 0);
}

/// Four evaluators take the same events, each delivered twice, at once (`racing`) or one after
/// another; one alert opens and is notified once.
async fn duplicated_and_racing_events_open_one_alert(stores: StoreFixture, racing: bool) {
    let world = Arc::new(World::new(stores));
    let channel = world.webhook_channel(HOOK_A).await;
    world.route(Route::new("all", vec![channel])).await;
    world.set_clock(4);
    let events: Vec<InstancePolled> = [(0, true), (1, false), (2, false), (3, false)]
        .into_iter()
        .map(|(m, online)| world.polled(m, online))
        .collect();
    let evaluators: Vec<_> = (0..4)
        .map(|_| {
            let world = Arc::clone(&world);
            let events = events.clone();
            async move {
                for event in events.iter().chain(events.iter()) {
                    world.evaluator.evaluate(event).await.unwrap();
                }
            }
        })
        .collect();
    if racing {
        let racers: Vec<_> = evaluators.into_iter().map(tokio::spawn).collect();
        for racer in racers {
            racer.await.unwrap();
        }
    } else {
        for evaluator in evaluators {
            evaluator.await;
        }
    }
    let all = world.alerts(None).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        (all[0].kind, all[0].subject.as_str(), all[0].status),
        (AlertKind::TrunkDown, "Primary SIP", AlertStatus::Open)
    );
    assert_eq!(all[0].opened_at, world.at(2), "opened on the second offline poll");
    let state = world.stores.store.alerts.state(&world.tenant, &world.instance).await.unwrap();
    assert_eq!(state.active.len(), 1);
    assert_eq!(world.notifier.delivered(), vec![("opened".to_owned(), HOOK_A.to_owned())], "notified once");
}

#[tokio::test]
async fn racing_evaluators_with_duplicated_events_open_one_alert() {
    duplicated_and_racing_events_open_one_alert(embedded_store(), true).await;
}

#[tokio::test]
async fn duplicated_events_open_one_alert_on_dynamodb() {
    // moto's TransactWriteItems is not isolated under concurrent requests (it checks every
    // condition, then writes, without a lock), so the race itself is tested on the embedded
    // table and the conditional write on DynamoDB by the test below.
    duplicated_and_racing_events_open_one_alert(dynamo_store().await, false).await;
}

/// Two writers read the same state; the second commit is refused and writes nothing.
async fn a_commit_over_a_state_written_meanwhile_is_refused(stores: StoreFixture) {
    let world = World::new(stores);
    world.poll(0, true).await;
    let alerts = &world.stores.store.alerts;
    let read = alerts.state(&world.tenant, &world.instance).await.unwrap();
    let mut first = read.clone();
    first.evaluation.failed_polls = 1;
    alerts.commit(&world.tenant, &world.instance, read.revision, &first, &[], Vec::new()).await.unwrap();
    let mut second = read.clone();
    second.evaluation.failed_polls = 2;
    let refused = alerts.commit(&world.tenant, &world.instance, read.revision, &second, &[], Vec::new()).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    let now = alerts.state(&world.tenant, &world.instance).await.unwrap();
    assert_eq!((now.revision, now.evaluation.failed_polls), (read.revision + 1, 1));
}

#[tokio::test]
async fn a_commit_over_a_state_written_meanwhile_is_refused_in_the_embedded_table() {
    a_commit_over_a_state_written_meanwhile_is_refused(embedded_store()).await;
}

#[tokio::test]
async fn a_commit_over_a_state_written_meanwhile_is_refused_on_dynamodb() {
    a_commit_over_a_state_written_meanwhile_is_refused(dynamo_store().await).await;
}

#[tokio::test]
async fn a_broken_trunk_notifies_once_and_its_resolution_says_how_long_it_lasted() {
    let world = World::new(embedded_store());
    let channel = world.webhook_channel(HOOK_A).await;
    world.route(Route::new("all", vec![channel])).await;
    world.poll(0, true).await;
    assert!(changed_kinds(&world.poll(1, false).await).is_empty(), "one offline poll is not enough");
    assert_eq!(changed_kinds(&world.poll(2, false).await), vec![(AlertKind::TrunkDown, "Primary SIP".to_owned())]);
    for minute in 3..=5 {
        assert_eq!(world.poll(minute, false).await, Evaluated::Unchanged);
    }
    assert_eq!(changed_kinds(&world.poll(6, true).await), vec![(AlertKind::TrunkDown, "Primary SIP".to_owned())]);

    let alert = &world.alerts(Some(AlertStatus::Resolved)).await[0];
    assert_eq!(alert.duration(world.at(60)), Duration::minutes(4));
    let sent = world.notifier.sent();
    let kinds: Vec<&str> = sent.iter().map(|s| s.notice.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "resolved"]);
    assert!(sent[1].notice.title().contains("after 4 min"), "{}", sent[1].notice.title());
    assert_eq!(sent[0].notice.link.as_deref(), Some(format!("https://sikurd.example/alerts/{}", alert.id).as_str()));
    assert!(world.deliveries(alert).await.iter().all(|d| d.status == DeliveryStatus::Delivered));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_recorded_and_never_hold_up_other_channels() {
    let world = World::new(embedded_store());
    let a = world.webhook_channel(HOOK_A).await;
    let b = world.webhook_channel(HOOK_B).await;
    let mail = ChannelId::generate();
    let to = EmailTarget::new(vec![sikurd::domain::Email::parse("noc@msp.example").unwrap()]).unwrap();
    world.add_channel(&mail, ChannelKind::Email { target: to }).await;
    world.route(Route::new("all", vec![a, b, mail])).await;
    world.notifier.fail(HOOK_A, SendError::Retryable("503 from the receiver".into()));
    world.notifier.fail("noc@msp.example", SendError::Permanent("sender not verified".into()));

    world.poll(0, true).await;
    world.poll(1, false).await;
    world.poll(2, false).await;
    let alert = world.alerts(Some(AlertStatus::Open)).await.remove(0);
    assert_eq!(world.notifier.delivered(), vec![("opened".to_owned(), HOOK_B.to_owned())], "B is not held up");
    let status_of = |records: &[sikurd::store::DeliveryRecord], url_hint: &str| {
        records
            .iter()
            .find(|d| world.notifier.sent().iter().any(|s| s.delivery == d.id && s.to == url_hint))
            .map(|d| (d.status, d.attempts, d.last_error.clone()))
    };
    let records = world.deliveries(&alert).await;
    assert_eq!(
        status_of(&records, HOOK_A),
        Some((DeliveryStatus::Pending, 1, Some("503 from the receiver".into()))),
        "retried later"
    );
    assert_eq!(
        status_of(&records, "noc@msp.example"),
        Some((DeliveryStatus::Failed, 1, Some("sender not verified".into()))),
        "a permanent failure is not retried"
    );

    // The schedule: 1 min, then 5 min after the second failure.
    world.stores.tables.clock.set(world.at(2) + Duration::seconds(50));
    assert_eq!(world.dispatcher.sweep().await.retrying, 0, "not due before a minute has passed");
    world.stores.tables.clock.set(world.at(3) + Duration::seconds(10));
    assert_eq!(world.dispatcher.sweep().await.retrying, 1);
    world.notifier.heal(HOOK_A);
    world.stores.tables.clock.set(world.at(6));
    assert_eq!(world.dispatcher.sweep().await.delivered, 0, "not before the 5 minutes");
    world.stores.tables.clock.set(world.at(8) + Duration::seconds(10));
    assert_eq!(world.dispatcher.sweep().await.delivered, 1);
    let records = world.deliveries(&alert).await;
    assert_eq!(status_of(&records, HOOK_A).map(|(s, n, _)| (s, n)), Some((DeliveryStatus::Delivered, 3)));
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_gives_up_after_the_last_attempt() {
    let world = World::new(embedded_store());
    let dispatcher = world.dispatcher.clone().with_retry_schedule(RetrySchedule::new(vec![Duration::minutes(1)]));
    let evaluator =
        Evaluator::new(world.stores.store.clone(), world.stores.tables.clock.clone(), dispatcher.clone(), None);
    let a = world.webhook_channel(HOOK_A).await;
    world.route(Route::new("all", vec![a])).await;
    world.notifier.fail(HOOK_A, SendError::Retryable("timed out".into()));
    for (minute, online) in [(0, true), (1, false), (2, false)] {
        world.set_clock(minute);
        evaluator.evaluate(&world.polled(minute, online)).await.unwrap();
    }
    world.set_clock(4);
    let report = dispatcher.sweep().await;
    assert_eq!(report.failed, 1, "{report:?}");
    let alert = world.alerts(None).await.remove(0);
    let record = world.deliveries(&alert).await.remove(0);
    assert_eq!((record.status, record.attempts), (DeliveryStatus::Failed, 2));
    assert_eq!(dispatcher.sweep().await, sikurd::alerts::SweepReport::default(), "nothing left to do");
}

#[tokio::test]
async fn an_alert_opened_in_a_maintenance_window_notifies_nobody_until_the_window_ends() {
    let world = World::new(embedded_store());
    let a = world.webhook_channel(HOOK_A).await;
    world.route(Route::new("all", vec![a])).await;
    let (starts_at, ends_at) = (world.at(0), world.at(30));
    let window =
        MaintenanceWindow::new(Scope::Instance(world.instance.clone()), WindowSchedule::Once { starts_at, ends_at });
    world.change_settings(move |s| s.windows.push(window.clone())).await;

    world.poll(0, true).await;
    world.poll(1, false).await;
    world.poll(2, false).await;
    let alert = world.alerts(Some(AlertStatus::Open)).await.remove(0);
    assert_eq!(alert.silenced_until, Some(ends_at), "recorded, silenced");
    assert!(world.notifier.sent().is_empty());
    world.set_clock(20);
    assert_eq!(world.dispatcher.sweep().await.delivered, 0);
    world.set_clock(30);
    assert_eq!(world.dispatcher.sweep().await.delivered, 1, "still open when the window ends: notified");
    assert_eq!(world.notifier.delivered(), vec![("opened".to_owned(), HOOK_A.to_owned())]);
}

#[tokio::test]
async fn an_alert_that_opens_and_resolves_inside_a_window_is_never_notified() {
    let world = World::new(embedded_store());
    let a = world.webhook_channel(HOOK_A).await;
    world.route(Route::new("all", vec![a])).await;
    let schedule = WindowSchedule::Once { starts_at: world.at(0), ends_at: world.at(30) };
    let window = MaintenanceWindow::new(Scope::Tenant, schedule);
    world.change_settings(move |s| s.windows.push(window.clone())).await;
    world.poll(0, true).await;
    world.poll(1, false).await;
    world.poll(2, false).await;
    world.poll(3, true).await;
    world.set_clock(31);
    let report = world.dispatcher.sweep().await;
    assert_eq!((report.delivered, report.dropped), (0, 1), "{report:?}");
    assert!(world.notifier.sent().is_empty());
    assert_eq!(world.alerts(Some(AlertStatus::Resolved)).await.len(), 1, "the alert itself is kept");
}

#[tokio::test]
async fn reminders_repeat_while_unacknowledged_and_escalation_reaches_the_second_channel() {
    let world = World::new(embedded_store());
    let a = world.webhook_channel(HOOK_A).await;
    let b = world.webhook_channel(HOOK_B).await;
    let mut route = Route::new("on call", vec![a]);
    route.remind_every_minutes = Some(15);
    route.escalate_after_minutes = Some(30);
    route.escalate_to = vec![b];
    world.route(route).await;
    world.poll(0, true).await;
    world.poll(1, false).await;
    world.poll(2, false).await;
    world.set_clock(17);
    world.dispatcher.sweep().await;
    world.set_clock(32);
    world.dispatcher.sweep().await;
    let mut delivered = world.notifier.delivered();
    delivered[2..].sort();
    assert_eq!(
        delivered,
        [("opened", HOOK_A), ("reminder", HOOK_A), ("escalated", HOOK_B), ("reminder", HOOK_A)]
            .map(|(k, u)| (k.to_owned(), u.to_owned()))
            .to_vec()
    );

    let alert = world.alerts(Some(AlertStatus::Open)).await.remove(0);
    let act = sikurd::alerts::Act { at: world.at(33), by: sikurd::domain::Actor::System, reason: Some("on it".into()) };
    let id = alert.id.clone();
    world
        .stores
        .store
        .alerts
        .update_active(&world.tenant, &alert.id, |s| s.acknowledge(&id, act.clone()))
        .await
        .unwrap();
    world.set_clock(50);
    let report = world.dispatcher.sweep().await;
    assert_eq!((report.delivered, report.dropped), (0, 1), "the next reminder is dropped: {report:?}");
}

#[tokio::test]
async fn a_kind_turned_off_for_a_group_never_opens_and_an_open_one_resolves() {
    let world = World::new(embedded_store());
    world.poll(0, true).await;
    world.poll(1, false).await;
    world.poll(2, false).await;
    assert_eq!(world.alerts(Some(AlertStatus::Open)).await.len(), 1);
    let mut off = RuleOverride::new(Scope::Group(sikurd::domain::GroupName::parse("acme").unwrap()));
    off.enabled.insert(AlertKind::TrunkDown, false);
    world.change_settings(move |s| s.overrides.push(off.clone())).await;
    assert_eq!(changed_kinds(&world.poll(3, false).await), vec![(AlertKind::TrunkDown, "Primary SIP".to_owned())]);
    assert!(world.alerts(Some(AlertStatus::Open)).await.is_empty());
    for minute in 4..8 {
        world.poll(minute, minute % 2 == 0).await;
    }
    assert!(world.alerts(Some(AlertStatus::Open)).await.is_empty(), "never opens again while off");
}

/// An API fixture whose tenant has one open trunk-down alert on an instance it owns.
async fn api_with_alert() -> (ApiFixture, sikurd_tests::api::Session, sikurd::alerts::Alert) {
    let api = ApiFixture::new();
    let owner = api.sign_up("Alerting MSP", "owner@alerting.example").await;
    let instance = api.add_instance(&owner, "Head office", Some("Acme")).await;
    let dispatcher =
        Dispatcher::new(api.store().clone(), Arc::new(RecordingNotifier::default()), api.stores.tables.clock.clone());
    let evaluator = Evaluator::new(api.store().clone(), api.stores.tables.clock.clone(), dispatcher, None);
    let mut world = World::new(sikurd_tests::embedded_store());
    world.tenant = TenantId::parse(&owner.tenant_id).unwrap();
    let secret = secrecy::SecretString::from("whsec_api");
    sikurd_tests::receiver::route_everything_to_webhook(api.store(), &world.tenant, HOOK_A, &secret).await;
    world.instance = InstanceId::parse(&instance).unwrap();
    world.start = sikurd::polling::slot_of(api.clock().now());
    for (minute, online) in [(0, true), (1, false), (2, false)] {
        api.clock().set(world.at(minute) + Duration::seconds(5));
        evaluator.evaluate(&world.polled(minute, online)).await.unwrap();
    }
    let filter = AlertFilter::default();
    let alert = api.store().alerts.list(&world.tenant, &filter, 10, None).await.unwrap().items.remove(0);
    (api, owner, alert)
}

#[tokio::test]
async fn technicians_acknowledge_and_resolve_with_reasons_viewers_cannot_and_each_act_is_audited() {
    let (api, owner, alert) = api_with_alert().await;
    let viewer = api.add_user(&owner, "viewer", "viewer@alerting.example").await;
    let tech = api.add_user(&owner, "technician", "tech@alerting.example").await;
    let ack = format!("/api/v1/alerts/{}/ack", alert.id);
    let resolve = format!("/api/v1/alerts/{}/resolve", alert.id);

    let listed = api.send(viewer.get("/api/v1/alerts?status=open")).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.json["items"][0]["id"], alert.id.as_str());
    assert_eq!(listed.json["items"][0]["kind"], "trunk_down");
    assert_eq!(listed.json["items"][0]["subject"], "Primary SIP");
    api.send(viewer.post(&ack).json(json!({}))).await.assert_error(StatusCode::FORBIDDEN, "forbidden");

    let acked = api.send(tech.post(&ack).json(json!({ "reason": "calling the carrier" }))).await;
    assert_eq!(acked.status, StatusCode::OK, "{}", acked.text);
    assert_eq!(acked.json["status"], "acknowledged");
    assert_eq!(acked.json["acknowledged"]["reason"], "calling the carrier");
    assert_eq!(acked.json["acknowledged"]["by"]["email"], "tech@alerting.example");
    let again = api.send(tech.post(&ack).json(json!({}))).await;
    assert_eq!(
        (again.status, again.json["acknowledged"]["reason"].clone()),
        (StatusCode::OK, json!("calling the carrier"))
    );

    let no_reason = api.send(tech.post(&resolve).json(json!({ "reason": "  " }))).await;
    no_reason.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let resolved = api.send(tech.post(&resolve).json(json!({ "reason": "carrier fixed it" }))).await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.text);
    assert_eq!(resolved.json["status"], "resolved");
    assert_eq!(resolved.json["resolved"]["by"]["kind"], "user");
    let changes: Vec<&str> =
        resolved.json["history"].as_array().unwrap().iter().map(|c| c["change"].as_str().unwrap()).collect();
    assert_eq!(changes, ["opened", "acknowledged", "resolved"]);
    api.send(tech.post(&ack).json(json!({}))).await.assert_error(StatusCode::CONFLICT, "conflict");
    api.send(tech.post(&resolve).json(json!({ "reason": "again" })))
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");
    api.send(tech.post("/api/v1/alerts/alr_01JDQ70A1B2C3D4E5F6G7H8J9K/ack").json(json!({})))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    let audit = api.send(owner.get("/api/v1/audit")).await;
    let actions: Vec<(String, String)> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("alert."))
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["result"].as_str().unwrap().to_owned()))
        .collect();
    for expected in
        [("alert.acknowledge", "succeeded"), ("alert.resolve", "succeeded"), ("alert.acknowledge", "failed")]
    {
        assert!(actions.contains(&(expected.0.to_owned(), expected.1.to_owned())), "{expected:?} in {actions:?}");
    }
}

async fn listed_without_notifications(api: &ApiFixture, owner: &sikurd_tests::api::Session) -> bool {
    let list = api.send(owner.get("/api/v1/alerts")).await;
    list.json["items"].as_array().unwrap().iter().all(|a| a.get("notifications").is_none())
}

#[tokio::test]
async fn the_alert_list_filters_pages_and_exports_as_csv() {
    let (api, owner, alert) = api_with_alert().await;
    let instance = alert.instance_id.to_string();
    for (query, count) in [
        ("", 1),
        ("?status=open", 1),
        ("?status=resolved", 0),
        ("?kind=trunk_down", 1),
        ("?kind=disk_high", 0),
        (&format!("?instance={instance}") as &str, 1),
        ("?instance=ins_01JDQ70A1B2C3D4E5F6G7H8J9K", 0),
    ] {
        let res = api.send(owner.get(&format!("/api/v1/alerts{query}"))).await;
        assert_eq!(res.status, StatusCode::OK, "{query}: {}", res.text);
        assert_eq!(res.json["items"].as_array().unwrap().len(), count, "{query}");
    }
    for bad in ["?status=gone", "?kind=everything", "?instance=nope", "?limit=0", "?cursor=xyz", "?colour=red"] {
        let res = api.send(owner.get(&format!("/api/v1/alerts{bad}"))).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {}", res.text);
    }
    let one = api.send(owner.get(&format!("/api/v1/alerts/{}", alert.id))).await;
    assert_eq!((one.status, one.json["instance_name"].clone()), (StatusCode::OK, json!("Head office")));
    let notifications = one.json["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), 1, "{notifications:?}");
    assert_eq!(
        (notifications[0]["notice"].as_str(), notifications[0]["status"].as_str()),
        (Some("opened"), Some("delivered"))
    );
    assert!(!one.text.contains(HOOK_A), "the webhook URL is a secret");
    assert!(listed_without_notifications(&api, &owner).await);

    let csv = api.send(owner.get("/api/v1/export/alerts.csv?status=open")).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let mut lines = csv.text.lines();
    assert!(lines.next().unwrap().starts_with("id,instance_id,instance_name,group,kind,subject,severity,status"));
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("{},{instance},Head office,Acme,trunk_down,Primary SIP,critical,open", alert.id)),
        "{row}"
    );
    assert_eq!(lines.next(), None);
}

#[tokio::test]
async fn a_flapping_trunk_notifies_once_per_flap_and_a_rising_severity_escalates() {
    let world = World::new(embedded_store());
    let a = world.webhook_channel(HOOK_A).await;
    world.route(Route::new("all", vec![a])).await;
    for (minute, online) in [(0, true), (1, false), (2, false), (3, true), (4, false), (5, false), (6, true)] {
        world.poll(minute, online).await;
    }
    let sent = world.notifier.sent();
    let kinds: Vec<&str> = sent.iter().map(|s| s.notice.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "resolved", "opened"], "the flap that reopened is told once, its end is not");
    assert!(sent[2].notice.detail.contains("flapping"), "{}", sent[2].notice.detail);
    let alerts = world.alerts(Some(AlertStatus::Resolved)).await;
    assert_eq!(alerts.iter().filter(|a| a.flapping).count(), 1);

    let expiring = |minute: i64, days: i64| {
        let mut e = world.polled(minute, true);
        e.licence.as_mut().unwrap().expires_at = Some(e.slot + Duration::days(days));
        e
    };
    for (minute, days) in [(7, 20), (8, 6)] {
        world.set_clock(minute);
        world.evaluator.evaluate(&expiring(minute, days)).await.unwrap();
    }
    let kinds: Vec<(String, String)> = world.notifier.sent()[3..]
        .iter()
        .map(|s| (s.notice.kind.as_str().to_owned(), s.notice.severity.clone()))
        .collect();
    assert_eq!(
        kinds,
        [("opened".to_owned(), "info".to_owned()), ("escalated".to_owned(), "warning".to_owned())],
        "info when 20 days are left, escalated to warning under 7"
    );
}
