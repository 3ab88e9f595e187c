//! The `tenant-delete` binary under the Lambda Runtime API emulator, against moto: with the
//! sample events, a request without a way to send e-mail fails saying so, and a purge carries
//! out a confirmed deletion (the tenant gone, its ledger entry done); malformed requests are
//! clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sikurd::blobs::S3Blobs;
use sikurd::clock::SystemClock;
use sikurd::domain::Email;
use sikurd::lifecycle::TenantDeletion;
use sikurd::notify::OutboxMailer;
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmed_deletion_is_carried_out_by_the_purge_and_a_request_needs_e_mail() {
    let cloud = CloudResources::create().await;
    let bucket = sikurd_tests::moto().fresh_bucket().await;
    let (tenant, owner) = cloud.tenant_with_owner("Events MSP").await;

    let binary = Path::new(env!("CARGO_BIN_EXE_tenant-delete"));
    let env: Vec<(String, String)> = cloud
        .environment(&[("SIKURD_EXPORT_BUCKET", bucket.as_str()), ("SIKURD_PUBLIC_URL", "https://app.sikurd.example")])
        .into_iter()
        .filter(|(k, _)| k != "SIKURD_KMS_KEY_ID" && k != "SIKURD_EVENT_BUS_NAME")
        .collect();
    let mut function = LambdaFunction::start(binary, "tenant-delete", &env).await;

    // This deployment has no SendGrid key: the owner cannot be asked, and the answer says so.
    let mut request = sample_event("tenant-delete-request.json");
    request["tenant_id"] = json!(tenant.id);
    let refused = function.invoke(request, LIMIT).await.error();
    assert!(refused["errorMessage"].as_str().unwrap().contains("e-mail is not configured"), "{refused}");
    let bad = function.invoke(json!({ "action": "erase" }), LIMIT).await.error();
    assert!(bad["errorMessage"].as_str().unwrap().contains("\"purge\""), "{bad}");

    // Asked and confirmed (the owner's side), then carried out by the function.
    let table = Arc::new(sikurd::table::DynamoTable::new(
        sikurd_tests::moto().dynamodb().await,
        &cloud.table,
        Arc::new(SystemClock),
    ));
    let blobs = Arc::new(S3Blobs::new(sikurd_tests::moto().s3().await, bucket.clone()));
    let deletion = TenantDeletion::new(cloud.store.clone(), table, blobs, Arc::new(SystemClock));
    let outbox = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(outbox.path(), Email::parse("support@sikurd.example").unwrap());
    deletion.request(&tenant.id, "Ada", &mailer, "https://app.sikurd.example/#/confirm-deletion/").await.unwrap();
    let message = std::fs::read_dir(outbox.path()).unwrap().filter_map(Result::ok).next().unwrap().path();
    let message: serde_json::Value = serde_json::from_slice(&std::fs::read(message).unwrap()).unwrap();
    let token = message["text"]
        .as_str()
        .unwrap()
        .split("/#/confirm-deletion/")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    deletion.confirm(&token).await.unwrap();

    // The api announces the confirmation on the bus; its rule delivers it here.
    let mut confirmed = sample_event("tenant-deletion-confirmed.json");
    confirmed["detail"]["tenant_id"] = json!(tenant.id);
    let purged = function.invoke(confirmed, LIMIT).await.response();
    assert_eq!(purged, json!({ "done": "purged", "tenants_deleted": 1, "finished": true }));
    assert_eq!(cloud.store.tenants.get(&tenant.id).await.unwrap(), None);
    assert!(cloud.store.tenants.find_user_by_email_across_tenants(&owner.email).await.unwrap().is_none());
    let ledger = deletion.ledger(&tenant.id).await.unwrap().unwrap();
    assert!(ledger.deleted_at.is_some());
    let again = function.invoke(sample_event("tenant-delete-purge.json"), LIMIT).await.response();
    assert_eq!(again, json!({ "done": "purged", "tenants_deleted": 0, "finished": true }));
}
