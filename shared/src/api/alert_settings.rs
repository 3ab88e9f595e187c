//! The caller's tenant's alert settings: notification routes, maintenance windows (muting one
//! instance among them), rule overrides, and the default rules they change.
//!
//! Everyone reads. Admins and owners change routes and rule overrides. Technicians and above
//! create, change and delete maintenance windows and mute instances: they are the ones doing the
//! work. All of it is one item per tenant, changed under optimistic concurrency; a refused change
//! writes nothing.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::audit::record;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, SourceIp};
use super::instances::visible_instance;
use crate::alerts::{
    AlertKind, AlertSettings, ChannelId, MaintenanceWindow, OverrideId, Route, RouteId, RuleOverride, Scope,
    SettingsError, Severity, ThresholdPatch, Thresholds, TimeOfDay, WindowId, WindowSchedule,
};
use crate::domain::{InstanceId, Role, ValueError};

/// Applies `change` to the tenant's settings and writes them, unless it refuses.
async fn change<T>(
    state: &ApiState,
    caller: &Caller,
    change: impl Fn(&mut AlertSettings) -> Result<T, SettingsError>,
) -> Result<T, ApiError> {
    let (_, out) = state.store().alerts.update_settings(caller.tenant_id(), |s| Ok(change(s)?)).await?;
    Ok(out)
}

async fn settings(state: &ApiState, caller: &Caller) -> Result<AlertSettings, ApiError> {
    Ok(state.store().alerts.settings(caller.tenant_id()).await?)
}

/// Refuses an instance scope naming no instance of the caller's tenant (422).
async fn check_scope(state: &ApiState, caller: &Caller, scope: &Scope) -> Result<(), ApiError> {
    if let Scope::Instance(id) = scope {
        let now = state.now();
        let found = state.store().instances.get(caller.tenant_id(), id).await?;
        if !found.is_some_and(|i| i.is_restorable_or_active(now)) {
            return Err(ValueError::new("scope", format!("instance {id} does not exist")).into());
        }
    }
    Ok(())
}

/// A trimmed optional text; blank is none.
fn optional_text(raw: Option<String>) -> Option<String> {
    raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty())
}

fn not_found<T>(_: T) -> ApiError {
    ApiError::NotFound
}

/// A refused value named as the body's field where the settings name it otherwise.
fn as_field(e: ValueError) -> ValueError {
    let field = match e.what {
        "route name" => "name",
        "reminder" => "remind_every_minutes",
        "maintenance window" => "schedule",
        "duration" => "duration_minutes",
        "UTC offset" => "utc_offset_minutes",
        _ => return e,
    };
    ValueError::new(field, e.reason)
}

// Routes.

/// Who is told about which alerts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// The kinds routed; empty or absent routes every kind.
    #[serde(default)]
    pub kinds: Vec<AlertKind>,
    /// The lowest severity routed; default `info` (all).
    pub min_severity: Option<Severity>,
    /// 1 to 5 channels of the tenant (`ch_…`), each once.
    pub channels: Vec<ChannelId>,
    /// Notify again while the alert stays open and unacknowledged, every so many minutes (15 to
    /// 10080).
    pub remind_every_minutes: Option<u32>,
    /// Notify `escalate_to` once the alert has been open and unacknowledged this long (5 to
    /// 10080 minutes).
    pub escalate_after_minutes: Option<u32>,
    /// Up to 5 channels of the tenant; required exactly when `escalate_after_minutes` is set.
    #[serde(default)]
    pub escalate_to: Vec<ChannelId>,
    /// Whether to tell the channels when the alert resolves; default `true`.
    pub notify_resolved: Option<bool>,
}

