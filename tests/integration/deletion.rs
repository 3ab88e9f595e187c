//! Tenant deletion over both adapter pairs (embedded table and local blobs; DynamoDB and S3 on
//! moto): the owner's single-use, expiring confirmation link (hashed at rest), the lock, the
//! hard deletion after which a raw scan of the table and the bucket finds nothing of the tenant
//! but its ledger entry, other tenants untouched, and purges that resume and repeat safely.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration as Wall, Instant};

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;
use sikurd::blobs::BlobPrefix;
use sikurd::clock::Clock;
use sikurd::domain::{Email, TenantId, TenantState};
use sikurd::lifecycle::{CONFIRM_WITHIN_HOURS, DeletionError, Exporter, TenantDeletion};
use sikurd::notify::OutboxMailer;
use sikurd_tests::api::{ApiFixture, PASSWORD};
use sikurd_tests::{dynamo_store, embedded_store};

use crate::export::{World, world};

fn soon() -> Instant {
    Instant::now() + Wall::from_secs(120)
}

fn deletion(w: &World) -> TenantDeletion {
    let api = &w.api;
    TenantDeletion::new(
        api.store().clone(),
        Arc::new(api.stores.counting.clone()),
        w.blobs.clone(),
        api.stores.tables.clock.clone(),
    )
}

/// The token of the newest confirmation e-mail in the outbox.
fn token_in(outbox: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(outbox).unwrap().filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let newest = files.iter().rfind(|p| p.extension().is_some_and(|e| e == "json")).expect("an e-mail");
    let message: serde_json::Value = serde_json::from_slice(&std::fs::read(newest).unwrap()).unwrap();
    let text = message["text"].as_str().unwrap();
    let link =
        text.lines().find(|l| l.starts_with("https://app.sikurd.example/#/confirm-deletion/")).expect("the link");
    link.rsplit('/').next().unwrap().to_owned()
}

const CONFIRM_URL: &str = "https://app.sikurd.example/#/confirm-deletion/";

/// Everything of the tenant the raw table holds, one item per line (DynamoDB: a scan; embedded:
/// every stored item, expired ones too).
async fn raw_items(api: &ApiFixture) -> String {
    String::from_utf8_lossy(&api.stores.raw_items().await).into_owned()
}

pub(crate) mod cases {
    use super::*;

