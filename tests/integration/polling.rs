//! The poll pipeline against the 3CX simulator: the client, scheduler, poller and recorder on
//! real stores, with every fault the simulator offers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use sikurd::clock::Clock;
use sikurd::domain::{
    BackupOutcome, Instance, InstanceName, InstanceStatus, PbxAddress, PbxCredentials, PollOutcome, TenantId,
};
use sikurd::events::{DetailType, EventPublisher, InProcessBus, handler_fn};
use sikurd::pbx::{Known, PbxClient, PbxClientConfig, PollFailure};
use sikurd::polling::{
    InstancePolled, InstancesPolled, POLL_INTERVAL, PollBatch, PollTarget, Poller, Recorder, Scheduler, known_of,
    slot_of,
};
use sikurd_pbx_sim::{Faults, PbxSpec, SimConfig, Simulator};
use sikurd_tests::{StoreFixture, dynamo_store, embedded_store};

/// A simulator, a store, and the poller wired to an in-process bus.
struct World {
    sim: Simulator,
    f: StoreFixture,
    client: Arc<PbxClient>,
    poller: Poller,
    bus: InProcessBus,
    tenant: TenantId,
    polled: Arc<std::sync::Mutex<Vec<InstancePolled>>>,
}

fn client_config(sim: &Simulator) -> PbxClientConfig {
    PbxClientConfig {
        poll_deadline: Duration::from_secs(3),
        request_timeout: Duration::from_secs(2),
        extra_root_certificates: sim.ca_pem().into_iter().collect(),
        ..PbxClientConfig::local()
    }
}

async fn world_with(f: StoreFixture, sim_config: SimConfig) -> World {
    let sim = Simulator::start(sim_config).await.unwrap();
    let client = Arc::new(PbxClient::new(client_config(&sim)).unwrap());
    let bus = InProcessBus::new();
    let events: Arc<dyn EventPublisher> = Arc::new(bus.clone());
    let recorder = Recorder::new(f.store.clone(), f.tables.clock.clone());
    let poller = Poller::new(f.store.clone(), client.clone(), recorder, events, 64);
    let polled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = polled.clone();
    bus.subscribe(
        DetailType::INSTANCE_POLLED,
        handler_fn(move |event| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().extend(event.payload::<InstancesPolled>().unwrap().polled);
                Ok(())
            }
        }),
    );
    let tenant = TenantId::generate();
    World { sim, f, client, poller, bus, tenant, polled }
}

async fn world() -> World {
    world_with(embedded_store(), SimConfig::default()).await
}

impl World {
    /// Adds the PBX to the simulator and registers it (admin login) in the store.
    async fn register(&self, spec: PbxSpec) -> Instance {
        let admin = spec.admin.clone().unwrap();
        self.register_with(spec, PbxCredentials::admin(&admin.username, SecretString::from(admin.password)).unwrap())
            .await
    }

    async fn register_with(&self, spec: PbxSpec, credentials: PbxCredentials) -> Instance {
        let name = spec.name.clone();
        self.sim.add_pbx(spec).unwrap();
        let address = PbxAddress::parse_url(&self.sim.base_url_for(&name)).unwrap();
        let mut instance = Instance::new(
            self.tenant.clone(),
            InstanceName::parse(&name).unwrap(),
            address,
            None,
            self.f.tables.clock.now(),
        );
        instance.credential_kind = Some(credentials.kind());
        self.f.store.instances.create(&instance).await.unwrap();
        self.f.store.credentials.put(&self.tenant, &instance.id, &credentials).await.unwrap();
        instance
    }

    fn batch(&self, instances: &[&Instance]) -> PollBatch {
        PollBatch {
            slot: slot_of(self.f.tables.clock.now()),
            targets: instances
                .iter()
                .map(|i| PollTarget { tenant_id: i.tenant_id.clone(), instance_id: i.id.clone() })
                .collect(),
        }
    }

    async fn stored(&self, instance: &Instance) -> Instance {
        self.f.store.instances.get(&self.tenant, &instance.id).await.unwrap().unwrap()
    }

    fn next_slot(&self) {
        self.f.tables.clock.advance(POLL_INTERVAL);
    }

    /// Moves to the next slot that is not the instance's hourly full poll.
    async fn next_partial_slot(&self, instance: &Instance) {
        let stored = self.stored(instance).await;
        self.next_slot();
        while known_of(&stored, slot_of(self.f.tables.clock.now())).full {
            self.next_slot();
        }
    }

