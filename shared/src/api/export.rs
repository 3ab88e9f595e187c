//! CSV downloads.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::audit::record;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Params, SourceIp};
use super::reports::{ReportParams, build};
use crate::alerts::{Alert, AlertKind, AlertStatus};
use crate::domain::{Actor, Instance};
use crate::reports::AvailabilityReport;
use crate::store::AlertFilter;

pub(crate) const INSTANCE_COLUMNS: [&str; 15] = [
    "id",
    "name",
    "group",
    "url",
    "status",
    "status_reason",
    "version",
    "product_code",
    "licence_active",
    "licence_expires_at",
    "maintenance_expires_at",
    "max_sim_calls",
    "trunks_online",
    "trunks_total",
    "created_at",
];

/// A cell a spreadsheet will not run as a formula: text that starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return gets a leading apostrophe.
pub(crate) fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// An instance's CSV row, in [`INSTANCE_COLUMNS`] order (no credential ever).
pub(crate) fn instance_row(i: &Instance) -> Vec<String> {
    let licence = i.licence.clone().unwrap_or_default();
    let status = serde_json::to_value(i.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    vec![
        i.id.to_string(),
        i.name.to_string(),
        opt(i.group.as_ref()),
        i.address.base_url(),
        status,
        opt(i.status_reason.as_ref()),
        opt(i.version.as_ref().map(|v| v.as_str())),
        opt(licence.product_code),
        opt(licence.active),
        opt(licence.expires_at.map(|t| t.to_rfc3339())),
        opt(licence.maintenance_expires_at.map(|t| t.to_rfc3339())),
        opt(licence.max_sim_calls),
        i.trunks.iter().filter(|t| t.online).count().to_string(),
        i.trunks.len().to_string(),
        i.created_at.to_rfc3339(),
    ]
    .iter()
    .map(|v| cell(v))
    .collect()
}

/// The active fleet as CSV, sorted by name.
pub fn instances_csv(mut instances: Vec<Instance>) -> Result<Vec<u8>, ApiError> {
    instances.sort_by_key(|i| (i.name.as_str().to_lowercase(), i.id.to_string()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(INSTANCE_COLUMNS).map_err(ApiError::internal)?;
    for instance in instances.iter().filter(|i| i.is_active()) {
        writer.write_record(instance_row(instance)).map_err(ApiError::internal)?;
    }
    writer.into_inner().map_err(|e| ApiError::internal(e.into_error()))
}

async fn export(state: &ApiState, caller: &Caller) -> Result<Vec<u8>, ApiError> {
    instances_csv(state.store().instances.list_all(caller.tenant_id()).await?)
}

/// The fleet as a CSV file (every role); never credentials.
#[utoipa::path(get, path = "/api/v1/export/instances.csv", tag = "export",
    responses((status = 200, content_type = "text/csv", body = String, description = "One row per active instance"),
        (status = 401, body = ErrorBody)))]
pub async fn instances(State(state): State<ApiState>, source: SourceIp, caller: Caller) -> Result<Response, ApiError> {
    let result = export(&state, &caller).await;
    record(&state, &caller, source, "export.instances_csv", None, &result).await;
    csv_response(&state, "instances", result?)
}

pub(crate) const ALERT_COLUMNS: [&str; 18] = [
    "id",
    "instance_id",
    "instance_name",
    "group",
    "kind",
    "subject",
    "severity",
    "status",
    "flapping",
    "detail",
    "opened_at",
    "acknowledged_at",
    "acknowledged_by",
    "acknowledge_reason",
    "resolved_at",
    "resolved_by",
    "resolve_reason",
    "duration_seconds",
];

pub(crate) fn actor_name(actor: &Actor) -> String {
    match actor {
        Actor::User { email, .. } => email.to_string(),
        Actor::System => "system".to_owned(),
        Actor::Support { name } => format!("support: {name}"),
        Actor::Anonymous { .. } => "anonymous".to_owned(),
    }
}

/// An alert's CSV row, in [`ALERT_COLUMNS`] order.
pub(crate) fn alert_row(a: &Alert, now: DateTime<Utc>) -> Vec<String> {
    let ack = a.acknowledged.as_ref();
    let resolved = a.resolved.as_ref();
    vec![
        a.id.to_string(),
        a.instance_id.to_string(),
        a.instance_name.clone(),
        opt(a.group.as_ref()),
        a.kind.as_str().to_owned(),
        a.subject.clone(),
        a.severity.as_str().to_owned(),
        serde_json::to_value(a.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        a.flapping.to_string(),
        a.detail.clone(),
        a.opened_at.to_rfc3339(),
        opt(ack.map(|x| x.at.to_rfc3339())),
        opt(ack.map(|x| actor_name(&x.by))),
        opt(ack.and_then(|x| x.reason.clone())),
        opt(resolved.map(|x| x.at.to_rfc3339())),
        opt(resolved.map(|x| actor_name(&x.by))),
        opt(resolved.and_then(|x| x.reason.clone())),
        a.duration(now).num_seconds().max(0).to_string(),
    ]
    .iter()
    .map(|v| cell(v))
    .collect()
}

/// Alerts pages read for one export at most (200 alerts each).
const ALERT_EXPORT_PAGES: usize = 500;

async fn export_alerts(state: &ApiState, caller: &Caller, filter: &AlertFilter) -> Result<Vec<u8>, ApiError> {
    let now = state.now();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(ALERT_COLUMNS).map_err(ApiError::internal)?;
    let mut before = None;
    for _ in 0..ALERT_EXPORT_PAGES {
        let page = state.store().alerts.list(caller.tenant_id(), filter, 200, before.as_ref()).await?;
        for alert in &page.items {
            writer.write_record(alert_row(alert, now)).map_err(ApiError::internal)?;
        }
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    writer.into_inner().map_err(|e| ApiError::internal(e.into_error()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertExportParams {
    /// Only alerts in this status.
    pub status: Option<AlertStatus>,
    /// Only this instance's alerts (`ins_…`).
    pub instance: Option<String>,
    /// Only this kind.
    pub kind: Option<AlertKind>,
}

/// The tenant's alerts as a CSV file, newest first (every role), with who acknowledged and
/// resolved each and how long it lasted.
#[utoipa::path(get, path = "/api/v1/export/alerts.csv", tag = "export", params(AlertExportParams),
    responses((status = 200, content_type = "text/csv", body = String, description = "One row per alert"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn alerts(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Params(params): Params<AlertExportParams>,
) -> Result<Response, ApiError> {
    let filter = super::alerts::filter(params.status, params.instance.as_deref(), params.kind)?;
    let result = export_alerts(&state, &caller, &filter).await;
    record(&state, &caller, source, "export.alerts_csv", None, &result).await;
    csv_response(&state, "alerts", result?)
}

const REPORT_COLUMNS: [&str; 20] = [
    "month",
    "scope",
    "group",
    "instance_id",
    "instance",
    "instances",
    "days_with_data",
    "polls",
    "polls_in_maintenance",
    "uptime_percent",
    "incidents",
    "incident_minutes",
    "longest_incident_minutes",
    "incidents_by_kind",
    "backups_succeeded",
    "backups_failed",
    "backup_compliance_percent",
    "peak_calls",
    "licensed_calls",
    "peak_calls_percent",
];

fn report_csv(report: &AvailabilityReport) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(REPORT_COLUMNS).map_err(ApiError::internal)?;
    for i in &report.instances {
        let kinds: Vec<String> = i
            .incidents_by_kind
            .iter()
            .map(|k| {
                format!(
                    "{}:{}",
                    serde_json::to_value(k.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                    k.count
                )
            })
            .collect();
        let row = [
            report.month.clone(),
            "instance".into(),
            opt(i.group.as_ref()),
            i.instance_id.clone(),
            i.name.clone(),
            "1".into(),
            i.days_with_data.to_string(),
            i.polls.to_string(),
            i.polls_in_maintenance.to_string(),
            opt(i.uptime_percent),
            i.incidents.to_string(),
            i.incident_minutes.to_string(),
            i.longest_incident_minutes.to_string(),
            kinds.join(" "),
            i.backups_succeeded.to_string(),
            i.backups_failed.to_string(),
            opt(i.backup_compliance_percent),
            opt(i.peak_calls),
            opt(i.licensed_calls),
            opt(i.peak_calls_percent),
        ];
        writer.write_record(row.iter().map(|v| cell(v))).map_err(ApiError::internal)?;
    }
    for g in &report.groups {
        let row = [
            report.month.clone(),
            "group".into(),
            opt(g.group.as_ref()),
            String::new(),
            String::new(),
            g.instances.to_string(),
            String::new(),
            g.polls.to_string(),
            g.polls_in_maintenance.to_string(),
            opt(g.uptime_percent),
            g.incidents.to_string(),
            g.incident_minutes.to_string(),
            g.longest_incident_minutes.to_string(),
            String::new(),
            g.backups_succeeded.to_string(),
            g.backups_failed.to_string(),
            opt(g.backup_compliance_percent),
            String::new(),
            String::new(),
            opt(g.peak_calls_percent),
        ];
        writer.write_record(row.iter().map(|v| cell(v))).map_err(ApiError::internal)?;
    }
    writer.into_inner().map_err(|e| ApiError::internal(e.into_error()))
}

/// A month's availability report as a CSV file (every role): one row per instance
/// (`scope` `instance`), then one per group (`scope` `group`; the instances without a group
/// have an empty `group`). Columns as in `GET /api/v1/reports/availability`.
#[utoipa::path(get, path = "/api/v1/export/reports.csv", tag = "export", params(ReportParams),
    responses((status = 200, content_type = "text/csv", body = String, description = "One row per instance, then per group"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn reports(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Params(params): Params<ReportParams>,
) -> Result<Response, ApiError> {
    let result = match build(&state, &caller, &params).await {
        Ok(report) => report_csv(&report).map(|body| (report.month, body)),
        Err(e) => Err(e),
    };
    record(&state, &caller, source, "export.reports_csv", None, &result).await;
    let (month, body) = result?;
    csv_response(&state, &format!("report-{month}"), body)
}

fn csv_response(state: &ApiState, what: &str, body: Vec<u8>) -> Result<Response, ApiError> {
    let filename = format!("attachment; filename=\"sikurd-{what}-{}.csv\"", state.now().format("%Y-%m-%d"));
    let disposition = HeaderValue::from_str(&filename).map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Head office"), "Head office");
    }
}
