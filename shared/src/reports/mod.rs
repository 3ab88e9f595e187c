//! Monthly availability reports, per instance and per group: uptime with maintenance excluded,
//! incidents and their durations, backup compliance, peak calls against the licence.
//!
//! Uptime and peak calls come from the metrics rolled up per UTC day ([`DayRollup`], kept as
//! long as the metrics: 90 days); incidents from the alerts and compliance from the backup
//! records (both kept indefinitely). A report covers complete days only: the current month's
//! runs to the start of today (UTC). The arithmetic here is pure; [`Reporter`] reads the store.

mod reporter;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, AlertKind};
use crate::domain::{BackupOutcome, BackupRecord, Instance, MetricSnapshot, PollOutcome};

pub use reporter::Reporter;

/// A calendar month (UTC), written `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    first: NaiveDate,
}

impl Month {
    /// `2026-11`; anything else is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let (year, month) = raw.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let first = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, 1)?;
        Some(Self { first })
    }

    /// The month `at` falls in.
    pub fn of(at: DateTime<Utc>) -> Self {
        Self { first: at.date_naive().with_day(1).unwrap_or(at.date_naive()) }
    }

    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The first day of the next month.
    pub fn next_first_day(self) -> NaiveDate {
        self.first.checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX)
    }

    pub fn start(self) -> DateTime<Utc> {
        midnight(self.first)
    }

    pub fn end(self) -> DateTime<Utc> {
        midnight(self.next_first_day())
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// One instance's polls of one UTC day, summed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRollup {
    pub day: NaiveDate,
    /// Snapshots recorded (about one a minute).
    pub polls: u32,
    /// Of those, the ones taken during a maintenance window or mute covering the instance.
    pub polls_in_maintenance: u32,
    /// Polls outside maintenance that the 3CX answered (any outcome but unreachable).
    pub polls_up: u32,
    /// The most calls active at once.
    pub peak_calls: Option<u32>,
    /// The licensed simultaneous calls: as reported with the peak, else the highest reported.
    pub licensed_calls: Option<u32>,
}

impl DayRollup {
    /// Sums `snapshots` of `day`; `in_maintenance(at)` says whether a poll fell in a window.
    pub fn of(day: NaiveDate, snapshots: &[MetricSnapshot], in_maintenance: impl Fn(DateTime<Utc>) -> bool) -> Self {
        let mut rollup =
            Self { day, polls: 0, polls_in_maintenance: 0, polls_up: 0, peak_calls: None, licensed_calls: None };
        let mut licensed_seen: Option<u32> = None;
        for s in snapshots.iter().filter(|s| s.at.date_naive() == day) {
            rollup.polls += 1;
            if in_maintenance(s.at) {
                rollup.polls_in_maintenance += 1;
            } else if s.outcome != PollOutcome::Unreachable {
                rollup.polls_up += 1;
            }
            licensed_seen = licensed_seen.max(s.max_sim_calls);
            if let Some(calls) = s.calls_active
                && rollup.peak_calls.is_none_or(|peak| calls > peak)
            {
                rollup.peak_calls = Some(calls);
                rollup.licensed_calls = s.max_sim_calls;
            }
        }
        rollup.licensed_calls = rollup.licensed_calls.or(licensed_seen);
        rollup
    }
}

/// What a report covers: alerts opened in `[from, until)`; uptime, peaks and backup compliance
/// over the complete days in `[from, complete_until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub month: Month,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub complete_until: DateTime<Utc>,
}

impl Period {
    /// The part of `month` that has happened by `now`; `None` for a month still to come.
    pub fn of(month: Month, now: DateTime<Utc>) -> Option<Self> {
        if month.start() > now {
            return None;
        }
        let today = midnight(now.date_naive());
        Some(Self {
            month,
            from: month.start(),
            until: month.end().min(now),
            complete_until: month.end().min(today).max(month.start()),
        })
    }

    /// The complete days covered, in order.
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let (first, end) = (self.from.date_naive(), self.complete_until.date_naive());
        first.iter_days().take_while(move |d| *d < end)
    }
}