impl RouteRequest {
    fn into_route(self, id: RouteId) -> Route {
        Route {
            id,
            name: self.name.trim().to_owned(),
            kinds: self.kinds,
            min_severity: self.min_severity.unwrap_or(Severity::Info),
            channels: self.channels,
            remind_every_minutes: self.remind_every_minutes,
            escalate_after_minutes: self.escalate_after_minutes,
            escalate_to: self.escalate_to,
            notify_resolved: self.notify_resolved.unwrap_or(true),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouteList {
    /// Every route of the tenant (at most 50), in the order they were made.
    pub items: Vec<Route>,
}

/// Checks a route, then that every channel it names is the tenant's (422 otherwise).
async fn check_route(state: &ApiState, caller: &Caller, route: &Route) -> Result<(), ApiError> {
    route.validate().map_err(as_field)?;
    let known: Vec<ChannelId> =
        state.store().channels.list(caller.tenant_id()).await?.into_iter().map(|c| c.id).collect();
    for (field, ids) in [("channels", &route.channels), ("escalate_to", &route.escalate_to)] {
        if let Some(missing) = ids.iter().find(|id| !known.contains(id)) {
            return Err(ValueError::new(field, format!("channel {missing} does not exist")).into());
        }
    }
    Ok(())
}

fn route_id(raw: &str) -> Result<RouteId, ApiError> {
    RouteId::parse(raw).map_err(not_found)
}

/// The tenant's notification routes.
#[utoipa::path(get, path = "/api/v1/routes", tag = "alert settings",
    responses((status = 200, body = RouteList), (status = 401, body = ErrorBody)))]
pub async fn list_routes(State(state): State<ApiState>, caller: Caller) -> Result<Json<RouteList>, ApiError> {
    Ok(Json(RouteList { items: settings(&state, &caller).await?.routes }))
}

async fn create_route_for(
    state: &ApiState,
    caller: &Caller,
    body: Result<RouteRequest, ApiError>,
) -> Result<Route, ApiError> {
    caller.require(Role::Admin)?;
    let route = body?.into_route(RouteId::generate());
    check_route(state, caller, &route).await?;
    change(state, caller, |s| s.add_route(route.clone())).await?;
    Ok(route)
}

/// Adds a route (admins and owners; at most 50 per tenant).
#[utoipa::path(post, path = "/api/v1/routes", tag = "alert settings", request_body = RouteRequest,
    responses((status = 201, body = Route), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_route(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Body(body): Body<RouteRequest>,
) -> Result<(StatusCode, Json<Route>), ApiError> {
    let result = create_route_for(&state, &caller, body).await;
    record(&state, &caller, source, "route.create", result.as_ref().ok().map(|r| r.id.to_string()), &result).await;
    Ok((StatusCode::CREATED, Json(result?)))
}

async fn replace_route_for(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<RouteRequest, ApiError>,
) -> Result<Route, ApiError> {
    caller.require(Role::Admin)?;
    let id = route_id(raw_id)?;
    if !settings(state, caller).await?.routes.iter().any(|r| r.id == id) {
        return Err(ApiError::NotFound);
    }
    let route = body?.into_route(id);
    check_route(state, caller, &route).await?;
    change(state, caller, |s| s.replace_route(route.clone())).await?;
    Ok(route)
}

/// Replaces a route (admins and owners).
#[utoipa::path(put, path = "/api/v1/routes/{id}", tag = "alert settings", request_body = RouteRequest,
    params(("id" = String, Path, description = "`rt_…`")),
    responses((status = 200, body = Route), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_route(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<RouteRequest>,
) -> Result<Json<Route>, ApiError> {
    let result = replace_route_for(&state, &caller, &id, body).await;
    record(&state, &caller, source, "route.update", route_id(&id).ok().map(|i| i.to_string()), &result).await;
    result.map(Json)
}

async fn delete_route_for(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    let id = route_id(raw_id)?;
    change(state, caller, |s| s.remove_route(&id)).await?;
    Ok(())
}

/// Deletes a route (admins and owners). It routes no alert from then on; notifications
/// already planned through it are still sent.
#[utoipa::path(delete, path = "/api/v1/routes/{id}", tag = "alert settings",
    params(("id" = String, Path, description = "`rt_…`")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_route(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let result = delete_route_for(&state, &caller, &id).await;
    record(&state, &caller, source, "route.delete", route_id(&id).ok().map(|i| i.to_string()), &result).await;
    result.map(|()| StatusCode::NO_CONTENT)
}

// Maintenance windows.

/// A weekday.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl From<Day> for Weekday {
    fn from(d: Day) -> Self {
        match d {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

/// When a window silences alerts, by `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduleRequest {
    /// From `starts_at` (included) to `ends_at` (excluded, in the future), RFC 3339.
    Once { starts_at: DateTime<Utc>, ends_at: DateTime<Utc> },
    /// Every listed day at `start` local time for `duration_minutes` (1 to 10080). Local time is
    /// UTC plus `utc_offset_minutes` (-720 to 840, default 0); it does not follow daylight
    /// saving time.
    Weekly {
        days: Vec<Day>,
        start: TimeOfDay,
        duration_minutes: u32,
        #[serde(default)]
        utc_offset_minutes: i32,
    },
}

impl From<ScheduleRequest> for WindowSchedule {
    fn from(s: ScheduleRequest) -> Self {
        match s {
            ScheduleRequest::Once { starts_at, ends_at } => Self::Once { starts_at, ends_at },
            ScheduleRequest::Weekly { days, start, duration_minutes, utc_offset_minutes } => Self::Weekly {
                days: days.into_iter().map(Weekday::from).collect(),
                start,
                duration_minutes,
                utc_offset_minutes,
            },
        }
    }
}

/// A time when alerts of a scope open and resolve but nobody is notified.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowRequest {
    /// `"tenant"`, `{"group": "Acme"}` or `{"instance": "ins_…"}` (an instance of the tenant).
    pub scope: Scope,
    /// Why, for the people who see the silence (up to 100 characters).
    pub reason: Option<String>,
    pub schedule: ScheduleRequest,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WindowList {
    /// Every window of the tenant (at most 100), mutes included, in the order they were made.
    pub items: Vec<WindowView>,
}

/// A window as listed: what was set, and whether it is in effect now.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    #[serde(flatten)]
    pub window: MaintenanceWindow,
    /// The end of the occurrence in effect now; absent when the window is not silencing now.
    pub active_until: Option<DateTime<Utc>>,
    /// The end of the next occurrence (the current one if in effect); absent when none is to
    /// come (a one-off window that has ended).
    pub next_end: Option<DateTime<Utc>>,
}

/// Checks a window, that its scope is the tenant's and that a once window has not ended.
async fn check_window(state: &ApiState, caller: &Caller, window: &MaintenanceWindow) -> Result<(), ApiError> {
    window.validate().map_err(as_field)?;
    if let WindowSchedule::Once { ends_at, .. } = window.schedule
        && ends_at <= state.now()
    {
        return Err(ValueError::new("schedule", "ends_at must be in the future").into());
    }
    check_scope(state, caller, &window.scope).await
}

fn window_id(raw: &str) -> Result<WindowId, ApiError> {
    WindowId::parse(raw).map_err(not_found)
}

/// Adds a window, first removing the one-off windows that have ended: they silence nothing
/// and would count against the limit.
async fn add_window(state: &ApiState, caller: &Caller, window: &MaintenanceWindow) -> Result<(), ApiError> {
    let now = state.now();
    change(state, caller, |s| {
        s.prune_ended(now);
        s.add_window(window.clone())
    })
    .await
}

/// Who made a window, as the window keeps it.
fn author(caller: &Caller) -> String {
    caller.user.email.to_string()
}

/// The tenant's maintenance windows and mutes.
#[utoipa::path(get, path = "/api/v1/maintenance-windows", tag = "alert settings",
    responses((status = 200, body = WindowList), (status = 401, body = ErrorBody)))]
pub async fn list_windows(State(state): State<ApiState>, caller: Caller) -> Result<Json<WindowList>, ApiError> {
    let now = state.now();
    let items = settings(&state, &caller)
        .await?
        .windows
        .into_iter()
        .map(|window| WindowView {
            active_until: window.schedule.active_at(now),
            next_end: window.schedule.next_end_after(now),
            window,
        })
        .collect();
    Ok(Json(WindowList { items }))
}

async fn create_window_for(
    state: &ApiState,
    caller: &Caller,
    body: Result<WindowRequest, ApiError>,
) -> Result<MaintenanceWindow, ApiError> {
    caller.require(Role::Technician)?;
    let body = body?;
    let window = MaintenanceWindow {
        reason: optional_text(body.reason),
        created_by: Some(author(caller)),
        ..MaintenanceWindow::new(body.scope, body.schedule.into())
    };
    check_window(state, caller, &window).await?;
    add_window(state, caller, &window).await?;
    Ok(window)
}

/// Adds a maintenance window (technicians and above; at most 100 per tenant, mutes included).
/// One-off windows that have ended are removed meanwhile.
#[utoipa::path(post, path = "/api/v1/maintenance-windows", tag = "alert settings", request_body = WindowRequest,
    responses((status = 201, body = MaintenanceWindow), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_window(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Body(body): Body<WindowRequest>,
) -> Result<(StatusCode, Json<MaintenanceWindow>), ApiError> {
    let result = create_window_for(&state, &caller, body).await;
    let target = result.as_ref().ok().map(|w| w.id.to_string());
    record(&state, &caller, source, "maintenance.create", target, &result).await;
    Ok((StatusCode::CREATED, Json(result?)))
}

async fn replace_window_for(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<WindowRequest, ApiError>,
) -> Result<MaintenanceWindow, ApiError> {
    caller.require(Role::Technician)?;
    let id = window_id(raw_id)?;
    let previous = settings(state, caller).await?.windows.into_iter().find(|w| w.id == id).ok_or(ApiError::NotFound)?;
    let body = body?;
    let window = MaintenanceWindow {
        id,
        scope: body.scope,
        reason: optional_text(body.reason),
        schedule: body.schedule.into(),
        created_by: previous.created_by,
    };
    check_window(state, caller, &window).await?;
    change(state, caller, |s| s.replace_window(window.clone())).await?;
    Ok(window)
}

/// Replaces a maintenance window (technicians and above); it keeps its author.
#[utoipa::path(put, path = "/api/v1/maintenance-windows/{id}", tag = "alert settings", request_body = WindowRequest,
    params(("id" = String, Path, description = "`mw_…`")),
    responses((status = 200, body = MaintenanceWindow), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_window(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<WindowRequest>,
) -> Result<Json<MaintenanceWindow>, ApiError> {
    let result = replace_window_for(&state, &caller, &id, body).await;
    record(&state, &caller, source, "maintenance.update", window_id(&id).ok().map(|i| i.to_string()), &result).await;
    result.map(Json)
}

async fn delete_window_for(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<(), ApiError> {
    caller.require(Role::Technician)?;
    let id = window_id(raw_id)?;
    change(state, caller, |s| s.remove_window(&id)).await?;
    Ok(())
}

/// Deletes a maintenance window or mute (technicians and above). Notifications it already held
/// back still wait for the end it had.
#[utoipa::path(delete, path = "/api/v1/maintenance-windows/{id}", tag = "alert settings",
    params(("id" = String, Path, description = "`mw_…`")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_window(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let result = delete_window_for(&state, &caller, &id).await;
    record(&state, &caller, source, "maintenance.delete", window_id(&id).ok().map(|i| i.to_string()), &result).await;
    result.map(|()| StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    /// 1 to 168 (a week), from now.
    pub hours: u32,
    /// Why (up to 100 characters); default `muted`.
    pub reason: Option<String>,
}

async fn mute_instance(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<MuteRequest, ApiError>,
) -> Result<MaintenanceWindow, ApiError> {
    caller.require(Role::Technician)?;
    let instance = visible_instance(state, caller, raw_id).await?;
    let body = body?;
    let mut window = MaintenanceWindow::mute(Scope::Instance(instance.id), state.now(), body.hours, author(caller))
        .map_err(|e| ValueError::new("hours", e.reason))?;
    if let Some(reason) = optional_text(body.reason) {
        window.reason = Some(reason);
    }
    window.validate().map_err(as_field)?;
    add_window(state, caller, &window).await?;
    Ok(window)
}

/// Mutes an instance for `hours` from now (technicians and above): a maintenance window of that
/// instance, listed and deleted with the others.
#[utoipa::path(post, path = "/api/v1/instances/{id}/mute", tag = "alert settings", request_body = MuteRequest,
    params(("id" = String, Path, description = "`ins_…`")),
    responses((status = 201, body = MaintenanceWindow), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn mute(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<MuteRequest>,
) -> Result<(StatusCode, Json<MaintenanceWindow>), ApiError> {
    let result = mute_instance(&state, &caller, &id, body).await;
    let target = InstanceId::parse(&id).ok().map(|i| i.to_string());
    record(&state, &caller, source, "instance.mute", target, &result).await;
    Ok((StatusCode::CREATED, Json(result?)))
}

// Rule overrides.

/// Threshold changes; an absent value inherits from the wider scope (tenant, then the defaults
/// of `GET /api/v1/rules`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ThresholdsRequest {
    /// Consecutive unreachable polls before `instance_unreachable` (1 to 60).
    pub unreachable_polls: Option<u32>,
    /// Consecutive offline polls before `trunk_down` (1 to 60).
    pub trunk_down_polls: Option<u32>,
    /// Age in days of the last successful backup that opens `backup_stale` (1 to 365).
    pub backup_stale_days: Option<u32>,
    /// Disk use that opens `disk_high` (1 to 100).
    pub disk_open_percent: Option<u8>,
    /// Disk use below which `disk_high` resolves: below the open percent.
    pub disk_recover_percent: Option<u8>,
    /// Days before licence or maintenance end for info, warning and critical: descending, 1 to
    /// 365.
    #[schema(value_type = Option<Vec<u32>>, min_items = 3, max_items = 3)]
    pub expiry_days: Option<[u32; 3]>,
    /// Share of licensed simultaneous calls that warns: above the recover percent.
    pub calls_warning_percent: Option<u32>,
    /// Share that is critical: above the warning percent, at most 100.
    pub calls_critical_percent: Option<u32>,
    /// Share below which `calls_near_limit` resolves: at least 1.
    pub calls_recover_percent: Option<u32>,
}

impl From<ThresholdsRequest> for ThresholdPatch {
    fn from(t: ThresholdsRequest) -> Self {
        Self {
            unreachable_polls: t.unreachable_polls,
            trunk_down_polls: t.trunk_down_polls,
            backup_stale_days: t.backup_stale_days,
            disk_open_percent: t.disk_open_percent,
            disk_recover_percent: t.disk_recover_percent,
            expiry_days: t.expiry_days,
            calls_warning_percent: t.calls_warning_percent,
            calls_critical_percent: t.calls_critical_percent,
            calls_recover_percent: t.calls_recover_percent,
        }
    }
}

/// Rule changes at one scope; at most one override per scope.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `"tenant"`, `{"group": "Acme"}` or `{"instance": "ins_…"}` (an instance of the tenant).
    pub scope: Scope,
    /// Kinds switched off (`false`) or back on (`true`) at this scope; an absent kind inherits.
    #[serde(default)]
    pub enabled: BTreeMap<AlertKind, bool>,
    #[serde(default)]
    pub thresholds: ThresholdsRequest,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideList {
    /// Every override of the tenant (at most 100).
    pub items: Vec<RuleOverride>,
}

fn override_id(raw: &str) -> Result<OverrideId, ApiError> {
    OverrideId::parse(raw).map_err(not_found)
}

fn rule_override(id: OverrideId, body: OverrideRequest) -> RuleOverride {
    RuleOverride { id, scope: body.scope, enabled: body.enabled, thresholds: body.thresholds.into() }
}

/// The tenant's rule overrides.
#[utoipa::path(get, path = "/api/v1/rule-overrides", tag = "alert settings",
    responses((status = 200, body = OverrideList), (status = 401, body = ErrorBody)))]
pub async fn list_overrides(State(state): State<ApiState>, caller: Caller) -> Result<Json<OverrideList>, ApiError> {
    Ok(Json(OverrideList { items: settings(&state, &caller).await?.overrides }))
}

async fn create_override_for(
    state: &ApiState,
    caller: &Caller,
    body: Result<OverrideRequest, ApiError>,
) -> Result<RuleOverride, ApiError> {
    caller.require(Role::Admin)?;
    let o = rule_override(OverrideId::generate(), body?);
    check_scope(state, caller, &o.scope).await?;
    change(state, caller, |s| s.add_override(o.clone())).await?;
    Ok(o)
}

/// Adds a rule override (admins and owners; one per scope, at most 100 per tenant). Its
/// thresholds must hold over what they inherit.
#[utoipa::path(post, path = "/api/v1/rule-overrides", tag = "alert settings", request_body = OverrideRequest,
    responses((status = 201, body = RuleOverride), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_override(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Body(body): Body<OverrideRequest>,
) -> Result<(StatusCode, Json<RuleOverride>), ApiError> {
    let result = create_override_for(&state, &caller, body).await;
    let target = result.as_ref().ok().map(|o| o.id.to_string());
    record(&state, &caller, source, "rule_override.create", target, &result).await;
    Ok((StatusCode::CREATED, Json(result?)))
}

async fn replace_override_for(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<OverrideRequest, ApiError>,
) -> Result<RuleOverride, ApiError> {
    caller.require(Role::Admin)?;
    let id = override_id(raw_id)?;
    if !settings(state, caller).await?.overrides.iter().any(|o| o.id == id) {
        return Err(ApiError::NotFound);
    }
    let o = rule_override(id, body?);
    check_scope(state, caller, &o.scope).await?;
    change(state, caller, |s| s.replace_override(o.clone())).await?;
    Ok(o)
}

/// Replaces a rule override (admins and owners).
#[utoipa::path(put, path = "/api/v1/rule-overrides/{id}", tag = "alert settings", request_body = OverrideRequest,
    params(("id" = String, Path, description = "`ov_…`")),
    responses((status = 200, body = RuleOverride), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_override(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<OverrideRequest>,
) -> Result<Json<RuleOverride>, ApiError> {
    let result = replace_override_for(&state, &caller, &id, body).await;
    let target = override_id(&id).ok().map(|i| i.to_string());
    record(&state, &caller, source, "rule_override.update", target, &result).await;
    result.map(Json)
}

async fn delete_override_for(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    let id = override_id(raw_id)?;
    change(state, caller, |s| s.remove_override(&id)).await?;
    Ok(())
}

/// Deletes a rule override (admins and owners); 422 when an override that inherits from it
/// would no longer hold.
#[utoipa::path(delete, path = "/api/v1/rule-overrides/{id}", tag = "alert settings",
    params(("id" = String, Path, description = "`ov_…`")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn delete_override(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let result = delete_override_for(&state, &caller, &id).await;
    let target = override_id(&id).ok().map(|i| i.to_string());
    record(&state, &caller, source, "rule_override.delete", target, &result).await;
    result.map(|()| StatusCode::NO_CONTENT)
}

// The rules.

/// The product's thresholds, before any override.
#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultThresholds {
    pub unreachable_polls: u32,
    pub trunk_down_polls: u32,
    pub backup_stale_days: i64,
    pub disk_open_percent: u8,
    pub disk_recover_percent: u8,
    /// Info, warning, critical.
    #[schema(value_type = Vec<i64>, min_items = 3, max_items = 3)]
    pub expiry_days: [i64; 3],
    pub calls_warning_percent: u32,
    pub calls_critical_percent: u32,
    pub calls_recover_percent: u32,
}

impl From<Thresholds> for DefaultThresholds {
    fn from(t: Thresholds) -> Self {
        Self {
            unreachable_polls: t.unreachable_polls,
            trunk_down_polls: t.trunk_down_polls,
            backup_stale_days: t.backup_stale_after.num_days(),
            disk_open_percent: t.disk_open_percent,
            disk_recover_percent: t.disk_recover_percent,
            expiry_days: t.expiry_days,
            calls_warning_percent: t.calls_warning_percent,
            calls_critical_percent: t.calls_critical_percent,
            calls_recover_percent: t.calls_recover_percent,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    /// Every alert kind; each is on unless an override switches it off.
    pub kinds: Vec<AlertKind>,
    /// What overrides change, as it is without them.
    pub defaults: DefaultThresholds,
}

/// The alert kinds and the default thresholds, for showing what an override changes.
#[utoipa::path(get, path = "/api/v1/rules", tag = "alert settings",
    responses((status = 200, body = RulesView), (status = 401, body = ErrorBody)))]
pub async fn rules(_caller: Caller) -> Json<RulesView> {
    Json(RulesView { kinds: AlertKind::ALL.to_vec(), defaults: Thresholds::default().into() })
}
