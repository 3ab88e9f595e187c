//! Monthly availability reports: the nightly roll-up and the report over both table adapters
//! (uptime outside maintenance, incidents from real alerts, backup compliance, peak calls), and
//! the report routes of the API (JSON, CSV, bad months, audit, tenant isolation).

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sikurd::alerts::{Dispatcher, Evaluator, MaintenanceWindow, Scope, WindowSchedule};
use sikurd::clock::Clock;
use sikurd::domain::{
    BackupOutcome, BackupRecord, GroupName, Instance, InstanceName, MetricSnapshot, PbxAddress, PollOutcome, TenantId,
};
use sikurd::reports::{AvailabilityReport, Month, Reporter, midnight};
use sikurd_tests::api::ApiFixture;
use sikurd_tests::receiver::{RecordingNotifier, instance_polled};
use sikurd_tests::{StoreFixture, dynamo_store, embedded_store};

/// A tenant with two instances and, two days before the fixture's clock, a day of history for
/// one of them: `Head office` (group Acme) and `Spare` (no group, no metrics).
struct Seeded {
    stores: StoreFixture,
    tenant: TenantId,
    office: Instance,
    day: NaiveDate,
    now: DateTime<Utc>,
}

impl Seeded {
    fn at(&self, hour: i64, minute: i64) -> DateTime<Utc> {
        midnight(self.day) + Duration::hours(hour) + Duration::minutes(minute)
    }

    fn month(&self) -> Month {
        Month::of(midnight(self.day))
    }

    async fn report(&self) -> AvailabilityReport {
        Reporter::new(self.stores.store.clone())
            .availability(&self.tenant, self.month(), self.now)
            .await
            .unwrap()
            .expect("a report of a month that has begun")
    }
}

fn snapshot(at: DateTime<Utc>, outcome: PollOutcome, calls: Option<u32>) -> MetricSnapshot {
    MetricSnapshot { calls_active: calls, max_sim_calls: calls.map(|_| 8), ..MetricSnapshot::failed(at, outcome, 90) }
}

async fn seed(stores: StoreFixture) -> Seeded {
    let now = stores.tables.clock.now();
    let store = stores.store.clone();
    let tenant = TenantId::generate();
    let added = now - Duration::days(40);
    let office = Instance::new(
        tenant.clone(),
        InstanceName::parse("Head office").unwrap(),
        PbxAddress::parse_url("https://office.example.com").unwrap(),
        Some(GroupName::parse("Acme").unwrap()),
        added,
    );
    let spare = Instance::new(
        tenant.clone(),
        InstanceName::parse("Spare").unwrap(),
        PbxAddress::parse_url("https://spare.example.com").unwrap(),
        None,
        added,
    );
    store.instances.create(&office).await.unwrap();
    store.instances.create(&spare).await.unwrap();
    let seeded = Seeded { stores, tenant, office, day: now.date_naive() - Duration::days(2), now };
    let (tenant, office) = (&seeded.tenant, &seeded.office);

    // Maintenance from 02:00 to 03:00 for the group.
    let window = MaintenanceWindow::new(
        Scope::Group(GroupName::parse("acme").unwrap()),
        WindowSchedule::Once { starts_at: seeded.at(2, 0), ends_at: seeded.at(3, 0) },
    );
    store.alerts.update_settings(tenant, |s| Ok(s.add_window(window.clone())?)).await.unwrap();

    // 6 answered polls (peak 6 of 8 calls), 2 unanswered outside maintenance, 2 within.
    let mut polls: Vec<MetricSnapshot> =
        (0..6).map(|m| snapshot(seeded.at(1, m), PollOutcome::Ok, Some(u32::try_from(m).unwrap() + 1))).collect();
    polls.push(snapshot(seeded.at(3, 30), PollOutcome::Unreachable, None));
    polls.push(snapshot(seeded.at(3, 31), PollOutcome::Unreachable, None));
    polls.push(snapshot(seeded.at(2, 10), PollOutcome::Unreachable, None));
    polls.push(snapshot(seeded.at(2, 20), PollOutcome::Unreachable, None));
    for poll in &polls {
        assert!(store.metrics.record(tenant, &office.id, poll).await.unwrap());
    }
    let backup = BackupRecord { at: seeded.at(0, 30), size_bytes: Some(5 << 20), outcome: BackupOutcome::Succeeded };
    store.backups.record(tenant, &office.id, "office-nightly.zip", &backup).await.unwrap();
    let failed = BackupRecord {
        at: seeded.at(0, 45),
        size_bytes: None,
        outcome: BackupOutcome::Failed { reason: "disk full".into() },
    };
    store.backups.record(tenant, &office.id, "office-retry.zip", &failed).await.unwrap();

    // A trunk seen online, then down from 04:01 (open on the second offline poll, 04:02) to 05:02:
    // one real alert, through the evaluator.
    let clock: Arc<dyn Clock> = seeded.stores.tables.clock.clone();
    let dispatcher = Dispatcher::new(store.clone(), Arc::new(RecordingNotifier::default()), Arc::clone(&clock));
    let evaluator = Evaluator::new(store.clone(), clock, dispatcher, None);
    for (minute, online) in [(0, true), (1, false), (2, false), (62, true), (63, true)] {
        let slot = seeded.at(4, minute);
        seeded.stores.tables.clock.set(slot + Duration::seconds(5));
        evaluator.evaluate(&instance_polled(tenant, &office.id, slot, online)).await.unwrap();
    }
    seeded.stores.tables.clock.set(now);
    seeded
}

