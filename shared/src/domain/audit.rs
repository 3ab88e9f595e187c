use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AuditId, Email, UserId};

/// Who did something.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    User {
        id: UserId,
        email: Email,
    },
    /// Sikurd itself (scheduler, retention, alert evaluation).
    System,
    /// Sikurd support staff, by name.
    Support {
        name: String,
    },
    /// A login attempt for an account that could not be identified.
    Anonymous {
        email: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AuditOutcome {
    Succeeded,
    Failed { reason: String },
}

/// One line of a tenant's audit log. Append-only: never edited, never deleted while the tenant
/// exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// A dotted verb such as `instance.create` or `auth.login`.
    pub action: String,
    /// What was acted on: an id, or a description that carries no secret.
    pub target: Option<String>,
    /// The target's name when the entry was written (an instance's), kept after the target is
    /// purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub outcome: AuditOutcome,
}
