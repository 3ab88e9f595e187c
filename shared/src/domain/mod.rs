//! The domain: typed, validated values and the records Sikurd keeps. Constructors parse; a bad
//! value is a [`ValueError`] naming what was wrong, never a panic.

mod address;
mod audit;
mod backup;
mod credentials;
mod email;
mod ids;
mod instance;
mod metric;
mod names;
mod session;
mod tenant;
mod user;

pub use address::{Fqdn, PbxAddress, Port, Scheme};
pub use audit::{Actor, AuditEntry, AuditOutcome};
pub use backup::{BackupOutcome, BackupRecord};
pub use credentials::{CredentialKind, PbxCredentials};
pub use email::Email;
pub(crate) use ids::prefixed_id;
pub use ids::{AlertId, AuditId, DeliveryId, InstanceId, TenantId, UserId};
pub use instance::{BackupsSeen, Instance, InstanceStatus, LicenceInfo, PbxVersion, RESTORE_WINDOW_DAYS, TrunkState};
pub use metric::{MetricSnapshot, PollOutcome};
pub use names::{GroupName, InstanceName, PersonName, TenantName};
pub use session::{Session, SessionHash, SessionToken, generate_csrf_token};
pub use tenant::{Plan, Tenant, TenantState};
pub use user::{PasswordHash, Role, User};

/// A value that failed validation: which kind of value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct ValueError {
    pub what: &'static str,
    pub reason: String,
}

impl ValueError {
    pub(crate) fn new(what: &'static str, reason: impl Into<String>) -> Self {
        Self { what, reason: reason.into() }
    }
}
