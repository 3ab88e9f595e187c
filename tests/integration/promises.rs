//! The data and security FAQ (`../shared/seed/data-security-faq.txt`), one test per checkable
//! promise, named after it. Where a promise is already proven in detail elsewhere, its test here
//! runs that proof. The clock is moved, never waited.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration as Wall, Instant};

use axum::http::StatusCode;
use chrono::Duration;
use sikurd::alerts::{Act, Alert, AlertChange, AlertKind, AlertStatus, InstanceAlerts, Severity};
use sikurd::clock::Clock;
use sikurd::config::Deployment;
use sikurd::crypto::EncryptionContext;
use sikurd::domain::{Actor, AlertId, BackupOutcome, BackupRecord, InstanceId, MetricSnapshot, PollOutcome, TenantId};
use sikurd::lifecycle::Retention;
use sikurd::store::AlertFilter;
use sikurd::table::Table;
use sikurd_tests::api::{ApiFixture, FakePoller, PASSWORD, Req, test_config};
use sikurd_tests::{StoreFixture, dynamo_store, embedded_store};

fn api_over(stores: StoreFixture) -> ApiFixture {
    let poller = Arc::new(FakePoller { store: stores.store.clone() });
    ApiFixture::assemble(stores, test_config(Deployment::Cloud), poller)
}

async fn retention_run(api: &ApiFixture) {
    let retention = Retention::new(api.store().clone(), Arc::new(api.stores.counting.clone()));
    let report = retention.run(api.clock().now(), Instant::now() + Wall::from_secs(60)).await.unwrap();
    assert!(report.finished, "{report:?}");
}

/// A tenant with one instance (`Head office`): its owner's tenant and the instance.
async fn one_instance(api: &ApiFixture) -> (TenantId, InstanceId, sikurd_tests::api::Session) {
    let owner = api.sign_up("Acme", "owner@acme.example").await;
    let instance = api.add_instance(&owner, "Head office", Some("Acme")).await;
    (TenantId::parse(&owner.tenant_id).unwrap(), InstanceId::parse(&instance).unwrap(), owner)
}

mod what_we_store {
    use super::*;

    async fn poll_snapshots_are_kept_about_90_days(stores: StoreFixture) {
        let api = api_over(stores);
        let (tenant, instance, _) = one_instance(&api).await;
        let at = api.clock().now();
        api.store().metrics.record(&tenant, &instance, &MetricSnapshot::failed(at, PollOutcome::Ok, 40)).await.unwrap();
        let read = |api: &ApiFixture| {
            let (tenant, instance) = (tenant.clone(), instance.clone());
            let store = api.store().clone();
            async move { store.metrics.range(&tenant, &instance, at, at, 10, None).await.unwrap().items.len() }
        };
        api.clock().advance(Duration::days(89));
        retention_run(&api).await;
        assert_eq!(read(&api).await, 1, "kept on day 89");
        api.clock().advance(Duration::days(2));
        assert_eq!(read(&api).await, 0, "gone on day 91, whenever the table deletes it");
        retention_run(&api).await;
        assert_eq!(read(&api).await, 0);
    }

    #[tokio::test]
    async fn poll_snapshots_are_kept_about_90_days_embedded() {
        poll_snapshots_are_kept_about_90_days(embedded_store()).await;
    }

    #[tokio::test]
    async fn poll_snapshots_are_kept_about_90_days_dynamodb() {
        poll_snapshots_are_kept_about_90_days(dynamo_store().await).await;
    }