    pub async fn deletion_is_confirmed_once_by_the_owner_within_72_hours(w: World) {
        let api = &w.api;
        let (owner, _) = crate::export::seed(api, "Acme").await;
        let tenant = TenantId::parse(&owner.tenant_id).unwrap();
        let outbox = tempfile::tempdir().unwrap();
        let mailer = OutboxMailer::new(outbox.path(), Email::parse("support@sikurd.example").unwrap());
        let deletion = deletion(&w);

        assert!(matches!(
            deletion.request(&tenant, " ", &mailer, CONFIRM_URL).await,
            Err(DeletionError::InvalidRequester)
        ));
        let asked = deletion.request(&tenant, "Ada from support", &mailer, CONFIRM_URL).await.unwrap();
        assert_eq!(asked.sent_to, "owner@acme.example");
        let expired = token_in(outbox.path());
        let raw = raw_items(api).await;
        assert!(!raw.contains(&expired), "the token is stored in clear");
        let tenant_now = api.store().tenants.get(&tenant).await.unwrap().unwrap();
        assert!(matches!(tenant_now.state, TenantState::DeletionRequested { .. }));

        api.clock().advance(Duration::hours(CONFIRM_WITHIN_HOURS + 1));
        let stale = api
            .send(sikurd_tests::api::Req::post("/api/v1/tenant-deletion/confirm").json(json!({ "token": expired })))
            .await;
        stale.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

        deletion.request(&tenant, "Ada from support", &mailer, CONFIRM_URL).await.unwrap();
        let token = token_in(outbox.path());
        assert_ne!(token, expired);
        let session = api.session_of("owner@acme.example").await;
        let confirm = || {
            api.send(sikurd_tests::api::Req::post("/api/v1/tenant-deletion/confirm").json(json!({ "token": token })))
        };
        let confirmed = confirm().await;
        assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
        assert_eq!(confirmed.json["status"], "locked");
        confirm().await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

        // Locked at once: the session ends, logins are refused, polling stops.
        api.send(session.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        let login = api.log_in("owner@acme.example", PASSWORD).await;
        assert_eq!(login.status, StatusCode::UNAUTHORIZED, "{}", login.text);
        let polled = api.store().instances.all_due_for_polling_across_tenants().await.unwrap();
        assert!(polled.iter().all(|i| i.tenant_id != tenant), "an instance of the locked tenant is still polled");
        let ledger = deletion.ledger(&tenant).await.unwrap().unwrap();
        assert_eq!(ledger.requested_by, "Ada from support");
        assert!(ledger.confirmed_at.is_some() && ledger.deleted_at.is_none());
    }

    pub async fn a_deleted_tenant_leaves_nothing_but_its_ledger_entry(w: World) {
        let api = &w.api;
        let (owner, _) = crate::export::seed(api, "Acme").await;
        let (other, _) = crate::export::seed(api, "Other").await;
        let tenant = TenantId::parse(&owner.tenant_id).unwrap();
        let other_tenant = TenantId::parse(&other.tenant_id).unwrap();
        let clock: Arc<dyn Clock> = api.stores.tables.clock.clone();
        let exporter = Exporter::new(api.store().clone(), w.blobs.clone(), clock);
        exporter.export(&tenant, "Ada").await.unwrap();
        let kept_export = exporter.export(&other_tenant, "Ada").await.unwrap();
        let markers: Vec<String> = {
            let instances = api.store().instances.list_all(&tenant).await.unwrap();
            let mut m =
                vec![tenant.to_string(), "owner@acme.example".into(), "tech@acme.example".into(), "Acme".into()];
            m.extend(instances.iter().map(|i| i.id.to_string()));
            m
        };

        let outbox = tempfile::tempdir().unwrap();
        let mailer = OutboxMailer::new(outbox.path(), Email::parse("support@sikurd.example").unwrap());
        let deletion = deletion(&w);
        deletion.request(&tenant, "Ada from support", &mailer, CONFIRM_URL).await.unwrap();
        deletion.confirm(&token_in(outbox.path())).await.unwrap();

        // A purge cut short by its deadline loses nothing and the next run finishes it.
        assert_eq!(deletion.purge_confirmed(Instant::now()).await.unwrap(), 0);
        assert_eq!(deletion.purge_confirmed(soon()).await.unwrap(), 1);
        assert_eq!(deletion.purge_confirmed(soon()).await.unwrap(), 0, "nothing left to do");

        let raw = raw_items(api).await;
        let ledger_lines: Vec<&str> = raw.lines().filter(|l| l.contains(tenant.as_str())).collect();
        assert_eq!(ledger_lines.len(), 1, "only the ledger names the tenant:\n{}", ledger_lines.join("\n"));
        assert!(ledger_lines[0].contains("DELETED_TENANT#"), "{}", ledger_lines[0]);
        for marker in &markers[1..] {
            let found: Vec<&str> =
                raw.lines().filter(|l| l.contains(marker.as_str()) && !l.contains("Other")).collect();
            assert!(found.is_empty(), "{marker} is still in the table:\n{}", found.join("\n"));
        }
        let exports = w.blobs.list(&BlobPrefix::parse(format!("exports/{tenant}/")).unwrap()).await.unwrap();
        assert!(exports.is_empty(), "{exports:?}");
        let ledger = deletion.ledger(&tenant).await.unwrap().unwrap();
        assert!(ledger.deleted_at.is_some());
        let ledger_json = serde_json::to_value(&ledger).unwrap();
        let fields: Vec<&str> = ledger_json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, ["confirmed_at", "deleted_at", "requested_at", "requested_by", "tenant_id"]);

        // The other tenant is untouched.
        let other_session = api.session_of("owner@other.example").await;
        let listed = api.send(other_session.get("/api/v1/instances")).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 2, "{}", listed.text);
        let alerts = api.send(other_session.get("/api/v1/alerts?status=open")).await;
        assert_eq!(alerts.json["items"].as_array().unwrap().len(), 2, "{}", alerts.text);
        let key = sikurd::blobs::BlobKey::parse(&kept_export.key).unwrap();
        assert!(w.blobs.get(&key).await.unwrap().is_some(), "another tenant's export was deleted");
        assert!(
            api.store()
                .instances
                .all_due_for_polling_across_tenants()
                .await
                .unwrap()
                .iter()
                .any(|i| i.tenant_id == other_tenant)
        );
    }
}

