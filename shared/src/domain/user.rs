use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Email, PersonName, TenantId, UserId, ValueError};

/// What a user may do; each role includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything of the tenant.
    Viewer,
    /// Also polls now and acknowledges alerts.
    Technician,
    /// Also manages instances, users and settings.
    Admin,
    /// Everything, including owner transfer.
    Owner,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "viewer" => Ok(Self::Viewer),
            "technician" => Ok(Self::Technician),
            "admin" => Ok(Self::Admin),
            "owner" => Ok(Self::Owner),
            _ => Err(ValueError::new("role", "must be one of owner, admin, technician, viewer")),
        }
    }

    /// Whether this role includes everything `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

/// A bcrypt hash. Not a secret in itself, but never shown: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a hash in bcrypt's modular format (`$2b$12$…`).
    pub fn from_bcrypt(hash: String) -> Result<Self, ValueError> {
        if hash.len() == 60 && hash.starts_with("$2") {
            Ok(Self(hash))
        } else {
            Err(ValueError::new("password hash", "is not a bcrypt hash"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A person who signs in to a tenant's dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub name: PersonName,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Owner.allows(Role::Admin));
        assert!(Role::Admin.allows(Role::Technician));
        assert!(!Role::Viewer.allows(Role::Technician));
        assert!(!Role::Admin.allows(Role::Owner));
    }

    #[test]
    fn unknown_roles_are_rejected() {
        assert!(Role::parse("root").is_err());
        assert_eq!(Role::parse("technician"), Ok(Role::Technician));
    }

    #[test]
    fn password_hashes_never_show_in_debug_output() {
        let hash = PasswordHash::from_bcrypt(format!("$2b$12${}", "a".repeat(53))).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{hash:?}").contains("aaaa"));
    }
}
