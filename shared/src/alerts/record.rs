use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{AlertKind, EvaluationState, RecentlyResolved, Severity, Transition};
use crate::domain::{Actor, AlertId, InstanceId, TenantId};
use crate::polling::{InstanceNotPolled, InstancePolled};

/// The instance and poll slot an evaluated event is about.
#[derive(Clone, Copy, Debug)]
pub struct Origin<'a> {
    pub tenant_id: &'a TenantId,
    pub instance_id: &'a InstanceId,
    pub instance_name: &'a str,
    pub group: Option<&'a str>,
    pub slot: DateTime<Utc>,
}

impl<'a> From<&'a InstancePolled> for Origin<'a> {
    fn from(e: &'a InstancePolled) -> Self {
        Self {
            tenant_id: &e.tenant_id,
            instance_id: &e.instance_id,
            instance_name: &e.instance_name,
            group: e.group.as_deref(),
            slot: e.slot,
        }
    }
}

impl<'a> From<&'a InstanceNotPolled> for Origin<'a> {
    fn from(e: &'a InstanceNotPolled) -> Self {
        Self {
            tenant_id: &e.tenant_id,
            instance_id: &e.instance_id,
            instance_name: &e.instance_name,
            group: e.group.as_deref(),
            slot: e.slot,
        }
    }
}

/// Where an alert is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn is_active(self) -> bool {
        self != Self::Resolved
    }
}

/// Who did something to an alert, when, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub reason: Option<String>,
}

/// One change in an alert's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AlertChange {
    Opened { at: DateTime<Utc>, severity: Severity, detail: String },
    SeverityChanged { at: DateTime<Utc>, from: Severity, to: Severity, detail: String },
    Acknowledged(Act),
    Resolved(Act),
}

/// Severity changes kept in an alert's history; older ones are dropped (opening, acknowledgement
/// and resolution are always kept).
const MAX_SEVERITY_CHANGES: usize = 50;

/// An alert: one (instance, kind, subject) from opening to resolution. Kept indefinitely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub tenant_id: TenantId,
    pub instance_id: InstanceId,
    /// The instance's name when the alert opened (kept after the instance is purged).
    pub instance_name: String,
    pub group: Option<String>,
    pub kind: AlertKind,
    /// The trunk or service it is about; empty for the instance itself.
    pub subject: String,
    pub severity: Severity,
    /// What the rule saw, e.g. "trunk VoIP-1 is offline".
    pub detail: String,
    /// It opened again soon after it resolved.
    pub flapping: bool,
    pub status: AlertStatus,
    pub opened_at: DateTime<Utc>,
    pub acknowledged: Option<Act>,
    pub resolved: Option<Act>,
    /// Opened during a maintenance window or mute that ends then: nobody is notified before.
    pub silenced_until: Option<DateTime<Utc>>,
    pub history: Vec<AlertChange>,
}

impl Alert {
    /// How long it lasted (resolved) or has lasted until `now`.
    pub fn duration(&self, now: DateTime<Utc>) -> Duration {
        self.resolved.as_ref().map_or(now, |r| r.at) - self.opened_at
    }

    pub fn acknowledge(&mut self, act: Act) {
        self.status = AlertStatus::Acknowledged;
        self.history.push(AlertChange::Acknowledged(act.clone()));
        self.acknowledged = Some(act);
    }

    pub fn resolve(&mut self, act: Act) {
        self.status = AlertStatus::Resolved;
        self.history.push(AlertChange::Resolved(act.clone()));
        self.resolved = Some(act);
    }

    fn change_severity(&mut self, at: DateTime<Utc>, to: Severity, detail: &str) {
        self.history.push(AlertChange::SeverityChanged { at, from: self.severity, to, detail: detail.to_owned() });
        let changes = self.history.iter().filter(|c| matches!(c, AlertChange::SeverityChanged { .. })).count();
        if changes > MAX_SEVERITY_CHANGES
            && let Some(first) = self.history.iter().position(|c| matches!(c, AlertChange::SeverityChanged { .. }))
        {
            self.history.remove(first);
        }
        self.severity = to;
        self.detail = detail.to_owned();
    }
}

