//! The retention job over both table adapters, the clock moved instead of waited: metrics gone
//! from every read after 90 days, deleted instances purged after 30 days with their data while
//! their alerts and audit entries stay, runs cut short finished by the next, second runs idle.

use std::sync::Arc;
use std::time::{Duration as Wall, Instant};

use axum::http::StatusCode;
use chrono::Duration;
use sikurd::alerts::AlertKind;
use sikurd::blobs::Blobs;
use sikurd::clock::Clock;
use sikurd::config::Deployment;
use sikurd::domain::{BackupOutcome, BackupRecord, InstanceId, MetricSnapshot, PbxCredentials, PollOutcome, TenantId};
use sikurd::lifecycle::{Retention, RetentionReport};
use sikurd::table::{Query, Table};
use sikurd_tests::StoreFixture;
use sikurd_tests::api::{ApiFixture, FakePoller, Session, test_config};

fn api_over(stores: StoreFixture) -> ApiFixture {
    let poller = Arc::new(FakePoller { store: stores.store.clone() });
    ApiFixture::assemble(stores, test_config(Deployment::Cloud), poller)
}

fn retention(api: &ApiFixture) -> Retention {
    Retention::new(api.store().clone(), Arc::new(api.stores.counting.clone()))
}

fn soon() -> Instant {
    Instant::now() + Wall::from_secs(60)
}

fn ids(session: &Session, instance: &str) -> (TenantId, InstanceId) {
    (TenantId::parse(&session.tenant_id).unwrap(), InstanceId::parse(instance).unwrap())
}

/// Items of the instance's partition that a read can see.
async fn instance_data(api: &ApiFixture, tenant: &TenantId, instance: &InstanceId) -> usize {
    let partition = sikurd::store::keys::instance_data(tenant, instance);
    api.stores.counting.query(&Query::partition(partition).limit(1000)).await.unwrap().items.len()
}

pub(crate) mod cases {
    use super::*;

