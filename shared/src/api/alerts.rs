//! Alerts of the caller's tenant: the list, one alert with its history, acknowledge and
//! resolve.
//!
//! Everyone reads; technicians and above acknowledge (with an optional reason) and resolve
//! (with a reason). A resolved alert whose condition still holds opens again at the next poll.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::audit::{ActorView, record};
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params, SourceIp};
use super::views::page_size;
use crate::alerts::{Act, Alert, AlertChange, AlertKind, AlertStatus, Severity};
use crate::domain::{AlertId, InstanceId, Role};
use crate::store::{AlertFilter, DeliveryRecord, DeliveryStatus};

/// The longest reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Serialize, ToSchema)]
pub struct ActView {
    pub at: DateTime<Utc>,
    pub by: ActorView,
    pub reason: Option<String>,
}

impl From<Act> for ActView {
    fn from(a: Act) -> Self {
        Self { at: a.at, by: a.by.into(), reason: a.reason }
    }
}

/// One change in an alert's life.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertChangeView {
    /// `opened`, `severity_changed`, `acknowledged` or `resolved`.
    pub change: &'static str,
    pub at: DateTime<Utc>,
    pub severity: Option<Severity>,
    pub detail: Option<String>,
    /// Who acknowledged or resolved it.
    pub by: Option<ActorView>,
    pub reason: Option<String>,
}

