//! The audit log: one entry per state-changing request, login, logout and CSV download, and
//! the route that reads it. No route edits or deletes an entry.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Params, SourceIp};
use super::views::{cursor, page_size};
use crate::domain::{Actor, AuditEntry, AuditId, AuditOutcome, InstanceId, Role, TenantId};

/// Appends one entry to the tenant's audit log. A failure to write it is logged, not returned:
/// the action it records has already happened.
pub async fn record_outcome(
    state: &ApiState,
    tenant: &TenantId,
    actor: Actor,
    action: &'static str,
    target: Option<String>,
    source: SourceIp,
    outcome: AuditOutcome,
) {
    let target_name = match target.as_deref().map(InstanceId::parse) {
        Some(Ok(instance)) => match state.store().instances.get(tenant, &instance).await {
            Ok(found) => found.map(|i| i.name.to_string()),
            Err(e) => {
                tracing::warn!(tenant = %tenant, action, error = %e, "reading an audit target's name failed");
                None
            }
        },
        _ => None,
    };
    let entry = AuditEntry {
        id: AuditId::generate(),
        at: state.now(),
        actor,
        action: action.to_owned(),
        target,
        target_name,
        source_ip: source.0,
        outcome,
    };
    if let Err(e) = state.store().audit.append(tenant, &entry).await {
        tracing::error!(tenant = %tenant, action, error = %e, "writing an audit entry failed");
    }
}

/// The outcome of a handler's result: failed ones give the error code as the reason.
pub fn outcome_of<T>(result: &Result<T, ApiError>) -> AuditOutcome {
    match result {
        Ok(_) => AuditOutcome::Succeeded,
        Err(e) => AuditOutcome::Failed { reason: e.code().to_owned() },
    }
}

/// Audits a signed-in caller's request by its result.
pub async fn record<T>(
    state: &ApiState,
    caller: &Caller,
    source: SourceIp,
    action: &'static str,
    target: Option<String>,
    result: &Result<T, ApiError>,
) {
    record_outcome(state, caller.tenant_id(), caller.actor(), action, target, source, outcome_of(result)).await;
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// `user`, `system`, `support` or `anonymous`.
    pub kind: &'static str,
    /// The user's id (`user`).
    pub user_id: Option<String>,
    /// The user's e-mail address (`user`), or the address tried (`anonymous`).
    pub email: Option<String>,
    /// The support person (`support`).
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// `aud_…`
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: ActorView,
    /// A dotted verb: `auth.login`, `instance.create`, …
    pub action: String,
    pub target: Option<String>,
    /// The target's name when the entry was written (an instance's), kept after it is purged.
    pub target_name: Option<String>,
    pub source_ip: Option<String>,
    /// `succeeded` or `failed`.
    pub result: &'static str,
    /// Why it failed (an error code).
    pub reason: Option<String>,
}

impl From<Actor> for ActorView {
    fn from(actor: Actor) -> Self {
        match actor {
            Actor::User { id, email } => {
                ActorView { kind: "user", user_id: Some(id.to_string()), email: Some(email.to_string()), name: None }
            }
            Actor::System => ActorView { kind: "system", user_id: None, email: None, name: None },
            Actor::Support { name } => ActorView { kind: "support", user_id: None, email: None, name: Some(name) },
            Actor::Anonymous { email } => ActorView { kind: "anonymous", user_id: None, email, name: None },
        }
    }
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        let actor = ActorView::from(e.actor);
        let (result, reason) = match e.outcome {
            AuditOutcome::Succeeded => ("succeeded", None),
            AuditOutcome::Failed { reason } => ("failed", Some(reason)),
        };
        Self {
            id: e.id.to_string(),
            at: e.at,
            actor,
            action: e.action,
            target: e.target,
            target_name: e.target_name,
            source_ip: e.source_ip.map(|ip| ip.to_string()),
            result,
            reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// The tenant's audit log, newest first. Admins and owners only: it shows colleagues' source
/// addresses.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(PageParams),
    responses((status = 200, body = AuditPage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Params(params): Params<PageParams>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Role::Admin)?;
    let limit = page_size(params.limit)?;
    let page = state.store().audit.newest_first(caller.tenant_id(), limit, cursor(params.cursor)).await?;
    Ok(Json(AuditPage {
        items: page.items.into_iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}
