//! The `export` binary under the Lambda Runtime API emulator, against moto (DynamoDB and S3):
//! the sample request, aimed at a seeded tenant, answers a link that downloads the archive; a
//! malformed request or an unknown tenant is a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};
use sikurd::domain::{Instance, InstanceName, MetricSnapshot, PbxAddress, PollOutcome};
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_request_exports_the_tenant_to_a_downloadable_archive() {
    let cloud = CloudResources::create().await;
    let bucket = sikurd_tests::moto().fresh_bucket().await;
    let now = Utc::now();
    let (tenant, _) = cloud.tenant_with_owner("Events MSP").await;
    let instance = Instance::new(
        tenant.id.clone(),
        InstanceName::parse("Head office").unwrap(),
        PbxAddress::parse_url("https://pbx.example.com").unwrap(),
        None,
        now,
    );
    cloud.store.instances.create(&instance).await.unwrap();
    for minute in 0..10 {
        let at = now - chrono::Duration::minutes(minute);
        cloud
            .store
            .metrics
            .record(&tenant.id, &instance.id, &MetricSnapshot::failed(at, PollOutcome::Ok, 40))
            .await
            .unwrap();
    }

    let binary = Path::new(env!("CARGO_BIN_EXE_export"));
    let env: Vec<(String, String)> = cloud
        .environment(&[("SIKURD_EXPORT_BUCKET", bucket.as_str())])
        .into_iter()
        .filter(|(k, _)| k != "SIKURD_KMS_KEY_ID" && k != "SIKURD_EVENT_BUS_NAME" && k != "SIKURD_SENDER_EMAIL")
        .collect();
    let mut function = LambdaFunction::start(binary, "export", &env).await;

    let mut request = sample_event("export-request.json");
    request["tenant_id"] = json!(tenant.id);
    let answer = function.invoke(request, LIMIT).await.response();
    let files = answer["manifest"]["files"].as_array().unwrap();
    let rows = |name: &str| files.iter().find(|f| f["name"] == name).unwrap()["rows"].as_u64().unwrap();
    assert_eq!((rows("users.jsonl"), rows("instances.csv"), rows("metrics.jsonl")), (1, 1, 10), "{answer}");
    assert_eq!(answer["manifest"]["requested_by"], "Ada Lovelace (Sikurd support)");
    let archive = reqwest::get(answer["download_url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&archive)), answer["sha256"].as_str().unwrap());

    let bad = function.invoke(json!({ "tenant": "x" }), LIMIT).await.error();
    assert!(bad["errorMessage"].as_str().unwrap().contains("tenant_id"), "{bad}");
    let unknown = function
        .invoke(json!({ "tenant_id": sikurd::domain::TenantId::generate(), "requested_by": "Ada" }), LIMIT)
        .await
        .error();
    assert!(unknown["errorMessage"].as_str().unwrap().starts_with("no tenant"), "{unknown}");
}
