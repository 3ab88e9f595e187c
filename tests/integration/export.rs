//! The full tenant export over both adapter pairs (embedded table and local blobs; DynamoDB and
//! S3 on moto): everything of the tenant in one zip, nothing of another tenant, no secret, a
//! manifest whose counts and checksums match the files and the store, a working download link,
//! and an audit entry.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sikurd::alerts::AlertKind;
use sikurd::blobs::{Blobs, LocalDirBlobs, S3Blobs};
use sikurd::clock::Clock;
use sikurd::config::Deployment;
use sikurd::domain::{Actor, BackupOutcome, BackupRecord, InstanceId, MetricSnapshot, PollOutcome, TenantId};
use sikurd::lifecycle::{ExportError, Exporter, Manifest};
use sikurd_tests::api::{ApiFixture, FakePoller, Session, test_config};
use sikurd_tests::{StoreFixture, dynamo_store, embedded_store, moto};

const PBX_PASSWORD: &str = "pbx-secret-password"; // what `ApiFixture::add_instance` stores
const HOOK_PATH_SECRET: &str = "T0KEN-in-the-path";

pub(crate) struct World {
    pub(crate) api: ApiFixture,
    pub(crate) blobs: Arc<dyn Blobs>,
    _dir: Option<tempfile::TempDir>,
}

pub(crate) async fn world(stores: StoreFixture, s3: bool) -> World {
    let poller = Arc::new(FakePoller { store: stores.store.clone() });
    let api = ApiFixture::assemble(stores, test_config(Deployment::Local), poller);
    if s3 {
        let blobs = Arc::new(S3Blobs::new(moto().s3().await, moto().fresh_bucket().await));
        return World { api, blobs, _dir: None };
    }
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(LocalDirBlobs::open(dir.path().join("blobs"), "http://127.0.0.1:8080".into()).unwrap());
    World { api, blobs, _dir: Some(dir) }
}

fn ids(session: &Session, instance: &str) -> (TenantId, InstanceId) {
    (TenantId::parse(&session.tenant_id).unwrap(), InstanceId::parse(instance).unwrap())
}

/// A tenant with two users, two instances with metrics and backups, an alert, two channels (one
/// a webhook with a secret path), a route and a window; returns its owner and the webhook's
/// signing secret.
pub(crate) async fn seed(api: &ApiFixture, name: &str) -> (Session, String) {
    let owner = api.sign_up(name, &format!("owner@{}.example", name.to_lowercase())).await;
    api.add_user(&owner, "technician", &format!("tech@{}.example", name.to_lowercase())).await;
    let now = api.clock().now();
    for (n, group) in [("Head office", Some("Main")), ("Branch", None)] {
        let instance = api.add_instance(&owner, &format!("{name} {n}"), group).await;
        let (tenant, id) = ids(&owner, &instance);
        for minute in 0..25 {
            let mut s = MetricSnapshot::failed(now - Duration::minutes(minute), PollOutcome::Ok, 42);
            s.calls_active = Some(3);
            api.store().metrics.record(&tenant, &id, &s).await.unwrap();
        }
        for day in 0..3 {
            let at = now - Duration::days(day);
            let outcome =
                if day == 1 { BackupOutcome::Failed { reason: "disk full".into() } } else { BackupOutcome::Succeeded };
            let b = BackupRecord { at, size_bytes: Some(1 << 20), outcome };
            api.store().backups.record(&tenant, &id, &format!("backup-{day}.zip"), &b).await.unwrap();
        }
        api.open_alert(&tenant, &id, &format!("{name} {n}"), AlertKind::DiskHigh).await;
    }
    let email = api
        .send(owner.post("/api/v1/channels").json(json!({ "name": "NOC", "type": "email", "to": ["noc@example.com"] })))
        .await;
    assert_eq!(email.status, StatusCode::CREATED, "{}", email.text);
    let hook = api
        .send(owner.post("/api/v1/channels").json(json!({
            "name": "Slack", "type": "webhook", "format": "slack",
            "url": format!("https://hooks.example.com/services/{HOOK_PATH_SECRET}")
        })))
        .await;
    assert_eq!(hook.status, StatusCode::CREATED, "{}", hook.text);
    let route =
        api.send(owner.post("/api/v1/routes").json(json!({ "name": "All", "channels": [email.json["id"]] }))).await;
    assert_eq!(route.status, StatusCode::CREATED, "{}", route.text);
    (owner, hook.json["signing_secret"].as_str().unwrap().to_owned())
}