/// One instance's month.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InstanceReport {
    pub instance_id: String,
    pub name: String,
    pub group: Option<String>,
    /// Complete days of the period with metrics (at most the days since it was added).
    pub days_with_data: u32,
    pub polls: u32,
    pub polls_in_maintenance: u32,
    /// Polls outside maintenance the 3CX answered, in percent of those polls; absent without any.
    pub uptime_percent: Option<f64>,
    /// Alerts opened in the month outside maintenance.
    pub incidents: u32,
    /// Their durations summed, each up to its resolution or the end of the period.
    pub incident_minutes: u64,
    pub longest_incident_minutes: u64,
    /// `kind: count` of the incidents, most frequent first.
    pub incidents_by_kind: Vec<KindCount>,
    pub backups_succeeded: u32,
    pub backups_failed: u32,
    /// Days of the period that ended with a successful backup no older than the backup rule's
    /// staleness limit, in percent of the days; absent without complete days.
    pub backup_compliance_percent: Option<f64>,
    pub peak_calls: Option<u32>,
    pub licensed_calls: Option<u32>,
    pub peak_calls_percent: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KindCount {
    pub kind: AlertKind,
    pub count: u32,
}

/// Percent with one decimal, `None` for a zero denominator.
fn percent(part: u64, whole: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

fn minutes(d: Duration) -> u64 {
    u64::try_from(d.num_minutes()).unwrap_or(0)
}

/// What a report says about one instance over `period`.
pub struct InstanceInputs<'a> {
    pub instance: &'a Instance,
    /// The roll-ups of the period's complete days that have metrics.
    pub rollups: &'a [DayRollup],
    /// The instance's alerts opened in the period.
    pub alerts: &'a [&'a Alert],
    /// Its backup records from `stale_after` before the period to its end.
    pub backups: &'a [BackupRecord],
    /// After how long without a successful backup the backup rule calls it stale.
    pub stale_after: Duration,
}

/// The counts behind an instance report's percentages, for its group's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub polls_up: u64,
    pub compliant_days: u64,
    pub days: u64,
}

pub fn instance_report(period: &Period, now: DateTime<Utc>, inputs: &InstanceInputs<'_>) -> (InstanceReport, Tally) {
    let InstanceInputs { instance, rollups, alerts, backups, stale_after } = inputs;
    let counted: Vec<&DayRollup> = rollups.iter().filter(|r| r.polls > 0).collect();
    let polls: u32 = counted.iter().map(|r| r.polls).sum();
    let in_maintenance: u32 = counted.iter().map(|r| r.polls_in_maintenance).sum();
    let up: u32 = counted.iter().map(|r| r.polls_up).sum();
    let peak = counted.iter().filter(|r| r.peak_calls.is_some()).max_by_key(|r| r.peak_calls);

    let incidents: Vec<&&Alert> = alerts.iter().filter(|a| a.silenced_until.is_none()).collect();
    let durations: Vec<u64> = incidents
        .iter()
        .map(|a| {
            let end = a.resolved.as_ref().map_or(now, |r| r.at).min(period.until);
            minutes(end - a.opened_at)
        })
        .collect();
    let mut by_kind: Vec<KindCount> = Vec::new();
    for a in &incidents {
        match by_kind.iter_mut().find(|k| k.kind == a.kind) {
            Some(k) => k.count += 1,
            None => by_kind.push(KindCount { kind: a.kind, count: 1 }),
        }
    }
    by_kind.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));

    let in_month = |b: &&BackupRecord| b.at >= period.from && b.at < period.until;
    let succeeded = |b: &&BackupRecord| b.outcome == BackupOutcome::Succeeded;
    let days: Vec<NaiveDate> =
        period.days().filter(|d| midnight(*d + Duration::days(1)) > instance.created_at).collect();
    let compliant = days
        .iter()
        .filter(|d| {
            let end = midnight(**d + Duration::days(1));
            backups.iter().filter(succeeded).any(|b| b.at < end && b.at >= end - *stale_after)
        })
        .count();

    let (peak_calls, licensed_calls) = peak.map_or((None, None), |r| (r.peak_calls, r.licensed_calls));
    let tally = Tally { polls_up: u64::from(up), compliant_days: compliant as u64, days: days.len() as u64 };
    let report = InstanceReport {
        instance_id: instance.id.to_string(),
        name: instance.name.to_string(),
        group: instance.group.as_ref().map(ToString::to_string),
        days_with_data: u32::try_from(counted.len()).unwrap_or(u32::MAX),
        polls,
        polls_in_maintenance: in_maintenance,
        uptime_percent: percent(u64::from(up), u64::from(polls - in_maintenance)),
        incidents: u32::try_from(incidents.len()).unwrap_or(u32::MAX),
        incident_minutes: durations.iter().sum(),
        longest_incident_minutes: durations.iter().copied().max().unwrap_or(0),
        incidents_by_kind: by_kind,
        backups_succeeded: u32::try_from(backups.iter().filter(in_month).filter(succeeded).count()).unwrap_or(0),
        backups_failed: u32::try_from(
            backups.iter().filter(in_month).filter(|b| b.outcome != BackupOutcome::Succeeded).count(),
        )
        .unwrap_or(0),
        backup_compliance_percent: percent(compliant as u64, days.len() as u64),
        peak_calls,
        licensed_calls,
        peak_calls_percent: match (peak_calls, licensed_calls) {
            (Some(p), Some(l)) => percent(u64::from(p), u64::from(l)),
            _ => None,
        },
    };
    (report, tally)
}

