//! Every key of the single table is built here. The design and its access patterns are
//! written down in `docs/data-model.md`; keep the two in step.
//!
//! Tenant data lives under keys that begin with the tenant id, so every access is scoped by the
//! tenant that the caller holds. The only keys without a tenant are the global e-mail claims
//! (login), sessions and login throttles (looked up before the tenant is known) and the polling
//! index (scheduler), and the functions that build them say so.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use crate::alerts::ChannelId;
use crate::domain::{AlertId, AuditId, DeliveryId, Email, InstanceId, SessionHash, TenantId, UserId};
use crate::table::Key;

/// Partitions of the polling index; spreads the scheduler's reads.
pub const POLL_SHARDS: u8 = 8;

/// A fixed-width UTC timestamp (`2026-11-29T08:55:20.123Z`) that sorts as it reads.
pub fn sortable_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn tenant_partition(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

fn instance_partition(tenant: &TenantId, instance: &InstanceId) -> String {
    format!("TENANT#{tenant}#INSTANCE#{instance}")
}

pub fn tenant(tenant: &TenantId) -> Key {
    Key::new(tenant_partition(tenant), "TENANT")
}

pub fn user(tenant: &TenantId, user: &UserId) -> Key {
    Key::new(tenant_partition(tenant), format!("USER#{user}"))
}

/// The partition and sort-key prefix of a tenant's users.
pub fn users_of(tenant: &TenantId) -> (String, &'static str) {
    (tenant_partition(tenant), "USER#")
}

/// The claim that makes an e-mail address unique across all tenants (used to log in).
pub fn email_claim_across_tenants(email: &Email) -> Key {
    Key::new(format!("EMAIL#{email}"), "EMAIL")
}

/// A session, by the SHA-256 of its id: read on every request before the tenant is known.
pub fn session_across_tenants(hash: &SessionHash) -> Key {
    Key::new(format!("SESSION#{hash}"), "SESSION")
}

/// The index partition that lists a user's sessions (so all of them can be revoked).
pub fn user_sessions(tenant: &TenantId, user: &UserId) -> String {
    format!("USERSESSIONS#{tenant}#{user}")
}

/// A session's entry in its user's index partition.
pub fn user_session_entry(tenant: &TenantId, user: &UserId, hash: &SessionHash) -> Key {
    Key::new(user_sessions(tenant, user), hash.as_str())
}

/// Recent failed logins of one subject (an e-mail address or a source address), named by the
/// SHA-256 of `subject` so that no address is kept in a key.
pub fn login_throttle_across_tenants(subject: &str) -> Key {
    Key::new(format!("THROTTLE#{}", hex::encode(Sha256::digest(subject.as_bytes()))), "THROTTLE")
}

pub fn instance(tenant: &TenantId, instance: &InstanceId) -> Key {
    Key::new(tenant_partition(tenant), format!("INSTANCE#{instance}"))
}

/// The partition and sort-key prefix of a tenant's instances.
pub fn instances_of(tenant: &TenantId) -> (String, &'static str) {
    (tenant_partition(tenant), "INSTANCE#")
}

/// The polling-index partition an instance falls in.
pub fn poll_shard(instance: &InstanceId) -> u8 {
    Sha256::digest(instance.as_str().as_bytes())[0] % POLL_SHARDS
}

/// The polling-index partition for a shard; holds active instances of every tenant.
pub fn poll_partition_across_tenants(shard: u8) -> String {
    format!("POLL#{shard}")
}

/// An active instance's entry in the polling index.
pub fn poll_entry_across_tenants(tenant: &TenantId, instance: &InstanceId) -> Key {
    Key::new(poll_partition_across_tenants(poll_shard(instance)), format!("{tenant}#{instance}"))
}

/// Partitions of the purge index; spreads the retention job's reads.
pub const PURGE_SHARDS: u8 = 4;

/// The purge-index partition for a shard; holds soft-deleted instances of every tenant.
pub fn purge_partition_across_tenants(shard: u8) -> String {
    format!("PURGE#{shard}")
}

/// A soft-deleted instance's entry in the purge index, sorted by when it was deleted.
pub fn purge_entry_across_tenants(tenant: &TenantId, instance: &InstanceId, deleted_at: DateTime<Utc>) -> Key {
    let shard = Sha256::digest(instance.as_str().as_bytes())[0] % PURGE_SHARDS;
    Key::new(purge_partition_across_tenants(shard), format!("{}#{tenant}#{instance}", sortable_time(deleted_at)))
}

/// Changes whenever any instance of the tenant is written, so readers can tell whether a copy
/// of the fleet they hold is still current.
pub fn fleet_revision(tenant: &TenantId) -> Key {
    Key::new(tenant_partition(tenant), "FLEET_REVISION")
}

pub fn credential(tenant: &TenantId, instance: &InstanceId) -> Key {
    Key::new(tenant_partition(tenant), format!("CREDENTIAL#{instance}"))
}

/// The 3CX access token kept for the instance's current credentials.
pub fn credential_token(tenant: &TenantId, instance: &InstanceId) -> Key {
    Key::new(tenant_partition(tenant), format!("CREDENTIAL_TOKEN#{instance}"))
}

/// The partition of everything kept per instance outside the tenant partition: metrics,
/// backup records, day roll-ups, alert state (purged with the instance).
pub fn instance_data(tenant: &TenantId, instance: &InstanceId) -> String {
    instance_partition(tenant, instance)
}

/// One metric row per instance and poll slot.
pub fn metric(tenant: &TenantId, instance: &InstanceId, at: DateTime<Utc>) -> Key {
    Key::new(instance_partition(tenant, instance), format!("METRIC#{}", sortable_time(at)))
}

pub fn metrics_of(tenant: &TenantId, instance: &InstanceId) -> (String, &'static str) {
    (instance_partition(tenant, instance), "METRIC#")
}

/// An instance's metrics of one UTC day, rolled up for reports (kept as long as the metrics).
pub fn day_rollup(tenant: &TenantId, instance: &InstanceId, day: NaiveDate) -> Key {
    Key::new(instance_partition(tenant, instance), format!("DAY#{day}"))
}

pub fn day_rollups_of(tenant: &TenantId, instance: &InstanceId) -> (String, &'static str) {
    (instance_partition(tenant, instance), "DAY#")
}

/// One backup record per instance, time and backup identity (a hash of the file name, so the
/// name itself is not in the key).
pub fn backup(tenant: &TenantId, instance: &InstanceId, at: DateTime<Utc>, identity: &str) -> Key {
    let hash = hex::encode(&Sha256::digest(identity.as_bytes())[..8]);
    Key::new(instance_partition(tenant, instance), format!("BACKUP#{}#{hash}", sortable_time(at)))
}

pub fn backups_of(tenant: &TenantId, instance: &InstanceId) -> (String, &'static str) {
    (instance_partition(tenant, instance), "BACKUP#")
}

/// What the alert evaluator keeps about an instance: the rules' state and its active alerts.
pub fn alert_state(tenant: &TenantId, instance: &InstanceId) -> Key {
    Key::new(instance_partition(tenant, instance), "ALERT_STATE")
}

/// The partition of all of a tenant's alerts, by id (opening time).
pub fn alerts_of(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}#ALERT")
}