/// What the evaluator keeps about one instance (one item): the rules' state and the records of
/// its active alerts, which match the rules' open alerts one to one. Every change to an
/// active alert (by the evaluator or a user) rewrites this item at the next `revision`, so two
/// writers cannot both change it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceAlerts {
    pub revision: u64,
    pub evaluation: EvaluationState,
    pub active: Vec<Alert>,
}

/// An alert whose record changed, with what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub alert: Alert,
    pub what: ChangeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Opened,
    SeverityRaised,
    SeverityLowered,
    Resolved,
}

impl InstanceAlerts {
    /// Applies the rules' transitions for `event` to the alert records: new records for
    /// opened alerts, severity changes, resolutions (by the system). Returns the records that
    /// changed.
    pub fn apply(
        &mut self,
        transitions: &[Transition],
        event: Origin<'_>,
        silenced_until: Option<DateTime<Utc>>,
    ) -> Vec<Changed> {
        let mut changed = Vec::new();
        for transition in transitions {
            match transition {
                Transition::Opened { kind, subject, severity, flapping, detail } => {
                    let at = event.slot;
                    let seed = format!("{}|{}|{kind:?}|{subject}", event.tenant_id, event.instance_id);
                    let alert = Alert {
                        id: AlertId::derived(at, &seed),
                        tenant_id: event.tenant_id.clone(),
                        instance_id: event.instance_id.clone(),
                        instance_name: event.instance_name.to_owned(),
                        group: event.group.map(str::to_owned),
                        kind: *kind,
                        subject: subject.clone(),
                        severity: *severity,
                        detail: detail.clone(),
                        flapping: *flapping,
                        status: AlertStatus::Open,
                        opened_at: at,
                        acknowledged: None,
                        resolved: None,
                        silenced_until: silenced_until.filter(|end| *end > at),
                        history: vec![AlertChange::Opened { at, severity: *severity, detail: detail.clone() }],
                    };
                    self.active.retain(|a| !(a.kind == *kind && a.subject == *subject));
                    self.active.push(alert.clone());
                    changed.push(Changed { alert, what: ChangeKind::Opened });
                }
                Transition::SeverityChanged { kind, subject, from, to, detail } => {
                    if let Some(alert) = self.active.iter_mut().find(|a| a.kind == *kind && a.subject == *subject) {
                        alert.change_severity(event.slot, *to, detail);
                        let what = if to > from { ChangeKind::SeverityRaised } else { ChangeKind::SeverityLowered };
                        changed.push(Changed { alert: alert.clone(), what });
                    }
                }
                Transition::Resolved { kind, subject, resolved_at, .. } => {
                    if let Some(i) = self.active.iter().position(|a| a.kind == *kind && a.subject == *subject) {
                        let mut alert = self.active.remove(i);
                        alert.resolve(Act { at: *resolved_at, by: Actor::System, reason: None });
                        changed.push(Changed { alert, what: ChangeKind::Resolved });
                    }
                }
            }
        }
        changed
    }

    /// A user resolves an active alert: it leaves the rules' open alerts too, so if its
    /// condition still holds the next evaluation opens a new one (flagged flapping).
    pub fn resolve_by_user(&mut self, id: &AlertId, act: Act) -> Option<Alert> {
        let i = self.active.iter().position(|a| a.id == *id)?;
        let mut alert = self.active.remove(i);
        let at = act.at;
        alert.resolve(act);
        let e = &mut self.evaluation;
        e.open.retain(|o| !(o.kind == alert.kind && o.subject == alert.subject));
        e.recently_resolved.retain(|r| !(r.kind == alert.kind && r.subject == alert.subject));
        e.recently_resolved.push(RecentlyResolved {
            kind: alert.kind,
            subject: alert.subject.clone(),
            resolved_at: at,
        });
        Some(alert)
    }

    /// A user acknowledges an open alert; `None` if it is not active, unchanged if it was
    /// already acknowledged.
    pub fn acknowledge(&mut self, id: &AlertId, act: Act) -> Option<Alert> {
        let alert = self.active.iter_mut().find(|a| a.id == *id)?;
        if alert.status == AlertStatus::Open {
            alert.acknowledge(act);
        }
        Some(alert.clone())
    }
}