fn files_of(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive)).expect("a valid zip archive");
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let name = file.name().expect("a UTF-8 file name").into_owned();
        let mut body = Vec::new();
        file.read_to_end(&mut body).unwrap();
        files.insert(name, body);
    }
    files
}

fn rows(files: &BTreeMap<String, Vec<u8>>, name: &str) -> Vec<Value> {
    let body = std::str::from_utf8(&files[&format!("{name}.jsonl")]).unwrap();
    body.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

pub(crate) mod cases {
    use super::*;

    pub async fn an_export_holds_everything_of_the_tenant_and_no_secret(w: World) {
        let api = &w.api;
        let (owner, signing_secret) = seed(api, "Acme").await;
        seed(api, "Other").await;
        let tenant = TenantId::parse(&owner.tenant_id).unwrap();
        let audit_before = api.store().audit.newest_first(&tenant, 1000, None).await.unwrap().items.len();

        let exporter = Exporter::new(api.store().clone(), w.blobs.clone(), api.stores.tables.clock.clone());
        let done = exporter.export(&tenant, "Ada from support").await.unwrap();
        let archive =
            w.blobs.get(&sikurd::blobs::BlobKey::parse(&done.key).unwrap()).await.unwrap().expect("the archive");
        assert_eq!(done.size_bytes, archive.len() as u64);
        assert_eq!(done.sha256, hex::encode(Sha256::digest(&archive)));
        assert!(done.key.starts_with(&format!("exports/{tenant}/exp_")), "{}", done.key);
        assert!(done.link_expires_at >= api.clock().now() + Duration::days(7) - Duration::seconds(5));

        let files = files_of(&archive);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        let mut expected = vec!["manifest.json", "settings.json", "tenant.json"];
        for set in ["alerts", "audit", "backups", "channels", "instances", "metrics", "users"] {
            expected.push(Box::leak(format!("{set}.jsonl").into_boxed_str()));
            expected.push(Box::leak(format!("{set}.csv").into_boxed_str()));
        }
        expected.sort_unstable();
        assert_eq!(names, expected);

        // The manifest: every other file, with its rows, size and checksum.
        let manifest: Manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!((manifest.tenant_id.clone(), manifest.requested_by.as_str()), (tenant.clone(), "Ada from support"));
        assert_eq!(manifest.files.len(), files.len() - 1);
        for f in &manifest.files {
            let body = &files[&f.name];
            assert_eq!(f.bytes, body.len() as u64, "{}", f.name);
            assert_eq!(f.sha256, hex::encode(Sha256::digest(body)), "{}", f.name);
            let lines = std::str::from_utf8(body).unwrap().lines().count() as u64;
            let expected = if f.name.ends_with(".jsonl") {
                lines
            } else if f.name.ends_with(".csv") {
                lines - 1
            } else {
                1
            };
            assert_eq!(f.rows, expected, "{}", f.name);
        }
        let count = |name: &str| manifest.files.iter().find(|f| f.name == name).unwrap().rows;
        assert_eq!(count("users.jsonl"), 2);
        assert_eq!(count("instances.jsonl"), 2);
        assert_eq!(count("metrics.jsonl"), 50);
        assert_eq!(count("metrics.csv"), 50);
        assert_eq!(count("backups.jsonl"), 6);
        assert_eq!(count("alerts.jsonl"), 2);
        assert_eq!(count("channels.jsonl"), 2);
        assert_eq!(count("audit.jsonl") as usize, audit_before, "the audit log as it was");
        assert!(rows(&files, "users").iter().all(|u| u["email"].as_str().unwrap().ends_with("@acme.example")));
        assert!(rows(&files, "instances").iter().all(|i| i["credential_kind"] == "admin"));
        let hook = rows(&files, "channels").into_iter().find(|c| c["type"] == "webhook").unwrap();
        assert_eq!(hook["origin"], "https://hooks.example.com");
        let settings: Value = serde_json::from_slice(&files["settings.json"]).unwrap();
        assert_eq!(settings["routes"][0]["name"], "All");

        // Nothing of the other tenant, no secret, no password hash.
        let everything: Vec<u8> = files.values().flatten().copied().collect();
        let text = String::from_utf8_lossy(&everything);
        for absent in [
            "Other",
            "@other.example",
            PBX_PASSWORD,
            HOOK_PATH_SECRET,
            signing_secret.as_str(),
            "$2b$",
            "$2y$",
            "password_hash",
        ] {
            assert!(!text.contains(absent), "the export holds {absent:?}");
        }

        // Audited, as the support person's action.
        let audit = api.store().audit.newest_first(&tenant, 1, None).await.unwrap().items;
        assert_eq!(audit[0].action, "tenant.export");
        assert_eq!(audit[0].actor, Actor::Support { name: "Ada from support".into() });
        assert_eq!(audit[0].target.as_deref(), Some(done.export_id.as_str()));
    }

    pub async fn an_export_needs_a_tenant_and_a_named_support_person(w: World) {
        let api = &w.api;
        let (owner, _) = seed(api, "Acme").await;
        let exporter = Exporter::new(api.store().clone(), w.blobs.clone(), api.stores.tables.clock.clone());
        let nobody = TenantId::generate();
        assert!(matches!(exporter.export(&nobody, "Ada").await, Err(ExportError::NoSuchTenant(t)) if t == nobody));
        let tenant = TenantId::parse(&owner.tenant_id).unwrap();
        assert!(matches!(exporter.export(&tenant, "  ").await, Err(ExportError::InvalidRequester)));
        let listed = w.blobs.list(&sikurd::blobs::BlobPrefix::parse("exports/").unwrap()).await.unwrap();
        assert!(listed.is_empty(), "a refused export writes nothing: {listed:?}");
    }
}

mod embedded {
    use super::*;

    #[tokio::test]
    async fn an_export_holds_everything_of_the_tenant_and_no_secret() {
        cases::an_export_holds_everything_of_the_tenant_and_no_secret(world(embedded_store(), false).await).await;
    }

    #[tokio::test]
    async fn an_export_needs_a_tenant_and_a_named_support_person() {
        cases::an_export_needs_a_tenant_and_a_named_support_person(world(embedded_store(), false).await).await;
    }
}

mod aws {
    use super::*;

    #[tokio::test]
    async fn an_export_holds_everything_of_the_tenant_and_no_secret() {
        cases::an_export_holds_everything_of_the_tenant_and_no_secret(world(dynamo_store().await, true).await).await;
    }

    #[tokio::test]
    async fn an_export_needs_a_tenant_and_a_named_support_person() {
        cases::an_export_needs_a_tenant_and_a_named_support_person(world(dynamo_store().await, true).await).await;
    }

    #[tokio::test]
    async fn the_presigned_link_downloads_the_archive() {
        let w = world(dynamo_store().await, true).await;
        let (owner, _) = seed(&w.api, "Acme").await;
        let tenant = TenantId::parse(&owner.tenant_id).unwrap();
        let exporter = Exporter::new(w.api.store().clone(), w.blobs.clone(), Arc::new(sikurd::clock::SystemClock));
        let done = exporter.export(&tenant, "Ada").await.unwrap();
        let body = reqwest::get(&done.download_url).await.unwrap();
        assert_eq!(body.status(), 200, "{}", done.download_url);
        let bytes = body.bytes().await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), done.sha256);
    }
}