    /// Polls the instance in the current slot and returns the requests it made, by path.
    async fn requests_of_poll(&self, instance: &Instance) -> BTreeMap<String, u64> {
        let name = instance.name.to_string();
        let before = self.sim.stats(&name).unwrap().requests;
        self.poller.poll_batch(&self.batch(&[instance])).await;
        let mut after = self.sim.stats(&name).unwrap().requests;
        for (path, n) in &before {
            if let Some(count) = after.get_mut(path) {
                *count -= n;
            }
        }
        after.retain(|_, n| *n > 0);
        after
    }
}

fn requests(paths: &[&str]) -> BTreeMap<String, u64> {
    paths.iter().map(|p| ((*p).to_owned(), 1)).collect()
}

fn faulty(name: &str, faults: Faults) -> PbxSpec {
    PbxSpec::healthy(name).with_faults(faults)
}

#[tokio::test]
async fn every_fault_is_recorded_with_its_outcome_while_the_rest_of_the_batch_is_polled_on_time() {
    let w = world().await;
    let healthy = [w.register(PbxSpec::healthy("ok-1")).await, w.register(PbxSpec::healthy("ok-2")).await];
    let cases: Vec<(Instance, InstanceStatus, &str)> = vec![
        (
            w.register(faulty("hang", Faults { hang: true, ..Faults::default() })).await,
            InstanceStatus::Unreachable,
            "timed out",
        ),
        (
            w.register(faulty("err5xx", Faults { server_error: true, ..Faults::default() })).await,
            InstanceStatus::Unreachable,
            "HTTP 503",
        ),
        (
            w.register(faulty("badpw", Faults { wrong_password: true, ..Faults::default() })).await,
            InstanceStatus::LoginFailing,
            "refused the credentials",
        ),
        (
            w.register(faulty("twofa", Faults { two_factor_required: true, ..Faults::default() })).await,
            InstanceStatus::LoginFailing,
            "2FA",
        ),
        (
            w.register(faulty("garbage", Faults { garbage_json: true, ..Faults::default() })).await,
            InstanceStatus::Unreachable,
            "unreadable",
        ),
        (
            w.register(faulty("huge", Faults { huge_body: true, ..Faults::default() })).await,
            InstanceStatus::Unreachable,
            "too large",
        ),
        (
            w.register(faulty("v18", Faults { v18_only: true, ..Faults::default() })).await,
            InstanceStatus::Unsupported,
            "v18",
        ),
        (
            w.register(faulty("trunk", Faults { trunk_down: Some("Primary SIP".into()), ..Faults::default() })).await,
            InstanceStatus::Degraded,
            "trunks offline: Primary SIP",
        ),
        (
            w.register(faulty(
                "svc",
                Faults { services_stopped: vec!["3CXQueueManager01".into()], ..Faults::default() },
            ))
            .await,
            InstanceStatus::Degraded,
            "services not running: 3CXQueueManager01",
        ),
        (
            w.register(faulty("disk", Faults { disk_full: true, ..Faults::default() })).await,
            InstanceStatus::Degraded,
            "disk",
        ),
        (
            w.register(faulty("lic", Faults { licence_expiring_days: Some(10), ..Faults::default() })).await,
            InstanceStatus::Ok,
            "",
        ),
        (
            w.register(faulty("calls", Faults { calls_at_limit: true, ..Faults::default() })).await,
            InstanceStatus::Ok,
            "",
        ),
        (
            w.register(faulty("nobackup", Faults { backup_missing: true, ..Faults::default() })).await,
            InstanceStatus::Ok,
            "",
        ),
        (
            w.register(faulty("slow", Faults { slow: Some(Duration::from_millis(100)), ..Faults::default() })).await,
            InstanceStatus::Ok,
            "",
        ),
    ];
    let mut all: Vec<&Instance> = healthy.iter().collect();
    all.extend(cases.iter().map(|(i, _, _)| i));
    let batch = w.batch(&all);

    let started = std::time::Instant::now();
    let report = w.poller.poll_batch(&batch).await;
    let took = started.elapsed();
    assert_eq!(report.polled.len(), all.len());
    assert_eq!(report.store_errors, 0);
    assert!(took < Duration::from_secs(6), "the batch took {took:?}: one hanging 3CX delayed the rest");

    for instance in &healthy {
        let p = report.polled.iter().find(|p| p.instance_id == instance.id).unwrap();
        assert_eq!(p.status, InstanceStatus::Ok, "{:?}", p.reason);
        assert!(p.snapshot.latency_ms < 1500, "a healthy 3CX took {} ms", p.snapshot.latency_ms);
    }
    for (instance, status, reason) in &cases {
        let stored = w.stored(instance).await;
        assert_eq!(stored.status, *status, "{}: {:?}", instance.name, stored.status_reason);
        assert!(
            stored.status_reason.as_deref().unwrap_or("").contains(reason),
            "{}: reason {:?} lacks {reason:?}",
            instance.name,
            stored.status_reason
        );
        let rows = w.f.store.metrics.range(&w.tenant, &instance.id, batch.slot, batch.slot, 10, None).await.unwrap();
        assert_eq!(rows.items.len(), 1, "{} has one metric row", instance.name);
    }

    let by_name = |n: &str| cases.iter().find(|(i, _, _)| i.name.as_str() == n).map(|(i, _, _)| i).unwrap();
    let trunk = w.stored(by_name("trunk")).await;
    assert!(trunk.trunks.iter().any(|t| t.name == "Primary SIP" && !t.online));
    assert!(trunk.trunks.iter().any(|t| t.name == "Backup SIP" && t.online));

    let lic = w.stored(by_name("lic")).await.licence.unwrap();
    let days = (lic.expires_at.unwrap() - w.f.tables.clock.now()).num_days();
    assert!((9..=10).contains(&days), "licence expires in {days} days");

    let calls = w.f.store.metrics.latest(&w.tenant, &by_name("calls").id).await.unwrap().unwrap();
    assert_eq!(calls.calls_active, calls.max_sim_calls);
    let disk = w.f.store.metrics.latest(&w.tenant, &by_name("disk").id).await.unwrap().unwrap();
    assert_eq!(disk.disk_usage_percent, Some(97));
    let svc = w.f.store.metrics.latest(&w.tenant, &by_name("svc").id).await.unwrap().unwrap();
    assert_eq!(svc.services_not_running, vec!["3CXQueueManager01".to_string()]);
    let hang = w.f.store.metrics.latest(&w.tenant, &by_name("hang").id).await.unwrap().unwrap();
    assert_eq!(hang.outcome, PollOutcome::Unreachable);

    let missed = w.f.store.backups.newest_first(&w.tenant, &by_name("nobackup").id, 50, None).await.unwrap().items;
    assert_eq!(missed.iter().filter(|b| matches!(b.outcome, BackupOutcome::Failed { .. })).count(), 1, "{missed:?}");
    let fine = w.f.store.backups.newest_first(&w.tenant, &healthy[0].id, 50, None).await.unwrap().items;
    assert_eq!(fine.len(), 7, "a healthy 3CX's seven listed backups are recorded");
    assert!(fine.iter().all(|b| b.outcome == BackupOutcome::Succeeded && b.size_bytes.is_some()));

    w.bus.idle().await;
    assert_eq!(w.polled.lock().unwrap().len(), all.len(), "one InstancePolled event per instance");
}

