//! Monthly availability reports (`crate::reports`), for the dashboard and as CSV.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::Params;
use crate::reports::{AvailabilityReport, Month, Reporter};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `YYYY-MM` (UTC); the current month if absent.
    pub month: Option<String>,
}

/// The report of the month asked for: 400 `invalid_query` for a malformed or future month.
pub(super) async fn build(
    state: &ApiState,
    caller: &Caller,
    params: &ReportParams,
) -> Result<AvailabilityReport, ApiError> {
    let now = state.now();
    let month = match params.month.as_deref() {
        None => Month::of(now),
        Some(raw) => Month::parse(raw).ok_or_else(|| ApiError::bad_query("month must be YYYY-MM, e.g. 2026-11"))?,
    };
    Reporter::new(state.store().clone())
        .availability(caller.tenant_id(), month, now)
        .await?
        .ok_or_else(|| ApiError::bad_query(format!("{month} has not started yet")))
}

/// A month's availability per instance and per group (every role): uptime with maintenance
/// excluded, incidents and their durations, backup compliance, peak calls against the licence.
#[utoipa::path(get, path = "/api/v1/reports/availability", tag = "reports", params(ReportParams),
    responses((status = 200, body = AvailabilityReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn availability(
    State(state): State<ApiState>,
    caller: Caller,
    Params(params): Params<ReportParams>,
) -> Result<Json<AvailabilityReport>, ApiError> {
    Ok(Json(build(&state, &caller, &params).await?))
}