/// An alert, kept indefinitely (outside the instance partition, so an instance's purge keeps it).
pub fn alert(tenant: &TenantId, alert: &AlertId) -> Key {
    Key::new(alerts_of(tenant), alert.as_str())
}

/// The index partition of a tenant's active (open or acknowledged) or resolved alerts.
pub fn alerts_by_status(tenant: &TenantId, active: bool) -> String {
    format!("TENANT#{tenant}#ALERTS#{}", if active { "ACTIVE" } else { "RESOLVED" })
}

/// An alert's entry in [`alerts_by_status`]; sorts by opening time.
pub fn alert_status_entry(tenant: &TenantId, alert: &AlertId, active: bool) -> Key {
    Key::new(alerts_by_status(tenant, active), alert.as_str())
}

/// A tenant's alert settings: rule overrides, maintenance windows, routes (one item).
pub fn alert_settings(tenant: &TenantId) -> Key {
    Key::new(tenant_partition(tenant), "ALERT_SETTINGS")
}

pub fn channel(tenant: &TenantId, channel: &ChannelId) -> Key {
    Key::new(tenant_partition(tenant), format!("CHANNEL#{channel}"))
}

pub fn channels_of(tenant: &TenantId) -> (String, &'static str) {
    (tenant_partition(tenant), "CHANNEL#")
}

/// Partitions of the due-deliveries index; spreads the sweep's reads.
pub const DELIVERY_SHARDS: u8 = 4;

/// A notification of an alert, kept with the alert's other deliveries.
pub fn delivery(tenant: &TenantId, alert: &AlertId, delivery: &DeliveryId) -> Key {
    Key::new(format!("TENANT#{tenant}#ALERT#{alert}"), format!("DELIVERY#{delivery}"))
}

pub fn deliveries_of(tenant: &TenantId, alert: &AlertId) -> (String, &'static str) {
    (format!("TENANT#{tenant}#ALERT#{alert}"), "DELIVERY#")
}