/// One group's month: its instances' polls, incidents and backups summed; the highest peak.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupReport {
    /// Absent for the instances without a group.
    pub group: Option<String>,
    pub instances: u32,
    pub polls: u32,
    pub polls_in_maintenance: u32,
    pub uptime_percent: Option<f64>,
    pub incidents: u32,
    pub incident_minutes: u64,
    pub longest_incident_minutes: u64,
    pub backups_succeeded: u32,
    pub backups_failed: u32,
    /// The instances' compliant days in percent of all their days.
    pub backup_compliance_percent: Option<f64>,
    /// The highest share of its licence any instance of the group reached.
    pub peak_calls_percent: Option<f64>,
}

/// The groups of the instances' reports, by name ignoring case; the instances without a group
/// last.
pub fn group_reports(instances: &[(InstanceReport, Tally)]) -> Vec<GroupReport> {
    let mut groups: Vec<GroupReport> = Vec::new();
    let mut tallies: Vec<Tally> = Vec::new();
    for (report, tally) in instances {
        let key = report.group.as_ref().map(|g| g.to_lowercase());
        let at = match groups.iter().position(|g| g.group.as_ref().map(|n| n.to_lowercase()) == key) {
            Some(i) => i,
            None => {
                groups.push(GroupReport {
                    group: report.group.clone(),
                    instances: 0,
                    polls: 0,
                    polls_in_maintenance: 0,
                    uptime_percent: None,
                    incidents: 0,
                    incident_minutes: 0,
                    longest_incident_minutes: 0,
                    backups_succeeded: 0,
                    backups_failed: 0,
                    backup_compliance_percent: None,
                    peak_calls_percent: None,
                });
                tallies.push(Tally::default());
                groups.len() - 1
            }
        };
        let g = &mut groups[at];
        g.instances += 1;
        g.polls += report.polls;
        g.polls_in_maintenance += report.polls_in_maintenance;
        g.incidents += report.incidents;
        g.incident_minutes += report.incident_minutes;
        g.longest_incident_minutes = g.longest_incident_minutes.max(report.longest_incident_minutes);
        g.backups_succeeded += report.backups_succeeded;
        g.backups_failed += report.backups_failed;
        g.peak_calls_percent = match (g.peak_calls_percent, report.peak_calls_percent) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        tallies[at].polls_up += tally.polls_up;
        tallies[at].compliant_days += tally.compliant_days;
        tallies[at].days += tally.days;
    }
    for (g, t) in groups.iter_mut().zip(&tallies) {
        g.uptime_percent = percent(t.polls_up, u64::from(g.polls - g.polls_in_maintenance));
        g.backup_compliance_percent = percent(t.compliant_days, t.days);
    }
    groups.sort_by(|a, b| {
        let name = |g: &GroupReport| g.group.as_ref().map(|n| n.to_lowercase());
        // The instances without a group last.
        (a.group.is_none(), name(a)).cmp(&(b.group.is_none(), name(b)))
    });
    groups
}

/// A tenant's month.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AvailabilityReport {
    /// `YYYY-MM`.
    pub month: String,
    pub from: DateTime<Utc>,
    /// Uptime, peaks and backup compliance cover complete days up to here (the start of today
    /// for the current month); incidents, the month up to now.
    pub complete_until: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// Metrics are kept 90 days: days before this have no uptime or peak calls.
    pub metrics_since: DateTime<Utc>,
    pub instances: Vec<InstanceReport>,
    pub groups: Vec<GroupReport>,
}

/// Whether `instance` existed in some part of `period`.
pub fn existed_during(instance: &Instance, period: &Period) -> bool {
    instance.created_at <= period.until && instance.deleted_at.is_none_or(|d| d >= period.from)
}

#[cfg(test)]
mod tests;
