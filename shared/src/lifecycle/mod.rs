//! The data lifecycle: what is kept how long, and the nightly job that makes it so.
//!
//! Every item type of the table has a retention rule here ([`RETENTION`]); a test fails when a
//! key builder has none.

mod archive;
mod deletion;
mod export;
mod retention;

pub use crate::store::DeletionLedger;
pub use archive::{ArchiveError, ArchivedFile};
pub use deletion::{
    CONFIRM_WITHIN_HOURS, DeletionError, DeletionRequested, TenantDeletion, confirm as confirm_deletion,
};
pub use export::{ExportError, Exported, Exporter, FORMAT, LINK_VALID, Manifest, export_key};
pub use retention::{EXPORT_KEPT_DAYS, Retention, RetentionError, RetentionReport};

/// How long an item type is kept, and what removes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// A DynamoDB TTL attribute (`expires_at`); reads ignore the item once it has passed, and
    /// the retention job deletes it from the embedded table.
    Ttl(&'static str),
    /// Until its instance is purged (30 days after a soft delete), by the retention job.
    WithInstance,
    /// Until the tenant is deleted.
    WithTenant,
    /// Until the user is removed or the tenant deleted.
    WithUser,
    /// Until whoever made it removes it, or the tenant is deleted.
    UntilRemoved,
    /// Indefinitely (history), until the tenant is deleted.
    Indefinitely,
    /// Outside any tenant, kept as proof or bookkeeping.
    Global(&'static str),
}

/// The retention rule of every item type, by the `store::keys` function that builds its key.
pub const RETENTION: &[(&str, Kept)] = &[
    ("tenant", Kept::WithTenant),
    ("user", Kept::WithUser),
    ("email_claim_across_tenants", Kept::WithUser),
    ("session_across_tenants", Kept::Ttl("the session's absolute end (at most 720 h)")),
    ("user_session_entry", Kept::Ttl("the session's index entry is the session item itself")),
    ("login_throttle_across_tenants", Kept::Ttl("the last failure plus the throttle window")),
    ("instance", Kept::WithInstance),
    ("fleet_revision", Kept::WithTenant),
    ("credential", Kept::WithInstance),
    ("credential_token", Kept::WithInstance),
    ("metric", Kept::Ttl("90 days after it was recorded")),
    ("day_rollup", Kept::Ttl("90 days after its day, like the metrics it sums")),
    ("backup", Kept::WithInstance),
    ("alert_state", Kept::WithInstance),
    ("alert", Kept::Indefinitely),
    ("alert_status_entry", Kept::Indefinitely),
    ("alert_settings", Kept::WithTenant),
    ("channel", Kept::UntilRemoved),
    ("delivery", Kept::Indefinitely),
    ("delivery_due_across_tenants", Kept::Global("removed when the delivery is sent or given up")),
    ("poll_entry_across_tenants", Kept::WithInstance),
    ("purge_entry_across_tenants", Kept::WithInstance),
    ("poll_tick_across_tenants", Kept::Ttl("1 day")),
    ("polled_batch_across_tenants", Kept::Ttl("1 day")),
    ("audit", Kept::Indefinitely),
    ("deletion_token_across_tenants", Kept::Ttl("72 hours, or until used")),
    ("deletion_ledger_across_tenants", Kept::Global("indefinitely: the proof of a tenant's deletion")),
    ("deletion_pending_across_tenants", Kept::Global("until the confirmed deletion is carried out")),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the functions in `store/keys.rs` that build an item's key (`-> Key`).
    fn key_builders() -> Vec<String> {
        let source = include_str!("../store/keys.rs");
        let mut names = Vec::new();
        let mut signature = String::new();
        for line in source.lines() {
            let line = line.trim();
            if line.starts_with("pub fn ") {
                signature.clear();
            }
            if line.starts_with("pub fn ") || !signature.is_empty() {
                signature.push_str(line);
                if line.contains('{') {
                    if signature.contains("-> Key {") {
                        let name = signature["pub fn ".len()..].split('(').next().unwrap_or_default();
                        names.push(name.to_owned());
                    }
                    signature.clear();
                }
            }
        }
        names
    }

    #[test]
    fn every_item_type_of_the_table_has_a_retention_rule() {
        let builders = key_builders();
        assert!(builders.len() > 20, "the key builders were not found: {builders:?}");
        for name in &builders {
            assert!(
                RETENTION.iter().any(|(n, _)| n == name),
                "store::keys::{name} builds an item's key but has no retention rule in lifecycle::RETENTION"
            );
        }
        for (name, _) in RETENTION {
            assert!(builders.iter().any(|b| b == name), "lifecycle::RETENTION names {name}, which builds no key");
        }
    }
}