impl From<AlertChange> for AlertChangeView {
    fn from(c: AlertChange) -> Self {
        let act = |change, a: Act| Self {
            change,
            at: a.at,
            severity: None,
            detail: None,
            by: Some(a.by.into()),
            reason: a.reason,
        };
        match c {
            AlertChange::Opened { at, severity, detail } => {
                Self { change: "opened", at, severity: Some(severity), detail: Some(detail), by: None, reason: None }
            }
            AlertChange::SeverityChanged { at, to, detail, .. } => Self {
                change: "severity_changed",
                at,
                severity: Some(to),
                detail: Some(detail),
                by: None,
                reason: None,
            },
            AlertChange::Acknowledged(a) => act("acknowledged", a),
            AlertChange::Resolved(a) => act("resolved", a),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// `alr_…`
    pub id: String,
    pub instance_id: String,
    /// The instance's name when the alert opened.
    pub instance_name: String,
    pub group: Option<String>,
    pub kind: AlertKind,
    /// The trunk or service it is about; empty for the instance itself.
    pub subject: String,
    pub severity: Severity,
    pub detail: String,
    pub status: AlertStatus,
    /// It opened again within 30 minutes of resolving.
    pub flapping: bool,
    pub opened_at: DateTime<Utc>,
    pub acknowledged: Option<ActView>,
    pub resolved: Option<ActView>,
    /// Seconds from opening to resolution, or until now while active.
    pub duration_seconds: i64,
    /// Opened in a maintenance window or mute: nobody is notified before this time.
    pub silenced_until: Option<DateTime<Utc>>,
    /// Every change, oldest first.
    pub history: Vec<AlertChangeView>,
    /// The notifications planned for it, with their outcome (only on `GET /api/v1/alerts/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notifications: Option<Vec<NotificationView>>,
}

/// One notice of an alert to one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    /// `dlv_…`
    pub id: String,
    /// `ch_…`
    pub channel_id: String,
    /// `opened`, `reminder`, `escalated` or `resolved`.
    pub notice: &'static str,
    pub status: DeliveryStatus,
    /// When it is (or was) due; a pending one is tried then.
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    /// Why the last attempt failed, or why it was not sent.
    pub last_error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRecord> for NotificationView {
    fn from(d: DeliveryRecord) -> Self {
        Self {
            id: d.id.to_string(),
            channel_id: d.channel_id.to_string(),
            notice: d.notice.kind.as_str(),
            status: d.status,
            due_at: d.due_at,
            attempts: d.attempts,
            last_error: d.last_error,
            finished_at: d.finished_at,
        }
    }
}

pub(crate) fn view(alert: Alert, now: DateTime<Utc>) -> AlertView {
    let duration_seconds = alert.duration(now).num_seconds().max(0);
    AlertView {
        id: alert.id.to_string(),
        instance_id: alert.instance_id.to_string(),
        instance_name: alert.instance_name,
        group: alert.group,
        kind: alert.kind,
        subject: alert.subject,
        severity: alert.severity,
        detail: alert.detail,
        status: alert.status,
        flapping: alert.flapping,
        opened_at: alert.opened_at,
        acknowledged: alert.acknowledged.map(ActView::from),
        resolved: alert.resolved.map(ActView::from),
        duration_seconds,
        silenced_until: alert.silenced_until,
        history: alert.history.into_iter().map(AlertChangeView::from).collect(),
        notifications: None,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertListParams {
    /// Only alerts in this status.
    pub status: Option<AlertStatus>,
    /// Only this instance's alerts (`ins_…`).
    pub instance: Option<String>,
    /// Only this kind.
    pub kind: Option<AlertKind>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    /// Newest first.
    pub items: Vec<AlertView>,
    /// Pass as `cursor` for the next page; absent on the last page. A page may hold fewer
    /// items than asked for (a filter that matches few alerts) and still have a next one.
    pub next_cursor: Option<String>,
}

fn invalid_cursor() -> ApiError {
    ApiError::BadRequest { code: "invalid_cursor", message: "the cursor does not continue this list".into() }
}

/// The filter of a list or export; an instance id that is malformed matches nothing.
pub(crate) fn filter(
    status: Option<AlertStatus>,
    instance: Option<&str>,
    kind: Option<AlertKind>,
) -> Result<AlertFilter, ApiError> {
    let instance = instance
        .map(|raw| InstanceId::parse(raw.trim()).map_err(|_| ApiError::bad_query("instance must be an instance id")))
        .transpose()?;
    Ok(AlertFilter { status, instance, kind })
}

/// The tenant's alerts, newest first, filtered by status, instance and kind.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertListParams),
    responses((status = 200, body = AlertPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Params(params): Params<AlertListParams>,
) -> Result<Json<AlertPage>, ApiError> {
    let limit = usize::try_from(page_size(params.limit)?).unwrap_or(50);
    let filter = filter(params.status, params.instance.as_deref(), params.kind)?;
    let before = params
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| AlertId::parse(c).map_err(|_| invalid_cursor()))
        .transpose()?;
    let page = state.store().alerts.list(caller.tenant_id(), &filter, limit, before.as_ref()).await?;
    let now = state.now();
    Ok(Json(AlertPage {
        items: page.items.into_iter().map(|a| view(a, now)).collect(),
        next_cursor: page.next.map(|id| id.to_string()),
    }))
}

fn alert_id(raw: &str) -> Result<AlertId, ApiError> {
    AlertId::parse(raw).map_err(|_| ApiError::NotFound)
}

/// The id of an alert of the caller's tenant; not found otherwise (before any body is judged).
async fn existing(state: &ApiState, caller: &Caller, raw: &str) -> Result<AlertId, ApiError> {
    let id = alert_id(raw)?;
    state.store().alerts.get(caller.tenant_id(), &id).await?.ok_or(ApiError::NotFound)?;
    Ok(id)
}

/// One alert with its history and its notifications.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", params(("id" = String, Path, description = "`alr_…`")),
    responses((status = 200, body = AlertView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    let store = state.store();
    let alert = store.alerts.get(caller.tenant_id(), &alert_id(&id)?).await?.ok_or(ApiError::NotFound)?;
    let deliveries = store.deliveries.of_alert(caller.tenant_id(), &alert.id).await?;
    let mut view = view(alert, state.now());
    view.notifications = Some(deliveries.into_iter().map(NotificationView::from).collect());
    Ok(Json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// Why, or what is being done (up to 500 characters).
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// Why it is resolved by hand (1 to 500 characters).
    pub reason: String,
}

fn reason(raw: Option<String>, required: bool) -> Result<Option<String>, ApiError> {
    let reason = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    match &reason {
        None if required => Err(ApiError::Invalid("reason: must not be empty".into())),
        Some(r) if r.chars().count() > MAX_REASON_CHARS => {
            Err(ApiError::Invalid(format!("reason: must be at most {MAX_REASON_CHARS} characters")))
        }
        Some(r) if r.chars().any(|c| c.is_control() && c != '\n') => {
            Err(ApiError::Invalid("reason: must not contain control characters".into()))
        }
        _ => Ok(reason),
    }
}

async fn acknowledge_alert(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    body: Result<AcknowledgeRequest, ApiError>,
) -> Result<Alert, ApiError> {
    caller.require(Role::Technician)?;
    let id = existing(state, caller, id).await?;
    let act = Act { at: state.now(), by: caller.actor(), reason: reason(body?.reason, false)? };
    Ok(state.store().alerts.update_active(caller.tenant_id(), &id, |s| s.acknowledge(&id, act.clone())).await?)
}

/// Acknowledges an open alert (technicians and above): reminders and escalations stop. An
/// acknowledged alert stays acknowledged; a resolved one is a conflict.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts", request_body = AcknowledgeRequest,
    params(("id" = String, Path, description = "`alr_…`")),
    responses((status = 200, body = AlertView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn acknowledge(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<AcknowledgeRequest>,
) -> Result<Json<AlertView>, ApiError> {
    let result = acknowledge_alert(&state, &caller, &id, body).await;
    record(&state, &caller, source, "alert.acknowledge", alert_id(&id).ok().map(|i| i.to_string()), &result).await;
    Ok(Json(view(result?, state.now())))
}

async fn resolve_alert(
    state: &ApiState,
    caller: &Caller,
    id: &str,
    body: Result<ResolveRequest, ApiError>,
) -> Result<Alert, ApiError> {
    caller.require(Role::Technician)?;
    let id = existing(state, caller, id).await?;
    let act = Act { at: state.now(), by: caller.actor(), reason: reason(Some(body?.reason), true)? };
    Ok(state.store().alerts.update_active(caller.tenant_id(), &id, |s| s.resolve_by_user(&id, act.clone())).await?)
}

/// Resolves an active alert by hand, with a reason (technicians and above). If its condition
/// still holds, the next poll opens a new alert.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts", request_body = ResolveRequest,
    params(("id" = String, Path, description = "`alr_…`")),
    responses((status = 200, body = AlertView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resolve(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ResolveRequest>,
) -> Result<Json<AlertView>, ApiError> {
    let result = resolve_alert(&state, &caller, &id, body).await;
    record(&state, &caller, source, "alert.resolve", alert_id(&id).ok().map(|i| i.to_string()), &result).await;
    Ok(Json(view(result?, state.now())))
}