    async fn backup_history_and_alerts_with_their_resolution_are_kept_indefinitely(stores: StoreFixture) {
        let api = api_over(stores);
        let (tenant, instance, _) = one_instance(&api).await;
        let now = api.clock().now();
        let backup = BackupRecord { at: now, size_bytes: Some(7 << 20), outcome: BackupOutcome::Succeeded };
        api.store().backups.record(&tenant, &instance, "nightly.zip", &backup).await.unwrap();
        let resolved = Act { at: now + Duration::minutes(30), by: Actor::System, reason: Some("trunk back".into()) };
        let alert = Alert {
            id: AlertId::generate(),
            tenant_id: tenant.clone(),
            instance_id: instance.clone(),
            instance_name: "Head office".into(),
            group: Some("Acme".into()),
            kind: AlertKind::TrunkDown,
            subject: "Primary SIP".into(),
            severity: Severity::Critical,
            detail: "trunk Primary SIP is offline".into(),
            flapping: false,
            status: AlertStatus::Resolved,
            opened_at: now,
            acknowledged: None,
            resolved: Some(resolved.clone()),
            silenced_until: None,
            history: vec![AlertChange::Resolved(resolved)],
        };
        let state = InstanceAlerts::default();
        api.store()
            .alerts
            .commit(&tenant, &instance, 0, &state, std::slice::from_ref(&alert), Vec::new())
            .await
            .unwrap();

        api.clock().advance(Duration::days(5 * 365));
        retention_run(&api).await;
        let backups = api.store().backups.newest_first(&tenant, &instance, 10, None).await.unwrap().items;
        assert_eq!(backups, vec![backup], "the backup record after five years");
        let alerts = api.store().alerts.list(&tenant, &AlertFilter::default(), 10, None).await.unwrap().items;
        assert_eq!(alerts, vec![alert], "the alert and its resolution time after five years");
    }

    #[tokio::test]
    async fn backup_history_and_alerts_with_their_resolution_are_kept_indefinitely_embedded() {
        backup_history_and_alerts_with_their_resolution_are_kept_indefinitely(embedded_store()).await;
    }

    #[tokio::test]
    async fn backup_history_and_alerts_with_their_resolution_are_kept_indefinitely_dynamodb() {
        backup_history_and_alerts_with_their_resolution_are_kept_indefinitely(dynamo_store().await).await;
    }

    #[tokio::test]
    async fn the_audit_log_keeps_every_ui_and_api_action_with_its_actor() {
        let api = ApiFixture::new();
        let (_, _, owner) = one_instance(&api).await;
        let instance = api.add_instance(&owner, "Branch", None).await;
        api.send(owner.post(&format!("/api/v1/instances/{instance}/poll"))).await;
        api.send(owner.delete(&format!("/api/v1/instances/{instance}"))).await;
        api.send(owner.get("/api/v1/export/instances.csv")).await;
        let audit = api.send(owner.get("/api/v1/audit?limit=200")).await;
        let entries = audit.json["items"].as_array().unwrap();
        let actions: BTreeSet<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
        for action in ["tenant.signup", "instance.create", "instance.poll", "instance.delete", "export.instances_csv"] {
            assert!(actions.contains(action), "{action} is not in the audit log: {actions:?}");
        }
        for entry in entries {
            assert!(entry["actor"]["kind"].is_string() && entry["at"].is_string(), "{entry}");
            if entry["actor"]["kind"] == "user" {
                assert_eq!(entry["actor"]["email"], "owner@acme.example", "{entry}");
            }
        }
    }

    async fn encrypted_3cx_credentials_are_sealed_with_aes_256_gcm(stores: StoreFixture) {
        let api = api_over(stores);
        let (tenant, instance, _) = one_instance(&api).await;
        let raw = api.stores.raw_contents().await;
        let password = b"pbx-secret-password";
        assert!(!raw.windows(password.len()).any(|w| w == password), "the 3CX password is in the table in clear");
        assert!(api.store().credentials.get(&tenant, &instance).await.unwrap().is_some(), "and it opens");

        // Sealed with AES-256-GCM: a 96-bit nonce, a 128-bit tag, a data key kept wrapped.
        let envelope = sikurd::crypto::Envelope::new(api.stores.key_service());
        let context = EncryptionContext::pbx_credential(&tenant, &instance);
        let sealed = envelope.seal(password, &context).await.unwrap();
        assert_eq!(sealed.nonce.len(), 12);
        assert_eq!(sealed.ciphertext.len(), password.len() + 16);
        assert!(!sealed.wrapped_key.is_empty());
        assert_eq!(envelope.open(&sealed, &context).await.unwrap().as_slice(), password);

        // Bound to its tenant and instance: the same item under another tenant does not open.
        let other = TenantId::generate();
        let item =
            api.stores.counting.get(&sikurd::store::keys::credential(&tenant, &instance)).await.unwrap().unwrap();
        let moved = sikurd::table::Item::new(sikurd::store::keys::credential(&other, &instance), item.attrs);
        api.stores.counting.put(moved, None).await.unwrap();
        assert!(api.store().credentials.get(&other, &instance).await.is_err(), "a copied credential opened elsewhere");
    }

