//! Alerts: rules evaluated over each "instance polled" event.
//!
//! [`evaluate`] is pure: from what the evaluator kept about an instance ([`EvaluationState`],
//! one item per instance) and a new event, it gives the next state and the transitions (alerts
//! opened, their severity changed, resolved). A duplicate or out-of-order event changes nothing,
//! and an event that changes nothing leaves the state equal, so it costs no write.

mod evaluator;
mod notifications;
mod record;
mod rules;
mod settings;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use evaluator::{Evaluated, Evaluator};
pub use notifications::{Dispatched, Dispatcher, SweepReport, TestError, notice_for, plan_deliveries};
pub use record::{Act, Alert, AlertChange, AlertStatus, ChangeKind, Changed, InstanceAlerts, Origin};
pub use rules::{evaluate, evaluate_not_polled};
pub use settings::{
    AlertSettings, ChannelId, ChannelReferencesRemoved, MaintenanceWindow, OverrideId, Route, RouteId, RuleOverride,
    Scope, SettingsError, ThresholdPatch, TimeOfDay, WindowId, WindowSchedule,
};

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    InstanceUnreachable,
    LoginFailing,
    TrunkDown,
    ServicesNotRunning,
    BackupFailed,
    BackupStale,
    DiskHigh,
    LicenseExpiring,
    MaintenanceExpiring,
    CallsNearLimit,
    NoData,
}

impl AlertKind {
    pub const ALL: [AlertKind; 11] = [
        Self::InstanceUnreachable,
        Self::LoginFailing,
        Self::TrunkDown,
        Self::ServicesNotRunning,
        Self::BackupFailed,
        Self::BackupStale,
        Self::DiskHigh,
        Self::LicenseExpiring,
        Self::MaintenanceExpiring,
        Self::CallsNearLimit,
        Self::NoData,
    ];

    /// The snake_case name used in the API, CSV files and notifications.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstanceUnreachable => "instance_unreachable",
            Self::LoginFailing => "login_failing",
            Self::TrunkDown => "trunk_down",
            Self::ServicesNotRunning => "services_not_running",
            Self::BackupFailed => "backup_failed",
            Self::BackupStale => "backup_stale",
            Self::DiskHigh => "disk_high",
            Self::LicenseExpiring => "license_expiring",
            Self::MaintenanceExpiring => "maintenance_expiring",
            Self::CallsNearLimit => "calls_near_limit",
            Self::NoData => "no_data",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// The thresholds of the rules; the defaults are the product's (overridable per tenant, group
/// and instance).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Consecutive failed polls (connect, timeout, 5xx) before `instance_unreachable`.
    pub unreachable_polls: u32,
    /// Consecutive polls a trunk that was online is offline before `trunk_down`.
    pub trunk_down_polls: u32,
    /// The last successful backup older than this opens `backup_stale`.
    pub backup_stale_after: Duration,
    /// Disk use at or above this opens `disk_high`, and below `disk_recover_percent` resolves it.
    pub disk_open_percent: u8,
    pub disk_recover_percent: u8,
    /// Days before licence or maintenance end: info, warning, critical.
    pub expiry_days: [i64; 3],
    /// Share of licensed simultaneous calls: warning, critical; below `calls_recover_percent`
    /// resolves.
    pub calls_warning_percent: u32,
    pub calls_critical_percent: u32,
    pub calls_recover_percent: u32,
    /// An alert that opens again this soon after it resolved is flapping.
    pub flap_window: Duration,
    /// Kinds turned off: they never open, and an open one resolves.
    pub disabled: std::collections::BTreeSet<AlertKind>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            unreachable_polls: 2,
            trunk_down_polls: 2,
            backup_stale_after: Duration::days(7),
            disk_open_percent: 90,
            disk_recover_percent: 85,
            expiry_days: [30, 7, 1],
            calls_warning_percent: 80,
            calls_critical_percent: 95,
            calls_recover_percent: 70,
            flap_window: Duration::minutes(30),
            disabled: Default::default(),
        }
    }
}

/// An alert open on an instance, as the evaluator keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAlert {
    pub kind: AlertKind,
    /// What in the instance: a trunk or service name; empty for the instance itself.
    pub subject: String,
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    pub flapping: bool,
}

/// An alert that resolved, kept for the flapping window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentlyResolved {
    pub kind: AlertKind,
    pub subject: String,
    pub resolved_at: DateTime<Utc>,
}

/// What the evaluator keeps about one instance between events.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationState {
    /// The poll slot of the last event evaluated; older or equal slots are ignored.
    pub last_slot: Option<DateTime<Utc>>,
    /// Consecutive polls that found the 3CX unreachable.
    pub failed_polls: u32,
    /// Consecutive polls each trunk has been offline, for trunks seen online before.
    pub trunks_offline: std::collections::BTreeMap<String, u32>,
    /// Trunks seen online at least once.
    pub trunks_seen_online: std::collections::BTreeSet<String>,
    pub open: Vec<OpenAlert>,
    pub recently_resolved: Vec<RecentlyResolved>,
}

/// A change to an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition {
    Opened { kind: AlertKind, subject: String, severity: Severity, flapping: bool, detail: String },
    SeverityChanged { kind: AlertKind, subject: String, from: Severity, to: Severity, detail: String },
    Resolved { kind: AlertKind, subject: String, opened_at: DateTime<Utc>, resolved_at: DateTime<Utc> },
}
