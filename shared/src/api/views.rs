//! What the API returns of users and tenants; never a password hash or a session id.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Plan, Role, Tenant, User};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// `usr_…`
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.to_string(),
            email: u.email.to_string(),
            role: u.role,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    /// `ten_…`
    pub id: String,
    pub name: String,
    pub plan: Plan,
    pub created_at: DateTime<Utc>,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        Self { id: t.id.to_string(), name: t.name.to_string(), plan: t.plan, created_at: t.created_at }
    }
}

/// The signed-in user, their tenant, and the CSRF token to send in `X-CSRF-Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: UserView,
    pub tenant: TenantView,
    pub role: Role,
    pub csrf_token: String,
}

/// Page size bounds for every list.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// `limit` checked against the bounds (default 50, at most 200).
pub fn page_size(limit: Option<u32>) -> Result<u32, super::error::ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        n @ 1..=MAX_PAGE => Ok(n),
        _ => Err(super::error::ApiError::bad_query(format!("limit must be 1 to {MAX_PAGE}"))),
    }
}

/// A cursor as the client sent it; empty means none.
pub fn cursor(raw: Option<String>) -> Option<crate::table::Cursor> {
    raw.filter(|c| !c.is_empty()).map(crate::table::Cursor::from_token)
}