mod embedded {
    use super::*;

    #[tokio::test]
    async fn deletion_is_confirmed_once_by_the_owner_within_72_hours() {
        cases::deletion_is_confirmed_once_by_the_owner_within_72_hours(world(embedded_store(), false).await).await;
    }

    #[tokio::test]
    async fn a_deleted_tenant_leaves_nothing_but_its_ledger_entry() {
        cases::a_deleted_tenant_leaves_nothing_but_its_ledger_entry(world(embedded_store(), false).await).await;
    }
}

mod aws {
    use super::*;

    #[tokio::test]
    async fn deletion_is_confirmed_once_by_the_owner_within_72_hours() {
        cases::deletion_is_confirmed_once_by_the_owner_within_72_hours(world(dynamo_store().await, true).await).await;
    }

    #[tokio::test]
    async fn a_deleted_tenant_leaves_nothing_but_its_ledger_entry() {
        cases::a_deleted_tenant_leaves_nothing_but_its_ledger_entry(world(dynamo_store().await, true).await).await;
    }
}

#[tokio::test]
async fn the_nightly_retention_run_carries_out_confirmed_deletions() {
    let w = world(embedded_store(), false).await;
    let api = &w.api;
    let (owner, _) = crate::export::seed(api, "Acme").await;
    let tenant = TenantId::parse(&owner.tenant_id).unwrap();
    let outbox = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(outbox.path(), Email::parse("support@sikurd.example").unwrap());
    let deletion = Arc::new(deletion(&w));
    deletion.request(&tenant, "Ada", &mailer, CONFIRM_URL).await.unwrap();
    deletion.confirm(&token_in(outbox.path())).await.unwrap();
    let retention = sikurd::lifecycle::Retention::new(api.store().clone(), Arc::new(api.stores.counting.clone()))
        .deleting_tenants(Arc::clone(&deletion));
    let report = retention.run(api.clock().now(), soon()).await.unwrap();
    assert_eq!((report.tenants_deleted, report.finished), (1, true), "{report:?}");
    assert_eq!(api.store().tenants.get(&tenant).await.unwrap(), None);
    assert_eq!(retention.run(api.clock().now(), soon()).await.unwrap().tenants_deleted, 0);
}

#[tokio::test]
async fn a_confirmation_is_announced_on_the_bus_so_the_deletion_runs_at_once() {
    use sikurd::events::{DetailType, InProcessBus, handler_fn};
    let w = world(embedded_store(), false).await;
    let api = &w.api;
    let bus = InProcessBus::new();
    let announced = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&announced);
    bus.subscribe(
        DetailType::TENANT_DELETION_CONFIRMED,
        handler_fn(move |event| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().unwrap().push(event.detail.clone());
                Ok(())
            }
        }),
    );
    let _ = api.state.clone().with_events(Arc::new(bus.clone()));
    let (owner, _) = crate::export::seed(api, "Acme").await;
    let outbox = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(outbox.path(), Email::parse("support@sikurd.example").unwrap());
    deletion(&w).request(&TenantId::parse(&owner.tenant_id).unwrap(), "Ada", &mailer, CONFIRM_URL).await.unwrap();
    let token = token_in(outbox.path());
    let confirmed =
        api.send(sikurd_tests::api::Req::post("/api/v1/tenant-deletion/confirm").json(json!({ "token": token }))).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    bus.idle().await;
    assert_eq!(*announced.lock().unwrap(), vec![json!({ "tenant_id": owner.tenant_id })]);
}