/// The due-deliveries partition of a shard; holds pending deliveries of every tenant.
pub fn deliveries_due_across_tenants(shard: u8) -> String {
    format!("DELIVERY_DUE#{shard}")
}

/// A pending delivery's entry in the due index, sorted by when it is due.
pub fn delivery_due_across_tenants(tenant: &TenantId, delivery: &DeliveryId, due: DateTime<Utc>) -> Key {
    let shard = Sha256::digest(delivery.as_str().as_bytes())[0] % DELIVERY_SHARDS;
    Key::new(deliveries_due_across_tenants(shard), format!("{}#{tenant}#{delivery}", sortable_time(due)))
}

/// The upper bound of due-index and purge-index sort keys at or before `at`.
pub fn due_at_or_before(at: DateTime<Utc>) -> String {
    format!("{}#~", sortable_time(at))
}

/// The scheduler's record that it ran for a poll slot (all tenants).
pub fn poll_tick_across_tenants(slot: DateTime<Utc>) -> Key {
    Key::new(format!("POLLTICK#{}", sortable_time(slot)), "TICK")
}

/// The partition of the poller's records of what each batch recorded for a slot (all tenants).
pub fn polled_across_tenants(slot: DateTime<Utc>) -> String {
    format!("POLLED#{}", sortable_time(slot))
}

/// One batch's record, named by a hash of what it holds (a redelivered batch rewrites it).
pub fn polled_batch_across_tenants(slot: DateTime<Utc>, content: &str) -> Key {
    Key::new(polled_across_tenants(slot), hex::encode(&Sha256::digest(content.as_bytes())[..16]))
}

pub fn audit_partition(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}#AUDIT")
}

pub fn audit(tenant: &TenantId, at: DateTime<Utc>, id: &AuditId) -> Key {
    Key::new(audit_partition(tenant), format!("{}#{id}", sortable_time(at)))
}

/// A tenant-deletion confirmation token, by its SHA-256 (the token itself is only in the e-mail):
/// looked up before the tenant is known.
pub fn deletion_token_across_tenants(token_hash: &str) -> Key {
    Key::new(format!("DELETION_TOKEN#{token_hash}"), "TOKEN")
}

/// The proof that a tenant was deleted, outside the tenant: its id, the timestamps and the
/// support person; kept after everything of the tenant is gone.
pub fn deletion_ledger_across_tenants(tenant: &TenantId) -> Key {
    Key::new(format!("DELETED_TENANT#{tenant}"), "LEDGER")
}

/// The index partition of confirmed deletions not yet carried out.
pub const DELETIONS_PENDING: &str = "TENANT_DELETIONS_PENDING";

/// A confirmed deletion's entry in [`DELETIONS_PENDING`] (on its ledger item), by confirmation time.
pub fn deletion_pending_across_tenants(tenant: &TenantId, confirmed_at: DateTime<Utc>) -> Key {
    Key::new(DELETIONS_PENDING, format!("{}#{tenant}", sortable_time(confirmed_at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_times_sort_chronologically() {
        let a = DateTime::from_timestamp_millis(1_000).unwrap();
        let b = DateTime::from_timestamp_millis(1_000_000_000_000).unwrap();
        assert!(sortable_time(a) < sortable_time(b));
        assert_eq!(sortable_time(a).len(), sortable_time(b).len());
    }

    #[test]
    fn tenant_keys_begin_with_their_tenant() {
        let t = TenantId::generate();
        let i = InstanceId::generate();
        let now = Utc::now();
        for key in [
            tenant(&t),
            instance(&t, &i),
            credential(&t, &i),
            metric(&t, &i, now),
            backup(&t, &i, now, "x.zip"),
            audit(&t, now, &AuditId::generate()),
            alert_state(&t, &i),
            alert(&t, &AlertId::generate()),
            alert_settings(&t),
            user(&t, &UserId::generate()),
        ] {
            assert!(key.pk.starts_with(&format!("TENANT#{t}")), "{key:?}");
        }
    }

    #[test]
    fn the_backup_key_does_not_carry_the_file_name() {
        let key = backup(&TenantId::generate(), &InstanceId::generate(), Utc::now(), "3CXScheduledBackup.zip");
        assert!(!key.sk.contains("3CX"));
    }

    #[test]
    fn poll_shards_are_stable_and_in_range() {
        let i = InstanceId::generate();
        assert_eq!(poll_shard(&i), poll_shard(&i));
        assert!(poll_shard(&i) < POLL_SHARDS);
    }
}
