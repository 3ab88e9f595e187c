//! The `retention` binary under the Lambda Runtime API emulator, against moto: with the
//! nightly schedule's sample event, it purges an instance deleted 31 days ago with its data,
//! leaves one deleted yesterday, and a second night finds nothing to do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sikurd::domain::{
    Instance, InstanceName, MetricSnapshot, PbxAddress, PbxCredentials, PollOutcome, RESTORE_WINDOW_DAYS, TenantId,
};
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};

const LIMIT: Duration = Duration::from_secs(60);

async fn deleted_instance(cloud: &CloudResources, tenant: &TenantId, name: &str, days_ago: i64) -> Instance {
    let now = Utc::now();
    let mut instance = Instance::new(
        tenant.clone(),
        InstanceName::parse(name).unwrap(),
        PbxAddress::parse_url("https://pbx.example.com").unwrap(),
        None,
        now - chrono::Duration::days(60),
    );
    instance.deleted_at = Some(now - chrono::Duration::days(days_ago));
    cloud.store.instances.create(&instance).await.unwrap();
    let credentials = PbxCredentials::admin("admin", "a-3cx-password".to_owned().into()).unwrap();
    cloud.store.credentials.put(tenant, &instance.id, &credentials).await.unwrap();
    for minute in 0..3 {
        let at = now - chrono::Duration::days(days_ago + 1) + chrono::Duration::minutes(minute);
        cloud
            .store
            .metrics
            .record(tenant, &instance.id, &MetricSnapshot::failed(at, PollOutcome::Ok, 40))
            .await
            .unwrap();
    }
    instance
}

#[tokio::test(flavor = "multi_thread")]
async fn the_nightly_run_purges_instances_deleted_more_than_30_days_ago_and_then_idles() {
    let cloud = CloudResources::create().await;
    let tenant = TenantId::generate();
    let old = deleted_instance(&cloud, &tenant, "Closed site", RESTORE_WINDOW_DAYS + 1).await;
    let recent = deleted_instance(&cloud, &tenant, "Paused site", 1).await;

    let binary = Path::new(env!("CARGO_BIN_EXE_retention"));
    // The table and the bucket: the function holds no keys.
    let bucket = sikurd_tests::moto().fresh_bucket().await;
    let env: Vec<(String, String)> = cloud
        .environment(&[("SIKURD_EXPORT_BUCKET", bucket.as_str())])
        .into_iter()
        .filter(|(k, _)| k != "SIKURD_KMS_KEY_ID" && k != "SIKURD_EVENT_BUS_NAME" && k != "SIKURD_SENDER_EMAIL")
        .collect();
    let mut function = LambdaFunction::start(binary, "retention", &env).await;

    let first = function.invoke(sample_event("retention-nightly.json"), LIMIT).await.response();
    assert_eq!(first["instances_purged"], 1, "{first}");
    assert_eq!(first["finished"], true, "{first}");
    assert_eq!(cloud.store.instances.get(&tenant, &old.id).await.unwrap(), None);
    assert!(cloud.store.credentials.get(&tenant, &old.id).await.unwrap().is_none());
    assert_eq!(cloud.store.metrics.latest(&tenant, &old.id).await.unwrap(), None);
    assert!(cloud.store.instances.get(&tenant, &recent.id).await.unwrap().is_some(), "restorable for 30 days");
    assert!(cloud.store.credentials.get(&tenant, &recent.id).await.unwrap().is_some());

    let second = function.invoke(sample_event("retention-nightly.json"), LIMIT).await.response();
    assert_eq!(
        second,
        json!({
            "days_rolled_up": 0, "instances_purged": 0, "expired_items_deleted": 0, "exports_deleted": 0,
            "tenants_deleted": 0, "finished": true
        })
    );
}
