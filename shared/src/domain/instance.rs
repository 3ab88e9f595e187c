use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CredentialKind, GroupName, InstanceId, InstanceName, PbxAddress, TenantId, ValueError};

/// A 3CX version as reported (`20.0.7.1080`): dot-separated numbers, major first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PbxVersion(String);

impl PbxVersion {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let s = raw.trim();
        let parts: Vec<&str> = s.split('.').collect();
        if s.is_empty() || s.len() > 32 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ValueError::new("3CX version", "must be dot-separated numbers like 20.0.7.1080"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn major(&self) -> u32 {
        self.0.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PbxVersion {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<PbxVersion> for String {
    fn from(v: PbxVersion) -> String {
        v.0
    }
}

/// What the 3CX says of its licence.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceInfo {
    /// Edition / product code, e.g. `3CXPSPROF`.
    pub product_code: Option<String>,
    pub active: Option<bool>,
    pub expires_at: Option<DateTime<Utc>>,
    pub maintenance_expires_at: Option<DateTime<Utc>>,
    pub max_sim_calls: Option<u32>,
}

/// A trunk as the last poll saw it. `name` is the trunk's gateway name (the SIP provider), or its
/// number when it has none.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TrunkState {
    pub name: String,
    pub online: bool,
}

/// How far the backup history of an instance has been recorded, so that each poll writes only
/// what is new.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupsSeen {
    /// Creation time of the newest backup recorded.
    pub newest_at: Option<DateTime<Utc>>,
    /// The last scheduled time recorded as a missed backup.
    pub missed_due_at: Option<DateTime<Utc>>,
    /// `LastBackupDateTime` as the 3CX reported it when its backup list was last read; the list
    /// is read again when this changes.
    pub reported_at: Option<DateTime<Utc>>,
}

/// The health of an instance as of its last poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    NeverPolled,
    Ok,
    /// Reachable, but something is wrong (a trunk down, a service stopped, ...).
    Degraded,
    Unreachable,
    /// The 3CX refuses our credentials: monitoring is blind, the PBX may be fine.
    LoginFailing,
    /// A v18 system or an API we do not speak.
    Unsupported,
}

/// How long a soft-deleted instance can be restored; after that it is purged.
pub const RESTORE_WINDOW_DAYS: i64 = 30;

/// A monitored 3CX, as the MSP registered it and as its last poll found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: InstanceId,
    pub tenant_id: TenantId,
    pub name: InstanceName,
    pub address: PbxAddress,
    pub group: Option<GroupName>,
    /// Which kind of 3CX credential is stored (the secret itself lives in the credential store).
    pub credential_kind: Option<CredentialKind>,
    pub version: Option<PbxVersion>,
    pub licence: Option<LicenceInfo>,
    #[serde(default)]
    pub trunks: Vec<TrunkState>,
    pub status: InstanceStatus,
    /// Why the last poll failed (no secret, no 3CX response body); absent when it succeeded.
    #[serde(default)]
    pub status_reason: Option<String>,
    /// What the poller has recorded of the backup history so far.
    #[serde(default)]
    pub backups_seen: BackupsSeen,
    pub created_at: DateTime<Utc>,
    /// Set by a soft delete; restorable for 30 days, then purged.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Bumped by every save; a save based on an older revision is refused (optimistic
    /// concurrency between the poller and API edits).
    #[serde(default)]
    pub revision: u64,
}

impl Instance {
    pub fn new(
        tenant_id: TenantId,
        name: InstanceName,
        address: PbxAddress,
        group: Option<GroupName>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: InstanceId::generate(),
            tenant_id,
            name,
            address,
            group,
            credential_kind: None,
            version: None,
            licence: None,
            trunks: Vec::new(),
            status: InstanceStatus::NeverPolled,
            status_reason: None,
            backups_seen: BackupsSeen::default(),
            created_at: now,
            deleted_at: None,
            revision: 0,
        }
    }

    /// Active instances are polled; soft-deleted ones are not.
    pub fn is_active(&self) -> bool {
        self.deleted_at.is_none()
    }

    /// Active, or deleted less than [`RESTORE_WINDOW_DAYS`] before `now` (still restorable).
    pub fn is_restorable_or_active(&self, now: DateTime<Utc>) -> bool {
        self.deleted_at.is_none_or(|at| now - at < chrono::Duration::days(RESTORE_WINDOW_DAYS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_expose_their_major() {
        let v = PbxVersion::parse("20.0.7.1080").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.major(), 20);
        assert!(PbxVersion::parse("20.x").is_err());
        assert!(PbxVersion::parse("").is_err());
    }
}