async fn a_report_counts_uptime_outside_maintenance_incidents_backups_and_peak_calls(stores: StoreFixture) {
    let seeded = seed(stores).await;
    let report = seeded.report().await;
    assert_eq!(report.month, seeded.month().to_string());
    let office = report.instances.iter().find(|i| i.name == "Head office").expect("the office is in the report");
    assert_eq!((office.days_with_data, office.polls, office.polls_in_maintenance), (1, 10, 2));
    assert_eq!(office.uptime_percent, Some(75.0), "6 of the 8 polls outside maintenance");
    assert_eq!(office.incidents, 1, "{office:?}");
    let minutes = office.incident_minutes;
    assert_eq!(minutes, 60, "open from 04:02 to 05:02");
    assert_eq!((office.backups_succeeded, office.backups_failed), (1, 1));
    assert!(office.backup_compliance_percent.is_some_and(|p| p > 0.0), "{office:?}");
    assert_eq!((office.peak_calls, office.licensed_calls, office.peak_calls_percent), (Some(6), Some(8), Some(75.0)));

    let spare = report.instances.iter().find(|i| i.name == "Spare").expect("the spare is in the report");
    assert_eq!((spare.polls, spare.uptime_percent, spare.incidents), (0, None, 0));
    let groups: Vec<Option<&str>> = report.groups.iter().map(|g| g.group.as_deref()).collect();
    assert_eq!(groups, vec![Some("Acme"), None]);
    assert_eq!(report.groups[0].uptime_percent, Some(75.0));
}

async fn the_nightly_roll_up_writes_each_missing_day_once_and_reports_read_it(stores: StoreFixture) {
    let seeded = seed(stores).await;
    let reporter = Reporter::new(seeded.stores.store.clone());
    let before = seeded.report().await;
    let written = reporter.roll_up_missing(seeded.now, 3).await.unwrap();
    assert_eq!(written, 6, "3 complete days of 2 instances");
    assert_eq!(reporter.roll_up_missing(seeded.now, 3).await.unwrap(), 0, "a second run writes nothing");
    assert_eq!(seeded.report().await, before, "the same report from the roll-ups");

    // A row that arrives after the day was rolled up is not read again: the report reads the
    // roll-up (and one read per instance instead of a day of metrics).
    let late = snapshot(seeded.at(23, 0), PollOutcome::Ok, Some(7));
    seeded.stores.store.metrics.record(&seeded.tenant, &seeded.office.id, &late).await.unwrap();
    let office = |r: &AvailabilityReport| r.instances.iter().find(|i| i.name == "Head office").unwrap().polls;
    assert_eq!(office(&seeded.report().await), 10);
}