#[tokio::test]
async fn a_token_is_reused_across_polls_and_renewed_once_after_the_3cx_forgets_it() {
    let w = world().await;
    let spec = PbxSpec::healthy("reuse");
    let instance = w.register(spec.clone()).await;
    for _ in 0..10 {
        let report = w.poller.poll_batch(&w.batch(&[&instance])).await;
        assert_eq!(report.polled[0].status, InstanceStatus::Ok);
        w.next_slot();
    }
    assert_eq!(w.sim.stats("reuse").unwrap().logins, 1, "10 polls, one login");
    assert_eq!(w.client.logins(), 1);

    // The 3CX restarts and forgets every token: one 401, one fresh login, and the poll succeeds.
    w.sim.remove_pbx("reuse");
    w.sim.add_pbx(spec).unwrap();
    let report = w.poller.poll_batch(&w.batch(&[&instance])).await;
    assert_eq!(report.polled[0].status, InstanceStatus::Ok, "{:?}", report.polled[0].reason);
    let stats = w.sim.stats("reuse").unwrap();
    assert_eq!(stats.logins, 1);
    assert_eq!(stats.unauthorized, 1);
    assert_eq!(w.client.logins(), 2);
}

#[tokio::test]
async fn a_token_kept_in_the_store_serves_pollers_in_other_processes() {
    let w = world().await;
    let instance = w.register(PbxSpec::healthy("kept-token")).await;
    // Each poll in a new process (a new client and poller), as Lambda containers are.
    let poll_elsewhere = || async {
        let client = Arc::new(PbxClient::new(client_config(&w.sim)).unwrap());
        let recorder = Recorder::new(w.f.store.clone(), w.f.tables.clock.clone());
        let events: Arc<dyn EventPublisher> = Arc::new(InProcessBus::new());
        let poller = Poller::new(w.f.store.clone(), client, recorder, events, 4);
        let report = poller.poll_batch(&w.batch(&[&instance])).await;
        assert_eq!(report.polled.len(), 1);
        assert_eq!(report.polled[0].status, InstanceStatus::Ok);
        w.next_slot();
    };
    for _ in 0..4 {
        poll_elsewhere().await;
    }
    let logins = || w.sim.stats("kept-token").unwrap().logins;
    assert_eq!(logins(), 1, "one login serves every process");

    let raw = String::from_utf8_lossy(&w.f.raw_contents().await).into_owned();
    assert!(!raw.contains("eyJ"), "the kept token is stored sealed, never as a readable JWT");

    let admin = PbxSpec::healthy("kept-token").admin.unwrap();
    let replaced = PbxCredentials::admin(&admin.username, SecretString::from(admin.password)).unwrap();
    w.f.store.credentials.put(&w.tenant, &instance.id, &replaced).await.unwrap();
    poll_elsewhere().await;
    assert_eq!(logins(), 2, "a token obtained with earlier credentials is not used");
    poll_elsewhere().await;
    assert_eq!(logins(), 2);
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_before_they_expire() {
    let w = world().await;
    let faults = Faults { token_lifetime: Duration::from_secs(3), ..Faults::default() };
    let instance = w.register(faulty("short", faults)).await;
    for _ in 0..3 {
        let report = w.poller.poll_batch(&w.batch(&[&instance])).await;
        assert_eq!(report.polled[0].status, InstanceStatus::Ok, "{:?}", report.polled[0].reason);
        tokio::time::sleep(Duration::from_millis(3100)).await;
        w.next_slot();
    }
    let stats = w.sim.stats("short").unwrap();
    assert_eq!(stats.logins, 3);
    assert_eq!(stats.unauthorized, 0, "an expiring token is renewed, not sent");
}

#[tokio::test]
async fn api_client_credentials_log_in_through_connect_token() {
    let w = world().await;
    let spec = PbxSpec::healthy("api").without_admin();
    let client = spec.client.clone().unwrap();
    let credentials =
        PbxCredentials::client_credentials(&client.client_id, SecretString::from(client.client_secret)).unwrap();
    let instance = w.register_with(spec, credentials).await;
    let report = w.poller.poll_batch(&w.batch(&[&instance])).await;
    assert_eq!(report.polled[0].status, InstanceStatus::Ok, "{:?}", report.polled[0].reason);
    assert_eq!(w.sim.stats("api").unwrap().requests.get("/connect/token"), Some(&1));
}

#[tokio::test]
async fn a_3cx_older_than_v20_is_unsupported() {
    let w = world().await;
    let instance = w.register(PbxSpec::healthy("old").with_version("19.0.3.100")).await;
    let report = w.poller.poll_batch(&w.batch(&[&instance])).await;
    assert_eq!(report.polled[0].status, InstanceStatus::Unsupported);
    assert!(report.polled[0].reason.as_deref().unwrap_or("").contains("19.0.3.100"));
}

#[tokio::test]
async fn a_redelivered_batch_writes_no_second_metric_row_or_backup_record() {
    let w = world().await;
    let a = w.register(PbxSpec::healthy("a")).await;
    let b = w.register(faulty("b", Faults { backup_missing: true, ..Faults::default() })).await;
    let batch = w.batch(&[&a, &b]);
    w.poller.poll_batch(&batch).await;
    let count = |i: Instance| {
        let backups = w.f.store.backups.clone();
        let tenant = w.tenant.clone();
        async move { backups.newest_first(&tenant, &i.id, 100, None).await.unwrap().items.len() }
    };
    let (before_a, before_b) = (count(a.clone()).await, count(b.clone()).await);
    w.f.counting.reset();
    w.poller.poll_batch(&batch).await;
    assert_eq!(w.f.counting.counts().items_written, 0, "nothing changed, nothing written");
    for i in [&a, &b] {
        assert_eq!(
            w.f.store.metrics.range(&w.tenant, &i.id, batch.slot, batch.slot, 10, None).await.unwrap().items.len(),
            1
        );
    }
    assert_eq!(count(a.clone()).await, before_a);
    assert_eq!(count(b.clone()).await, before_b);
}

#[tokio::test]
async fn a_poll_reads_only_what_the_system_status_shows_changed() {
    const STATUS: &str = "/xapi/v1/SystemStatus";
    const TRUNKS: &str = "/xapi/v1/Trunks";
    const SERVICES: &str = "/xapi/v1/Services";
    const BACKUPS: &str = "/xapi/v1/Backups";
    const SETTINGS: &str = "/xapi/v1/Backups/Pbx.GetBackupSettings()";
    let w = world().await;
    let instance = w.register(PbxSpec::healthy("delta")).await;
    let first = w.requests_of_poll(&instance).await;
    assert_eq!(first.keys().filter(|p| p.starts_with("/xapi")).count(), 5, "a first poll reads everything: {first:?}");

    w.next_partial_slot(&instance).await;
    assert_eq!(w.requests_of_poll(&instance).await, requests(&[STATUS]), "nothing changed");

    let name = instance.name.to_string();
    w.sim
        .set_faults(
            &name,
            Faults {
                trunk_down: Some("Backup SIP".into()),
                services_stopped: vec!["3CXQueueManager01".into()],
                ..Faults::default()
            },
        )
        .unwrap();
    w.next_partial_slot(&instance).await;
    assert_eq!(w.requests_of_poll(&instance).await, requests(&[STATUS, TRUNKS, SERVICES]));
    let stored = w.stored(&instance).await;
    assert_eq!(stored.status, InstanceStatus::Degraded);
    assert!(stored.trunks.iter().any(|t| t.name == "Backup SIP" && !t.online), "{:?}", stored.trunks);
    assert!(stored.status_reason.as_deref().unwrap_or("").contains("3CXQueueManager01"));

    w.next_partial_slot(&instance).await;
    assert_eq!(
        w.requests_of_poll(&instance).await,
        requests(&[STATUS, TRUNKS, SERVICES]),
        "a trunk offline or a service stopped is read again until it recovers"
    );

    w.sim.set_faults(&name, Faults { backup_missing: true, ..Faults::default() }).unwrap();
    w.next_partial_slot(&instance).await;
    assert_eq!(
        w.requests_of_poll(&instance).await,
        requests(&[STATUS, TRUNKS, BACKUPS]),
        "the trunks recovered, the backup time changed"
    );
    assert_eq!(w.stored(&instance).await.status, InstanceStatus::Ok);
    w.next_partial_slot(&instance).await;
    assert_eq!(w.requests_of_poll(&instance).await, requests(&[STATUS]));

    let full = w.poller.poll_now(&w.batch(&[&instance]).targets[0], w.f.tables.clock.now()).await.unwrap();
    assert!(full.is_some());
    let stats = w.sim.stats(&name).unwrap();
    assert_eq!(stats.requests.get(SETTINGS), Some(&2), "the first poll and poll now read the backup settings");
}

#[tokio::test]
async fn a_steady_poll_writes_its_metric_row_and_a_batch_one_poll_record() {
    let w = world().await;
    let mut fleet = Vec::new();
    for i in 0..5 {
        fleet.push(w.register(PbxSpec::healthy(format!("steady-{i}"))).await);
    }
    let fleet: Vec<&Instance> = fleet.iter().collect();
    w.poller.poll_batch(&w.batch(&fleet)).await;
    w.next_slot();
    w.f.counting.reset();
    w.poller.poll_batch(&w.batch(&fleet)).await;
    assert_eq!(w.f.counting.counts().items_written, 6, "five metric rows and the batch's record");
}

#[tokio::test]
async fn an_instance_no_batch_recorded_for_three_minutes_opens_no_data_and_its_next_poll_resolves_it() {
    let w = world().await;
    let clock = w.f.tables.clock.clone();
    let instance = w.register(PbxSpec::healthy("forgotten")).await;
    let notifier = Arc::new(sikurd_tests::receiver::RecordingNotifier::default());
    let dispatcher = sikurd::alerts::Dispatcher::new(w.f.store.clone(), notifier, clock.clone());
    let evaluator = Arc::new(sikurd::alerts::Evaluator::new(w.f.store.clone(), clock.clone(), dispatcher, None));
    w.bus.subscribe(DetailType::INSTANCE_POLLED, evaluator.clone());
    w.bus.subscribe(DetailType::INSTANCE_NOT_POLLED, evaluator);
    let scheduler =
        Scheduler::new(w.f.store.instances.clone(), Arc::new(w.bus.clone())).watching(w.f.store.poll_log.clone());
    let no_data = || async {
        let filter = sikurd::store::AlertFilter {
            kind: Some(sikurd::alerts::AlertKind::NoData),
            ..sikurd::store::AlertFilter::default()
        };
        w.f.store.alerts.list(&w.tenant, &filter, 10, None).await.unwrap().items
    };

    // The scheduler was not running before: nothing is reported for those minutes.
    for _ in 0..4 {
        w.next_slot();
    }
    // Ticks run, but nothing polls (no poller subscribed): the third tick in a row reports it.
    let mut reports = Vec::new();
    for _ in 0..4 {
        reports.push(scheduler.tick(clock.now()).await.unwrap().not_polled);
        w.bus.idle().await;
        w.next_slot();
    }
    assert_eq!(reports, [0, 0, 0, 1], "reported once three ticked minutes passed without a poll");
    let open = no_data().await;
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!((open[0].instance_id.clone(), open[0].status), (instance.id.clone(), sikurd::alerts::AlertStatus::Open));
    assert!(open[0].detail.contains("our polling is failing"), "{}", open[0].detail);

    w.bus.subscribe(DetailType::POLL_BATCH, Arc::new(w.poller.clone()));
    let report = scheduler.tick(clock.now()).await.unwrap();
    assert_eq!(report.not_polled, 1, "not polled yet when this tick began");
    w.bus.idle().await;
    let after = no_data().await;
    assert_eq!(after.len(), 1, "no second alert: {after:#?}");
    assert_eq!(after[0].status, sikurd::alerts::AlertStatus::Resolved, "the poll resolved it");
    w.next_slot();
    assert_eq!(scheduler.tick(clock.now()).await.unwrap().not_polled, 0);
}

pub(crate) async fn pii_never_reaches_the_store(f: StoreFixture) {
    let w = world_with(f, SimConfig::default()).await;
    let canaries = ["Jane Canary-Doe", "jane.canary@example.org", "+44 20 7946 0999", "Extension Canary Name"];
    let faults = Faults { pii_canaries: canaries.iter().map(|c| c.to_string()).collect(), ..Faults::default() };
    let a = w.register(faulty("pii-a", faults.clone())).await;
    let b = w.register(faulty("pii-b", Faults { calls_at_limit: true, ..faults })).await;
    for _ in 0..2 {
        let report = w.poller.poll_batch(&w.batch(&[&a, &b])).await;
        assert!(report.polled.iter().all(|p| p.status == InstanceStatus::Ok));
        w.next_slot();
    }
    w.bus.idle().await;
    let raw = w.f.raw_contents().await;
    assert!(raw.windows(a.id.as_str().len()).any(|x| x == a.id.as_str().as_bytes()), "the raw read sees the store");
    for canary in canaries {
        assert!(!raw.windows(canary.len()).any(|x| x == canary.as_bytes()), "{canary} reached the store");
    }
    for name in ["pii-a", "pii-b"] {
        assert_eq!(w.sim.stats(name).unwrap().pii_requests, 0, "the client asked {name} for personal data");
    }
    let events = serde_json::to_string(&*w.polled.lock().unwrap()).unwrap();
    for canary in canaries {
        assert!(!events.contains(canary), "{canary} reached an InstancePolled event");
    }
}

#[tokio::test]
async fn personal_data_in_3cx_answers_never_reaches_the_embedded_store() {
    pii_never_reaches_the_store(embedded_store()).await;
}

#[tokio::test]
async fn personal_data_in_3cx_answers_never_reaches_dynamodb() {
    pii_never_reaches_the_store(dynamo_store().await).await;
}

#[tokio::test]
async fn tls_is_verified_against_trusted_certificates_only() {
    let w = world_with(embedded_store(), SimConfig::tls()).await;
    let instance = w.register(PbxSpec::healthy("tls")).await;
    let report = w.poller.poll_batch(&w.batch(&[&instance])).await;
    assert_eq!(report.polled[0].status, InstanceStatus::Ok, "{:?}", report.polled[0].reason);

    let untrusting =
        PbxClient::new(PbxClientConfig { poll_deadline: Duration::from_secs(3), ..PbxClientConfig::local() }).unwrap();
    let credentials = w.f.store.credentials.get(&w.tenant, &instance.id).await.unwrap().unwrap();
    let result = untrusting.poll(&instance.id, &instance.address, &credentials, &Known::nothing()).await.result;
    assert!(matches!(&result, Err(PollFailure::Unreachable(why)) if why.contains("certificate")), "{result:?}");
}

#[tokio::test]
async fn the_cloud_client_refuses_loopback_private_and_plain_http_targets() {
    let w = world().await;
    let instance = w.register(PbxSpec::healthy("ssrf")).await;
    let cloud = PbxClient::new(PbxClientConfig::cloud()).unwrap();
    let credentials = w.f.store.credentials.get(&w.tenant, &instance.id).await.unwrap().unwrap();
    let port = instance.address.port.get();
    for url in [
        format!("https://ssrf.localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("https://10.0.0.8:{port}"),
        format!("https://169.254.169.254:{port}"),
        format!("https://[::1]:{port}"),
        format!("http://ssrf.localhost:{port}"),
        format!("https://localhost:{port}"),
    ] {
        let address = PbxAddress::parse_url(&url).unwrap();
        let result = cloud.poll(&instance.id, &address, &credentials, &Known::nothing()).await.result;
        assert!(matches!(result, Err(PollFailure::Unreachable(_))), "{url}: {result:?}");
    }
    assert_eq!(w.sim.stats("ssrf").unwrap().requests_total, 0, "nothing reached the 3CX");
}

#[tokio::test]
async fn a_tick_polls_every_active_instance_through_the_bus_and_none_deleted() {
    let w = world().await;
    let mut active = Vec::new();
    for i in 0..30 {
        active.push(w.register(PbxSpec::healthy(format!("fleet-{i:02}"))).await);
    }
    let mut gone = w.register(PbxSpec::healthy("gone")).await;
    gone.deleted_at = Some(w.f.tables.clock.now());
    w.f.store.instances.save(&gone).await.unwrap();

    w.bus.subscribe(DetailType::POLL_BATCH, Arc::new(w.poller.clone()));
    let scheduler = Scheduler::new(w.f.store.instances.clone(), Arc::new(w.bus.clone()));
    let tick = scheduler.tick(w.f.tables.clock.now()).await.unwrap();
    assert_eq!(tick.instances, 30);
    assert_eq!(tick.batches, 2);
    w.bus.idle().await;
    let polled = w.polled.lock().unwrap().clone();
    assert_eq!(polled.len(), 30);
    assert!(polled.iter().all(|p| p.status == InstanceStatus::Ok));
    assert!(polled.iter().all(|p| p.instance_id != gone.id));
    assert_eq!(w.sim.stats("gone").unwrap().requests_total, 0);
    let previous = polled.iter().filter(|p| p.previous_status == InstanceStatus::NeverPolled).count();
    assert_eq!(previous, 30);
}

#[tokio::test]
async fn a_delete_made_while_an_instance_is_being_polled_is_not_undone_by_the_poll() {
    let w = world().await;
    let slow =
        Faults { slow: Some(Duration::from_millis(300)), trunk_down: Some("Primary SIP".into()), ..Faults::default() };
    let instance = w.register(faulty("racing", slow)).await;
    let batch = w.batch(&[&instance]);
    let poll = {
        let poller = w.poller.clone();
        tokio::spawn(async move { poller.poll_batch(&batch).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    w.f.store.instances.soft_delete(&w.tenant, &instance.id, w.f.tables.clock.now()).await.unwrap();
    let report = poll.await.unwrap();
    assert_eq!(report.store_errors, 0);

    let stored = w.stored(&instance).await;
    assert!(stored.deleted_at.is_some(), "the poll brought a deleted instance back");
    assert_eq!(stored.status, InstanceStatus::Degraded, "what the poll found is kept too");
    for shard in 0..sikurd::store::keys::POLL_SHARDS {
        let due = w.f.store.instances.due_for_polling_across_tenants(shard, 100, None).await.unwrap();
        assert!(due.items.iter().all(|i| i.id != instance.id), "a deleted instance is still polled");
    }
}