    #[tokio::test]
    async fn encrypted_3cx_credentials_are_sealed_with_aes_256_gcm_embedded() {
        encrypted_3cx_credentials_are_sealed_with_aes_256_gcm(embedded_store()).await;
    }

    #[tokio::test]
    async fn encrypted_3cx_credentials_are_sealed_with_aes_256_gcm_dynamodb() {
        encrypted_3cx_credentials_are_sealed_with_aes_256_gcm(dynamo_store().await).await;
    }

    #[tokio::test]
    async fn user_accounts_keep_name_email_and_a_bcrypt_hash_with_12_rounds() {
        let config = sikurd::config::ApiConfig::defaults(Deployment::Cloud);
        assert_eq!(config.bcrypt_cost, 12, "the cloud's cost");
        let api = ApiFixture::with_config(config);
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let tenant = TenantId::parse(&owner.tenant_id).unwrap();
        let user = api
            .store()
            .users
            .get(&tenant, &sikurd::domain::UserId::parse(&owner.user_id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let hash = user.password_hash.as_str();
        assert_eq!((user.name.as_str(), user.email.as_str()), ("Owner", "owner@acme.example"));
        assert!(hash.starts_with("$2b$12$") || hash.starts_with("$2y$12$"), "{hash}");
        let raw = api.stores.raw_contents().await;
        assert!(!raw.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()), "the password is in the table");
    }
}

mod what_we_do_not_store {
    use super::*;

    #[tokio::test]
    async fn no_3cx_user_pii_is_pulled_into_the_database_embedded() {
        crate::polling::pii_never_reaches_the_store(embedded_store()).await;
    }

    #[tokio::test]
    async fn no_3cx_user_pii_is_pulled_into_the_database_dynamodb() {
        crate::polling::pii_never_reaches_the_store(dynamo_store().await).await;
    }
}

mod encryption {
    use super::*;

    #[tokio::test]
    async fn session_cookies_have_the_secure_prefix_and_are_httponly_secure_samesite_lax() {
        let api = ApiFixture::new();
        api.sign_up("Acme", "owner@acme.example").await;
        let login = api.log_in("owner@acme.example", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK);
        let max_age = sikurd::config::ApiConfig::defaults(Deployment::Cloud).session_absolute.num_seconds();
        crate::api::assert_session_cookie(&login, max_age);
    }

    #[test]
    fn outbound_3cx_connections_use_tls_1_2_or_newer_with_verified_certificates() {
        let client = include_str!("../../shared/src/pbx/client.rs");
        assert!(client.contains(".min_tls_version(reqwest::tls::Version::TLS_1_2)"), "the 3CX client's TLS floor");
        assert!(!client.contains("danger_accept_invalid"), "the 3CX client accepts invalid certificates");
    }
}

mod retention {
    use super::*;

    #[tokio::test]
    async fn deleted_instances_are_permanently_removed_after_30_days_embedded() {
        crate::retention::cases::an_instance_deleted_31_days_ago_is_purged_and_its_alerts_and_audit_entries_stay(
            embedded_store(),
        )
        .await;
    }

    #[tokio::test]
    async fn deleted_instances_are_permanently_removed_after_30_days_dynamodb() {
        crate::retention::cases::an_instance_deleted_31_days_ago_is_purged_and_its_alerts_and_audit_entries_stay(
            dynamo_store().await,
        )
        .await;
    }

