use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How one poll of a 3CX ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PollOutcome {
    Ok,
    /// Connection refused, timed out, 5xx or an unreadable answer.
    Unreachable,
    /// The 3CX refused our credentials or asked for a second factor.
    LoginFailed,
    /// Not a v20 XAPI (v18 or unknown).
    Unsupported,
}

/// One poll's snapshot of a 3CX: counts and flags only, never names, numbers or e-mails.
/// Kept 90 days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricSnapshot {
    /// The poll slot this snapshot belongs to (one row per instance and slot).
    pub at: DateTime<Utc>,
    pub outcome: PollOutcome,
    pub latency_ms: u32,
    pub calls_active: Option<u32>,
    pub max_sim_calls: Option<u32>,
    pub extensions_registered: Option<u32>,
    pub extensions_total: Option<u32>,
    pub trunks_registered: Option<u32>,
    pub trunks_total: Option<u32>,
    /// Percent of the disk in use.
    pub disk_usage_percent: Option<u8>,
    /// Names of 3CX services that are not running (service names, not people).
    pub services_not_running: Vec<String>,
    pub licence_active: Option<bool>,
}

impl MetricSnapshot {
    /// A snapshot of a poll that produced no readings.
    pub fn failed(at: DateTime<Utc>, outcome: PollOutcome, latency_ms: u32) -> Self {
        Self {
            at,
            outcome,
            latency_ms,
            calls_active: None,
            max_sim_calls: None,
            extensions_registered: None,
            extensions_total: None,
            trunks_registered: None,
            trunks_total: None,
            disk_usage_percent: None,
            services_not_running: Vec::new(),
            licence_active: None,
        }
    }
}
