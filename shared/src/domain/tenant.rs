use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{TenantId, TenantName};

/// One MSP account; everything else Sikurd holds belongs to exactly one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
    pub state: TenantState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    Trial,
    Standard,
    Enterprise,
}

/// Where a tenant is in its life: deletion is requested, then confirmed (locked), then done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TenantState {
    Active,
    DeletionRequested {
        requested_at: DateTime<Utc>,
    },
    /// Confirmed by the owner: no logins, no polling; hard deletion follows.
    Locked {
        confirmed_at: DateTime<Utc>,
    },
}

impl Tenant {
    pub fn new(name: TenantName, plan: Plan, now: DateTime<Utc>) -> Self {
        Self { id: TenantId::generate(), name, plan, created_at: now, state: TenantState::Active }
    }

    pub fn is_locked(&self) -> bool {
        matches!(self.state, TenantState::Locked { .. })
    }
}