    #[test]
    fn logs_are_kept_30_days() {
        let text = include_str!("../../template.yaml");
        let template: serde_norway::Value = serde_norway::from_str(text).unwrap();
        let resources = template["Resources"].as_mapping().unwrap();
        let mut functions = 0;
        for (id, resource) in resources {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            functions += 1;
            let group = match &resource["Properties"]["LoggingConfig"]["LogGroup"] {
                serde_norway::Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
                _ => None,
            }
            .unwrap_or_else(|| panic!("{id:?} logs to no log group of the template (!Ref)"));
            assert_eq!(resources[group]["Properties"]["RetentionInDays"].as_u64(), Some(30), "{group}");
        }
        assert!(functions >= 6);
    }
}

mod export {
    use super::*;

    #[tokio::test]
    async fn csv_export_is_available_for_instances_alerts_and_reports() {
        let api = ApiFixture::new();
        let (_, _, owner) = one_instance(&api).await;
        for path in ["/api/v1/export/instances.csv", "/api/v1/export/alerts.csv", "/api/v1/export/reports.csv"] {
            let res = api.send(owner.get(path)).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.text);
            assert!(res.headers["content-type"].to_str().unwrap().starts_with("text/csv"), "{path}");
            assert!(res.headers["content-disposition"].to_str().unwrap().starts_with("attachment;"), "{path}");
        }
        let stranger = api.send(Req::get("/api/v1/export/instances.csv")).await;
        assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_full_export_holds_everything_we_have_on_the_tenant_embedded() {
        crate::export::cases::an_export_holds_everything_of_the_tenant_and_no_secret(
            crate::export::world(embedded_store(), false).await,
        )
        .await;
    }

    #[tokio::test]
    async fn a_full_export_holds_everything_we_have_on_the_tenant_on_aws() {
        crate::export::cases::an_export_holds_everything_of_the_tenant_and_no_secret(
            crate::export::world(dynamo_store().await, true).await,
        )
        .await;
    }
}

mod account_deletion {
    use super::*;

    #[tokio::test]
    async fn deletion_is_confirmed_via_the_account_email_embedded() {
        crate::deletion::cases::deletion_is_confirmed_once_by_the_owner_within_72_hours(
            crate::export::world(embedded_store(), false).await,
        )
        .await;
    }

    #[tokio::test]
    async fn deletion_is_confirmed_via_the_account_email_on_aws() {
        crate::deletion::cases::deletion_is_confirmed_once_by_the_owner_within_72_hours(
            crate::export::world(dynamo_store().await, true).await,
        )
        .await;
    }

    #[tokio::test]
    async fn a_confirmed_deletion_hard_deletes_everything_of_the_tenant_embedded() {
        crate::deletion::cases::a_deleted_tenant_leaves_nothing_but_its_ledger_entry(
            crate::export::world(embedded_store(), false).await,
        )
        .await;
    }

    #[tokio::test]
    async fn a_confirmed_deletion_hard_deletes_everything_of_the_tenant_on_aws() {
        crate::deletion::cases::a_deleted_tenant_leaves_nothing_but_its_ledger_entry(
            crate::export::world(dynamo_store().await, true).await,
        )
        .await;
    }

    #[test]
    fn hard_deletion_follows_within_7_days_of_confirmation() {
        let template: serde_norway::Value = serde_norway::from_str(include_str!("../../template.yaml")).unwrap();
        let retention = &template["Resources"]["RetentionFunction"]["Properties"];
        let schedule = retention["Events"]["Nightly"]["Properties"]["Schedule"].as_str().unwrap();
        assert!(schedule.starts_with("cron(") && schedule.ends_with("* * ? *)"), "a daily run: {schedule}");
        let env = &retention["Environment"]["Variables"];
        assert!(!env["SIKURD_EXPORT_BUCKET"].is_null(), "the nightly run reaches the tenant's objects too");
    }
}