mod embedded {
    use super::*;

    #[tokio::test]
    async fn a_report_counts_uptime_outside_maintenance_incidents_backups_and_peak_calls() {
        super::a_report_counts_uptime_outside_maintenance_incidents_backups_and_peak_calls(embedded_store()).await;
    }

    #[tokio::test]
    async fn the_nightly_roll_up_writes_each_missing_day_once_and_reports_read_it() {
        super::the_nightly_roll_up_writes_each_missing_day_once_and_reports_read_it(embedded_store()).await;
    }
}

mod dynamo {
    use super::*;

    #[tokio::test]
    async fn a_report_counts_uptime_outside_maintenance_incidents_backups_and_peak_calls() {
        super::a_report_counts_uptime_outside_maintenance_incidents_backups_and_peak_calls(dynamo_store().await).await;
    }

    #[tokio::test]
    async fn the_nightly_roll_up_writes_each_missing_day_once_and_reports_read_it() {
        super::the_nightly_roll_up_writes_each_missing_day_once_and_reports_read_it(dynamo_store().await).await;
    }
}

mod api {
    use super::*;

    #[tokio::test]
    async fn the_report_answers_as_json_and_csv_to_every_role_and_is_audited() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let office = api.add_instance(&owner, "Head office", Some("Acme")).await;
        let month = Month::of(api.clock().now()).to_string();

        let json = api.send(viewer.get(&format!("/api/v1/reports/availability?month={month}"))).await;
        assert_eq!(json.status, StatusCode::OK, "{}", json.text);
        assert_eq!(json.json["month"], month);
        assert_eq!(json.json["instances"][0]["instance_id"], office);
        assert_eq!(json.json["groups"][0]["group"], "Acme");
        let current = api.send(viewer.get("/api/v1/reports/availability")).await;
        assert_eq!(current.json["month"], month, "the current month by default");

        let csv = api.send(viewer.get(&format!("/api/v1/export/reports.csv?month={month}"))).await;
        assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
        assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
        let disposition = csv.headers["content-disposition"].to_str().unwrap();
        assert!(disposition.contains(&format!("sikurd-report-{month}-")), "{disposition}");
        let lines: Vec<&str> = csv.text.lines().collect();
        assert!(lines[0].starts_with("month,scope,group,instance_id,instance,"), "{}", lines[0]);
        assert!(lines[1].starts_with(&format!("{month},instance,Acme,{office},Head office,")), "{}", lines[1]);
        assert!(lines[2].starts_with(&format!("{month},group,Acme,,,1,")), "{}", lines[2]);
        assert_eq!(lines.len(), 3);

        let audit = api.send(owner.get("/api/v1/audit")).await;
        let actions: Vec<&str> =
            audit.json["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"export.reports_csv"), "{actions:?}");
    }

    #[tokio::test]
    async fn a_malformed_or_future_month_is_the_clients_mistake() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let next = Month::of(api.clock().now() + Duration::days(32)).to_string();
        for path in ["/api/v1/reports/availability", "/api/v1/export/reports.csv"] {
            for month in ["2026-13", "2026-1", "nov", "", next.as_str()] {
                api.send(owner.get(&format!("{path}?month={month}")))
                    .await
                    .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
            }
            api.send(owner.get(&format!("{path}?month=2026-11&x=1")))
                .await
                .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        }
    }

    #[tokio::test]
    async fn a_tenant_reports_only_its_own_instances() {
        let api = ApiFixture::new();
        let acme = api.sign_up("Acme", "owner@acme.example").await;
        let other = api.sign_up("Other", "owner@other.example").await;
        api.add_instance(&acme, "Head office", Some("Acme")).await;
        let report = api.send(other.get("/api/v1/reports/availability")).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.text);
        assert_eq!(report.json["instances"], serde_json::json!([]));
        assert_eq!(report.json["groups"], serde_json::json!([]));
        let csv = api.send(other.get("/api/v1/export/reports.csv")).await;
        assert_eq!(csv.text.lines().count(), 1, "the header only: {}", csv.text);
    }
}