    pub async fn metrics_older_than_90_days_are_gone_from_every_read(stores: StoreFixture) {
        let embedded = stores.tables.file.is_some();
        let api = api_over(stores);
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let instance = api.add_instance(&owner, "Head office", None).await;
        let (tenant, id) = ids(&owner, &instance);
        let start = api.clock().now();
        for minute in 0..5 {
            let snapshot = MetricSnapshot::failed(start + Duration::minutes(minute), PollOutcome::Ok, 50);
            api.store().metrics.record(&tenant, &id, &snapshot).await.unwrap();
        }
        let path = format!(
            "/api/v1/instances/{instance}/metrics?from={}&to={}",
            (start - Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
            (start + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ")
        );
        let before = api.send(owner.get(&path)).await;
        assert_eq!(before.json["points"].as_array().map(Vec::len), Some(5), "{}", before.text);

        api.clock().advance(Duration::days(91));
        // The session ended meanwhile; a new one reads what is left.
        let owner = api.session_of("owner@acme.example").await;
        let range =
            api.store().metrics.range(&tenant, &id, start, start + Duration::hours(1), 100, None).await.unwrap();
        assert!(range.items.is_empty(), "the store still reads {} expired rows", range.items.len());
        assert_eq!(api.store().metrics.latest(&tenant, &id).await.unwrap(), None);
        let listed = api.send(owner.get("/api/v1/instances")).await;
        assert_eq!(listed.json["items"][0]["last_snapshot"], serde_json::Value::Null, "{}", listed.text);
        let charted = api.send(owner.get(&path)).await;
        assert_eq!(charted.status, StatusCode::OK, "{}", charted.text);
        assert_eq!(charted.json["points"], serde_json::json!([]), "the chart of those hours is empty");

        let report = retention(&api).run(api.clock().now(), soon()).await.unwrap();
        assert!(report.finished);
        if embedded {
            assert!(report.expired_items_deleted >= 5, "the embedded table deletes what expired: {report:?}");
        } else {
            assert_eq!(report.expired_items_deleted, 0, "DynamoDB's TTL deletes them");
        }
        let again = retention(&api).run(api.clock().now(), soon()).await.unwrap();
        assert_eq!(
            again,
            RetentionReport { finished: true, ..RetentionReport::default() },
            "a second run does nothing"
        );
    }

    pub async fn an_instance_deleted_31_days_ago_is_purged_and_its_alerts_and_audit_entries_stay(stores: StoreFixture) {
        let api = api_over(stores);
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let instance = api.add_instance(&owner, "Head office", Some("Acme")).await;
        let keep = api.add_instance(&owner, "Branch", Some("Acme")).await;
        let (tenant, id) = ids(&owner, &instance);
        let now = api.clock().now();
        for minute in 0..3 {
            let snapshot = MetricSnapshot::failed(now + Duration::minutes(minute), PollOutcome::Ok, 50);
            api.store().metrics.record(&tenant, &id, &snapshot).await.unwrap();
            api.store().metrics.record(&tenant, &ids(&owner, &keep).1, &snapshot).await.unwrap();
        }
        let backup = BackupRecord { at: now, size_bytes: Some(42), outcome: BackupOutcome::Succeeded };
        api.store().backups.record(&tenant, &id, "nightly.zip", &backup).await.unwrap();
        let alert = api.open_alert(&tenant, &id, "Head office", AlertKind::TrunkDown).await;
        assert!(api.store().credentials.get(&tenant, &id).await.unwrap().is_some());
        let deleted = api.send(owner.delete(&format!("/api/v1/instances/{instance}"))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);

        // Kept (and restorable) for 30 days.
        api.clock().advance(Duration::days(29));
        let report = retention(&api).run(api.clock().now(), soon()).await.unwrap();
        assert_eq!(report.instances_purged, 0);
        assert!(api.store().instances.get(&tenant, &id).await.unwrap().is_some());

        api.clock().advance(Duration::days(2));
        let report = retention(&api).run(api.clock().now(), soon()).await.unwrap();
        assert_eq!(report.instances_purged, 1, "{report:?}");
        assert!(report.finished);
        assert_eq!(api.store().instances.get(&tenant, &id).await.unwrap(), None);
        assert!(api.store().credentials.get(&tenant, &id).await.unwrap().is_none(), "the credentials are purged");
        assert_eq!(instance_data(&api, &tenant, &id).await, 0, "metrics, backups, alert state are purged");
        assert!(api.store().instances.get(&tenant, &ids(&owner, &keep).1).await.unwrap().is_some());
        assert!(api.store().backups.newest_first(&tenant, &id, 10, None).await.unwrap().items.is_empty());

        let owner = api.session_of("owner@acme.example").await;
        api.send(owner.get(&format!("/api/v1/instances/{instance}")))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let kept = api.send(owner.get(&format!("/api/v1/alerts/{alert}"))).await;
        assert_eq!(kept.status, StatusCode::OK, "the alert stays: {}", kept.text);
        assert_eq!(kept.json["instance_name"], "Head office");
        let audit = api.send(owner.get("/api/v1/audit?limit=200")).await;
        let delete_entry = audit.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "instance.delete")
            .cloned()
            .unwrap_or_else(|| panic!("no instance.delete entry: {}", audit.text));
        assert_eq!(delete_entry["target"], instance.as_str());
        assert_eq!(delete_entry["target_name"], "Head office", "the audit entry keeps the name");

        let again = retention(&api).run(api.clock().now(), soon()).await.unwrap();
        assert_eq!((again.instances_purged, again.days_rolled_up), (0, 0), "a second run does nothing: {again:?}");
    }

    pub async fn a_purge_cut_short_loses_nothing_and_the_next_run_finishes_it(stores: StoreFixture) {
        let api = api_over(stores);
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let instance = api.add_instance(&owner, "Head office", None).await;
        let (tenant, id) = ids(&owner, &instance);
        let now = api.clock().now();
        // More rows than one purge batch (500).
        for minute in 0..620 {
            let snapshot = MetricSnapshot::failed(now + Duration::minutes(minute), PollOutcome::Ok, 50);
            api.store().metrics.record(&tenant, &id, &snapshot).await.unwrap();
        }
        let credentials = PbxCredentials::admin("admin", "pw".to_owned().into()).unwrap();
        api.store().credentials.put(&tenant, &id, &credentials).await.unwrap();
        api.send(owner.delete(&format!("/api/v1/instances/{instance}"))).await;
        api.clock().advance(Duration::days(31));

        // A deadline already passed: one batch, then the run stops.
        let cut = retention(&api).run(api.clock().now(), Instant::now()).await.unwrap();
        assert!(!cut.finished, "{cut:?}");
        assert_eq!(cut.instances_purged, 0);
        assert!(api.store().instances.get(&tenant, &id).await.unwrap().is_some(), "the instance item goes last");
        let left = instance_data(&api, &tenant, &id).await;
        assert!(left > 0 && left < 620, "one batch was deleted: {left} rows left");

        let done = retention(&api).run(api.clock().now(), soon()).await.unwrap();
        assert_eq!(done.instances_purged, 1, "{done:?}");
        assert!(done.finished);
        assert_eq!(instance_data(&api, &tenant, &id).await, 0);
        assert_eq!(api.store().instances.get(&tenant, &id).await.unwrap(), None);
    }
}

#[tokio::test]
async fn export_archives_are_deleted_8_days_after_they_were_made() {
    let api = api_over(sikurd_tests::embedded_store());
    let owner = api.sign_up("Acme", "owner@acme.example").await;
    let tenant = TenantId::parse(&owner.tenant_id).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let blobs =
        Arc::new(sikurd::blobs::LocalDirBlobs::open(dir.path().join("blobs"), "http://127.0.0.1:8080".into()).unwrap());
    let clock: Arc<dyn Clock> = api.stores.tables.clock.clone();
    let exporter = sikurd::lifecycle::Exporter::new(api.store().clone(), blobs.clone(), clock);
    let done = exporter.export(&tenant, "Ada").await.unwrap();
    let key = sikurd::blobs::BlobKey::parse(&done.key).unwrap();
    let retention = retention(&api).expiring_exports_in(blobs.clone());

    api.clock().advance(Duration::days(7));
    let report = retention.run(api.clock().now(), soon()).await.unwrap();
    assert_eq!(report.exports_deleted, 0, "the link still works");
    assert!(blobs.get(&key).await.unwrap().is_some());

    api.clock().advance(Duration::days(2));
    let report = retention.run(api.clock().now(), soon()).await.unwrap();
    assert_eq!(report.exports_deleted, 1);
    assert!(blobs.get(&key).await.unwrap().is_none());
}

sikurd_tests::for_each_store!(
    metrics_older_than_90_days_are_gone_from_every_read,
    an_instance_deleted_31_days_ago_is_purged_and_its_alerts_and_audit_entries_stay,
    a_purge_cut_short_loses_nothing_and_the_next_run_finishes_it,
);
