//! The repositories on both adapters: tenant scoping, secrets at rest, retention, and the cost
//! of the polling index.

use chrono::{Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use sikurd::clock::Clock;
use sikurd::domain::{
    Actor, AuditEntry, AuditId, AuditOutcome, BackupOutcome, BackupRecord, Email, Instance, InstanceId, InstanceName,
    MetricSnapshot, PasswordHash, PbxAddress, PbxCredentials, PersonName, Plan, PollOutcome, Role, Session,
    SessionToken, Tenant, TenantId, TenantName, User, UserId,
};
use sikurd::store::keys::POLL_SHARDS;
use sikurd::store::{StoreError, keys};
use sikurd::table::{Item, Key};
use sikurd_tests::{StoreFixture, for_each_store};

const PASSWORD_CANARY: &str = "canary-Pa55w0rd-9f3a1c";
const SECRET_CANARY: &str = "canary-client-secret-77e2b0";

fn instance(tenant: &TenantId, name: &str, now: chrono::DateTime<Utc>) -> Instance {
    Instance::new(
        tenant.clone(),
        InstanceName::parse(name).unwrap(),
        PbxAddress::parse_url("https://pbx.example.com:5001").unwrap(),
        None,
        now,
    )
}

fn snapshot(at: chrono::DateTime<Utc>) -> MetricSnapshot {
    let mut s = MetricSnapshot::failed(at, PollOutcome::Ok, 42);
    s.calls_active = Some(3);
    s.max_sim_calls = Some(16);
    s
}

fn owner(tenant: &TenantId, email: &str, now: chrono::DateTime<Utc>) -> User {
    User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        name: PersonName::parse("Ana Owner").unwrap(),
        email: Email::parse(email).unwrap(),
        password_hash: PasswordHash::from_bcrypt(format!("$2b$12${}", "a".repeat(53))).unwrap(),
        role: Role::Owner,
        created_at: now,
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn by_email(f: &StoreFixture, email: &str) -> Option<User> {
    f.store.tenants.find_user_by_email_across_tenants(&Email::parse(email).unwrap()).await.unwrap()
}

mod cases {
    use super::*;

    pub async fn stored_credentials_leave_no_plaintext_in_the_raw_store(f: StoreFixture) {
        let now = f.tables.clock.now();
        let tenant = TenantId::generate();
        let a = instance(&tenant, "A", now);
        let b = instance(&tenant, "B", now);
        f.store.instances.create(&a).await.unwrap();
        f.store.instances.create(&b).await.unwrap();
        let admin = PbxCredentials::admin("admin-canary-user", SecretString::from(PASSWORD_CANARY)).unwrap();
        let api = PbxCredentials::client_credentials("client-canary-id", SecretString::from(SECRET_CANARY)).unwrap();
        f.store.credentials.put(&tenant, &a.id, &admin).await.unwrap();
        f.store.credentials.put(&tenant, &b.id, &api).await.unwrap();

        let raw = f.raw_contents().await;
        assert!(contains(&raw, a.id.as_str()), "the raw read sees the store's items");
        for secret in [PASSWORD_CANARY, SECRET_CANARY, "admin-canary-user", "client-canary-id"] {
            assert!(!contains(&raw, secret), "{secret} is readable in the raw store");
        }

        match f.store.credentials.get(&tenant, &a.id).await.unwrap() {
            Some(PbxCredentials::Admin { username, password }) => {
                assert_eq!(username, "admin-canary-user");
                assert_eq!(password.expose_secret(), PASSWORD_CANARY);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    pub async fn a_ciphertext_copied_onto_another_instance_or_tenant_fails_to_decrypt(f: StoreFixture) {
        let now = f.tables.clock.now();
        let tenant = TenantId::generate();
        let other_tenant = TenantId::generate();
        let a = instance(&tenant, "A", now);
        let b = instance(&tenant, "B", now);
        let creds = PbxCredentials::admin("100", SecretString::from(PASSWORD_CANARY)).unwrap();
        f.store.credentials.put(&tenant, &a.id, &creds).await.unwrap();

        let sealed = f.tables.table.get(&keys::credential(&tenant, &a.id)).await.unwrap().unwrap();
        for target in [keys::credential(&tenant, &b.id), keys::credential(&other_tenant, &a.id)] {
            f.tables.table.put(Item::new(target, sealed.attrs.clone()), None).await.unwrap();
        }
        let on_b = f.store.credentials.get(&tenant, &b.id).await;
        assert!(matches!(on_b, Err(StoreError::Crypto(_))), "{on_b:?}");
        let on_other_tenant = f.store.credentials.get(&other_tenant, &a.id).await;
        assert!(matches!(on_other_tenant, Err(StoreError::Crypto(_))), "{on_other_tenant:?}");
        assert!(f.store.credentials.get(&tenant, &a.id).await.unwrap().is_some());
    }

    pub async fn another_tenants_instance_is_not_found(f: StoreFixture) {
        let now = f.tables.clock.now();
        let tenant_a = TenantId::generate();
        let tenant_b = TenantId::generate();
        let a = instance(&tenant_a, "A", now);
        f.store.instances.create(&a).await.unwrap();
        f.store
            .credentials
            .put(&tenant_a, &a.id, &PbxCredentials::admin("1", SecretString::from("pw")).unwrap())
            .await
            .unwrap();
        f.store.metrics.record(&tenant_a, &a.id, &snapshot(now)).await.unwrap();

        assert_eq!(f.store.instances.get(&tenant_b, &a.id).await.unwrap(), None);
        assert!(f.store.credentials.get(&tenant_b, &a.id).await.unwrap().is_none());
        assert_eq!(f.store.metrics.latest(&tenant_b, &a.id).await.unwrap(), None);
        assert!(f.store.instances.list(&tenant_b, 100, None).await.unwrap().items.is_empty());
        let mut moved = a.clone();
        moved.tenant_id = tenant_b.clone();
        assert!(matches!(f.store.instances.save(&moved).await, Err(StoreError::NotFound)));
        assert_eq!(f.store.instances.get(&tenant_a, &a.id).await.unwrap(), Some(a));
    }

    pub async fn metric_rows_are_gone_from_every_read_after_90_days(f: StoreFixture) {
        let tenant = TenantId::generate();
        let ins = InstanceId::generate();
        let start = f.tables.clock.now();
        for minute in 0..5 {
            let at = start + Duration::minutes(minute);
            f.tables.clock.set(at);
            assert!(f.store.metrics.record(&tenant, &ins, &snapshot(at)).await.unwrap());
        }
        let metrics = f.store.metrics.clone();
        let window = || metrics.range(&tenant, &ins, start, start + Duration::days(1), 100, None);
        assert_eq!(window().await.unwrap().items.len(), 5);

        f.tables.clock.set(start + Duration::days(90) + Duration::minutes(2));
        assert_eq!(window().await.unwrap().items.len(), 2, "rows older than 90 days are gone, younger ones stay");
        f.tables.clock.set(start + Duration::days(91));
        assert!(window().await.unwrap().items.is_empty());
        assert_eq!(f.store.metrics.latest(&tenant, &ins).await.unwrap(), None);
    }

    pub async fn a_redelivered_poll_does_not_duplicate_its_metric_row_or_backup_record(f: StoreFixture) {
        let tenant = TenantId::generate();
        let ins = InstanceId::generate();
        let at = f.tables.clock.now();
        assert!(f.store.metrics.record(&tenant, &ins, &snapshot(at)).await.unwrap());
        assert!(!f.store.metrics.record(&tenant, &ins, &snapshot(at)).await.unwrap());
        let backup = BackupRecord { at, size_bytes: Some(1 << 20), outcome: BackupOutcome::Succeeded };
        assert!(f.store.backups.record(&tenant, &ins, "nightly.zip", &backup).await.unwrap());
        assert!(!f.store.backups.record(&tenant, &ins, "nightly.zip", &backup).await.unwrap());
        assert_eq!(f.store.metrics.range(&tenant, &ins, at, at, 10, None).await.unwrap().items.len(), 1);
        assert_eq!(f.store.backups.newest_first(&tenant, &ins, 10, None).await.unwrap().items, vec![backup]);
    }

    pub async fn listing_instances_due_for_polling_reads_only_active_instances(f: StoreFixture) {
        let now = f.tables.clock.now();
        let mut active = Vec::new();
        for t in 0..2 {
            let tenant = TenantId::generate();
            for i in 0..3 {
                let ins = instance(&tenant, &format!("pbx-{t}-{i}"), now);
                f.store.instances.create(&ins).await.unwrap();
                for m in 0..40 {
                    f.store.metrics.record(&tenant, &ins.id, &snapshot(now - Duration::minutes(m))).await.unwrap();
                }
                active.push(ins.id.clone());
            }
            let mut gone = instance(&tenant, "deleted", now);
            gone.deleted_at = Some(now);
            f.store.instances.create(&gone).await.unwrap();
        }
        f.counting.reset();
        let mut due = Vec::new();
        for shard in 0..POLL_SHARDS {
            let mut cursor = None;
            loop {
                let page = f.store.instances.due_for_polling_across_tenants(shard, 2, cursor).await.unwrap();
                due.extend(page.items.into_iter().map(|i| i.id));
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        active.sort();
        due.sort();
        assert_eq!(due, active);
        let counts = f.counting.counts();
        assert_eq!(counts.items_read, 6, "only the six active instance items are read: {counts:?}");
        assert_eq!(counts.items_written, 0);
    }

    pub async fn signup_is_all_or_nothing_when_the_email_is_taken(f: StoreFixture) {
        let now = f.tables.clock.now();
        let first = Tenant::new(TenantName::parse("First MSP").unwrap(), Plan::Trial, now);
        let owner1 = owner(&first.id, "ana@msp.example", now);
        f.store.tenants.create_with_owner(&first, &owner1).await.unwrap();

        let second = Tenant::new(TenantName::parse("Second MSP").unwrap(), Plan::Trial, now);
        let owner2 = owner(&second.id, "ANA@msp.example", now);
        let err = f.store.tenants.create_with_owner(&second, &owner2).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(f.store.tenants.get(&second.id).await.unwrap(), None);
        assert_eq!(f.store.tenants.user(&second.id, &owner2.id).await.unwrap(), None);

        let found = f.store.tenants.find_user_by_email_across_tenants(&owner1.email).await.unwrap();
        assert_eq!(found.map(|u| u.id), Some(owner1.id));
        assert_eq!(f.store.tenants.get(&first.id).await.unwrap(), Some(first));
    }

    pub async fn user_writes_keep_the_email_claims_in_step(f: StoreFixture) {
        let now = f.tables.clock.now();
        let tenant = Tenant::new(TenantName::parse("MSP").unwrap(), Plan::Trial, now);
        let first = owner(&tenant.id, "ana@msp.example", now);
        f.store.tenants.create_with_owner(&tenant, &first).await.unwrap();
        let mut tech = owner(&tenant.id, "tech@msp.example", now);
        tech.role = Role::Technician;
        f.store.users.create(&tenant.id, &tech).await.unwrap();
        let mut clash = owner(&tenant.id, "TECH@msp.example", now);
        clash.role = Role::Viewer;
        assert!(matches!(f.store.users.create(&tenant.id, &clash).await, Err(StoreError::Conflict(_))));
        let stranger = owner(&TenantId::generate(), "x@msp.example", now);
        assert!(f.store.users.create(&stranger.tenant_id, &stranger).await.is_err(), "no user without its tenant");

        let moved = User { email: Email::parse("tech2@msp.example").unwrap(), ..tech.clone() };
        f.store.users.update(&tenant.id, &tech, &moved).await.unwrap();
        assert_eq!(by_email(&f, "tech@msp.example").await, None);
        assert_eq!(by_email(&f, "tech2@msp.example").await.map(|u| u.id), Some(tech.id.clone()));
        let onto_taken = User { email: first.email.clone(), ..moved.clone() };
        assert!(matches!(f.store.users.update(&tenant.id, &moved, &onto_taken).await, Err(StoreError::Conflict(_))));
        assert_eq!(by_email(&f, "tech2@msp.example").await.map(|u| u.id), Some(tech.id.clone()));

        f.store.users.transfer_ownership(&tenant.id, &first, &moved).await.unwrap();
        assert_eq!(f.store.users.get(&tenant.id, &tech.id).await.unwrap().map(|u| u.role), Some(Role::Owner));
        assert_eq!(f.store.users.get(&tenant.id, &first.id).await.unwrap().map(|u| u.role), Some(Role::Admin));
        let stale = f.store.users.transfer_ownership(&tenant.id, &first, &moved).await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "a transfer from a stale owner is refused: {stale:?}");

        let listed = f.store.users.list(&tenant.id, 10, None).await.unwrap().items;
        assert_eq!(listed.len(), 2);
        let first_now = f.store.users.get(&tenant.id, &first.id).await.unwrap().unwrap();
        f.store.users.delete(&tenant.id, &first_now).await.unwrap();
        assert_eq!(by_email(&f, "ana@msp.example").await, None);
        assert!(matches!(f.store.users.delete(&tenant.id, &first_now).await, Err(StoreError::NotFound)));
        assert!(f.store.users.get(&TenantId::generate(), &tech.id).await.unwrap().is_none());
    }

    pub async fn sessions_end_at_their_expiry_and_all_of_a_users_sessions_can_be_revoked(f: StoreFixture) {
        let now = f.tables.clock.now();
        let tenant = TenantId::generate();
        let user = UserId::generate();
        let session = |user: &UserId| Session {
            tenant_id: tenant.clone(),
            user_id: user.clone(),
            csrf_token: "csrf".into(),
            created_at: now,
            last_seen_at: now,
            ends_at: now + Duration::hours(12),
        };
        let tokens: Vec<_> = (0..3).map(|_| SessionToken::generate()).collect();
        for token in &tokens {
            f.store.sessions.create(&token.hash(), &session(&user)).await.unwrap();
        }
        let other_user = SessionToken::generate();
        f.store.sessions.create(&other_user.hash(), &session(&UserId::generate())).await.unwrap();
        let found = f.store.sessions.get_across_tenants(&tokens[0].hash()).await.unwrap();
        assert_eq!(found.map(|s| s.user_id), Some(user.clone()));

        f.tables.clock.advance(Duration::minutes(10));
        f.store.sessions.touch(&tokens[0].hash(), &session(&user), f.tables.clock.now()).await.unwrap();
        let touched = f.store.sessions.get_across_tenants(&tokens[0].hash()).await.unwrap().unwrap();
        assert_eq!(touched.last_seen_at, f.tables.clock.now());

        assert_eq!(f.store.sessions.revoke_all_of_user(&tenant, &user).await.unwrap(), 3);
        for token in &tokens {
            assert!(f.store.sessions.get_across_tenants(&token.hash()).await.unwrap().is_none());
        }
        f.store.sessions.touch(&tokens[1].hash(), &session(&user), now).await.unwrap();
        assert!(
            f.store.sessions.get_across_tenants(&tokens[1].hash()).await.unwrap().is_none(),
            "a touch does not revive"
        );
        assert!(f.store.sessions.get_across_tenants(&other_user.hash()).await.unwrap().is_some());

        f.tables.clock.set(now + Duration::hours(12));
        assert!(
            f.store.sessions.get_across_tenants(&other_user.hash()).await.unwrap().is_none(),
            "ended at its expiry"
        );
    }

    pub async fn login_failures_are_counted_over_a_sliding_window(f: StoreFixture) {
        let window = Duration::minutes(15);
        let start = f.tables.clock.now();
        let throttle = &f.store.login_throttle;
        for minute in 0..4 {
            throttle
                .record_failure("email:ana@msp.example", window, start + Duration::minutes(minute * 5))
                .await
                .unwrap();
        }
        let at = start + Duration::minutes(15) + Duration::seconds(1);
        let (count, until) = throttle.recent_failures("email:ana@msp.example", window, at).await.unwrap();
        assert_eq!(count, 3, "the first failure left the window");
        assert_eq!(until, Some(start + Duration::minutes(5) + window));
        assert_eq!(throttle.recent_failures("email:bob@msp.example", window, at).await.unwrap(), (0, None));
        throttle.clear("email:ana@msp.example").await.unwrap();
        assert_eq!(throttle.recent_failures("email:ana@msp.example", window, at).await.unwrap().0, 0);
    }

    pub async fn the_audit_log_reads_newest_first_across_pages(f: StoreFixture) {
        let tenant = TenantId::generate();
        let start = f.tables.clock.now();
        for i in 0..12 {
            let entry = AuditEntry {
                id: AuditId::generate(),
                at: start + Duration::seconds(i),
                actor: Actor::System,
                action: format!("test.action{i}"),
                target: None,
                target_name: None,
                source_ip: Some("192.0.2.7".parse().unwrap()),
                outcome: AuditOutcome::Succeeded,
            };
            f.store.audit.append(&tenant, &entry).await.unwrap();
            assert!(matches!(f.store.audit.append(&tenant, &entry).await, Err(StoreError::Conflict(_))));
        }
        let mut actions = Vec::new();
        let mut cursor = None;
        loop {
            let page = f.store.audit.newest_first(&tenant, 5, cursor).await.unwrap();
            actions.extend(page.items.into_iter().map(|e| e.action));
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        let expected: Vec<_> = (0..12).rev().map(|i| format!("test.action{i}")).collect();
        assert_eq!(actions, expected);
        assert!(f.store.audit.newest_first(&TenantId::generate(), 5, None).await.unwrap().items.is_empty());
    }
}

for_each_store!(
    stored_credentials_leave_no_plaintext_in_the_raw_store,
    a_ciphertext_copied_onto_another_instance_or_tenant_fails_to_decrypt,
    another_tenants_instance_is_not_found,
    metric_rows_are_gone_from_every_read_after_90_days,
    a_redelivered_poll_does_not_duplicate_its_metric_row_or_backup_record,
    listing_instances_due_for_polling_reads_only_active_instances,
    signup_is_all_or_nothing_when_the_email_is_taken,
    the_audit_log_reads_newest_first_across_pages,
    user_writes_keep_the_email_claims_in_step,
    sessions_end_at_their_expiry_and_all_of_a_users_sessions_can_be_revoked,
    login_failures_are_counted_over_a_sliding_window,
);

#[test]
fn keys_of_one_tenant_never_collide_with_another() {
    let a = TenantId::generate();
    let b = TenantId::generate();
    let i = InstanceId::generate();
    let now = Utc::now();
    assert_ne!(keys::instance(&a, &i), keys::instance(&b, &i));
    assert_ne!(keys::metric(&a, &i, now).pk, keys::metric(&b, &i, now).pk);
    assert_ne!(keys::credential(&a, &i), keys::credential(&b, &i));
    let _: Key = keys::tenant(&a);
}

#[tokio::test]
async fn a_save_based_on_a_stale_revision_is_a_conflict() {
    let f = sikurd_tests::embedded_store();
    let now = f.tables.clock.now();
    let tenant = TenantId::generate();
    let original = instance(&tenant, "A", now);
    f.store.instances.create(&original).await.unwrap();
    let first =
        f.store.instances.save(&Instance { status_reason: Some("first".into()), ..original.clone() }).await.unwrap();
    assert_eq!(first.revision, original.revision + 1);
    let stale = f.store.instances.save(&Instance { status_reason: Some("stale".into()), ..original.clone() }).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let stored = f.store.instances.get(&tenant, &original.id).await.unwrap().unwrap();
    assert_eq!(stored.status_reason.as_deref(), Some("first"));
}
