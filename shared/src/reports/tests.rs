use chrono::TimeZone;

use super::*;
use crate::alerts::{Act, AlertStatus, Severity};
use crate::domain::{Actor, AlertId, GroupName, InstanceName, PbxAddress, TenantId};

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, day, hour, minute, 0).single().unwrap_or_default()
}

fn day(d: u32) -> NaiveDate {
    at(d, 0, 0).date_naive()
}

fn snapshot(when: DateTime<Utc>, outcome: PollOutcome, calls: Option<u32>, licensed: Option<u32>) -> MetricSnapshot {
    MetricSnapshot { calls_active: calls, max_sim_calls: licensed, ..MetricSnapshot::failed(when, outcome, 100) }
}

fn instance(group: Option<&str>, created: DateTime<Utc>) -> Instance {
    Instance::new(
        TenantId::generate(),
        InstanceName::parse("pbx").unwrap_or_else(|e| panic!("{e}")),
        PbxAddress::parse_url("https://pbx.example.com").unwrap_or_else(|e| panic!("{e}")),
        group.map(|g| GroupName::parse(g).unwrap_or_else(|e| panic!("{e}"))),
        created,
    )
}

fn alert(kind: AlertKind, opened: DateTime<Utc>, resolved: Option<DateTime<Utc>>, silenced: bool) -> Alert {
    Alert {
        id: AlertId::derived(opened, "seed"),
        tenant_id: TenantId::generate(),
        instance_id: crate::domain::InstanceId::generate(),
        instance_name: "pbx".into(),
        group: None,
        kind,
        subject: String::new(),
        severity: Severity::Critical,
        detail: String::new(),
        flapping: false,
        status: if resolved.is_some() { AlertStatus::Resolved } else { AlertStatus::Open },
        opened_at: opened,
        acknowledged: None,
        resolved: resolved.map(|at| Act { at, by: Actor::System, reason: None }),
        silenced_until: silenced.then(|| opened + Duration::hours(1)),
        history: Vec::new(),
    }
}

fn backup(when: DateTime<Utc>, ok: bool) -> BackupRecord {
    BackupRecord {
        at: when,
        size_bytes: Some(1 << 20),
        outcome: if ok { BackupOutcome::Succeeded } else { BackupOutcome::Failed { reason: "disk full".into() } },
    }
}

#[test]
fn months_parse_as_yyyy_mm_only() {
    assert_eq!(Month::parse("2026-11").map(|m| m.to_string()), Some("2026-11".into()));
    for bad in ["2026-13", "2026-1", "26-11", "2026/11", "2026-11-01", "", "abcd-ef"] {
        assert_eq!(Month::parse(bad), None, "{bad}");
    }
    let dec = Month::parse("2026-12").unwrap_or_else(|| panic!("a month"));
    assert_eq!(dec.end(), Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().unwrap_or_default());
}

#[test]
fn the_current_month_covers_complete_days_up_to_today_and_a_future_month_nothing() {
    let now = at(10, 15, 30);
    let period = Period::of(Month::of(now), now).unwrap_or_else(|| panic!("a period"));
    assert_eq!(period.from, at(1, 0, 0));
    assert_eq!(period.until, now);
    assert_eq!(period.complete_until, at(10, 0, 0));
    assert_eq!(period.days().count(), 9);
    assert_eq!(Period::of(Month::parse("2026-11").unwrap_or_else(|| panic!("a month")), now), None);
    let first_day = Period::of(Month::of(at(1, 8, 0)), at(1, 8, 0)).unwrap_or_else(|| panic!("a period"));
    assert_eq!(first_day.days().count(), 0, "no complete day yet on the 1st");
}

#[test]
fn a_day_rolls_up_polls_up_outside_maintenance_and_the_peak_with_its_licence() {
    let polls = vec![
        snapshot(at(3, 0, 0), PollOutcome::Ok, Some(4), Some(8)),
        snapshot(at(3, 0, 1), PollOutcome::Unreachable, None, None),
        snapshot(at(3, 0, 2), PollOutcome::LoginFailed, None, None),
        // In maintenance: not up, not down.
        snapshot(at(3, 2, 0), PollOutcome::Unreachable, None, None),
        snapshot(at(3, 2, 1), PollOutcome::Ok, Some(7), Some(16)),
        // Another day's row is not counted.
        snapshot(at(4, 0, 0), PollOutcome::Ok, Some(30), Some(32)),
    ];
    let rollup = DayRollup::of(day(3), &polls, |t| t >= at(3, 2, 0) && t < at(3, 3, 0));
    assert_eq!(
        rollup,
        DayRollup {
            day: day(3),
            polls: 5,
            polls_in_maintenance: 2,
            polls_up: 2,
            peak_calls: Some(7),
            licensed_calls: Some(16)
        }
    );
    let quiet = DayRollup::of(day(3), &[snapshot(at(3, 0, 0), PollOutcome::Unreachable, None, Some(8))], |_| false);
    assert_eq!((quiet.peak_calls, quiet.licensed_calls), (None, Some(8)));
}

#[test]
fn an_instance_report_sums_its_days_incidents_and_backups() {
    let now = at(31, 12, 0);
    let period = Period::of(Month::of(now), now).unwrap_or_else(|| panic!("a period"));
    let pbx = instance(Some("Acme"), at(1, 0, 0));
    let rollups = vec![
        DayRollup {
            day: day(1),
            polls: 1440,
            polls_in_maintenance: 40,
            polls_up: 1400,
            peak_calls: Some(6),
            licensed_calls: Some(8),
        },
        DayRollup {
            day: day(2),
            polls: 1440,
            polls_in_maintenance: 0,
            polls_up: 1300,
            peak_calls: Some(3),
            licensed_calls: Some(8),
        },
        DayRollup {
            day: day(3),
            polls: 0,
            polls_in_maintenance: 0,
            polls_up: 0,
            peak_calls: None,
            licensed_calls: None,
        },
    ];
    let alerts = [
        alert(AlertKind::InstanceUnreachable, at(2, 10, 0), Some(at(2, 12, 20)), false),
        alert(AlertKind::TrunkDown, at(2, 13, 0), Some(at(2, 13, 30)), false),
        alert(AlertKind::InstanceUnreachable, at(31, 11, 0), None, false),
        // Opened in maintenance: not an incident.
        alert(AlertKind::InstanceUnreachable, at(1, 1, 0), Some(at(1, 1, 30)), true),
    ];
    let alerts: Vec<&Alert> = alerts.iter().collect();
    // Stale after 2 days: successes on the 1st and the 20th cover the 1st-2nd and the 20th-21st.
    let backups = vec![
        backup(at(1, 3, 0), true),
        backup(at(5, 3, 0), false),
        backup(at(20, 3, 0), true),
        // Before the period: counts for compliance on the 1st only if within 2 days.
        backup(Utc.with_ymd_and_hms(2026, 9, 28, 3, 0, 0).single().unwrap_or_default(), true),
    ];
    let inputs = InstanceInputs {
        instance: &pbx,
        rollups: &rollups,
        alerts: &alerts,
        backups: &backups,
        stale_after: Duration::days(2),
    };
    let (report, tally) = instance_report(&period, now, &inputs);
    assert_eq!(report.days_with_data, 2);
    assert_eq!((report.polls, report.polls_in_maintenance), (2880, 40));
    assert_eq!(report.uptime_percent, Some(95.1), "2700 of 2840 polls outside maintenance");
    assert_eq!(report.incidents, 3);
    assert_eq!(report.incident_minutes, 140 + 30 + 60, "the open one counts up to now");
    assert_eq!(report.longest_incident_minutes, 140);
    assert_eq!(
        report.incidents_by_kind,
        vec![
            KindCount { kind: AlertKind::InstanceUnreachable, count: 2 },
            KindCount { kind: AlertKind::TrunkDown, count: 1 }
        ]
    );
    assert_eq!((report.backups_succeeded, report.backups_failed), (2, 1), "the September backup is not in the month");
    assert_eq!(tally, Tally { polls_up: 2700, compliant_days: 4, days: 30 });
    assert_eq!(report.backup_compliance_percent, Some(13.3));
    assert_eq!((report.peak_calls, report.licensed_calls, report.peak_calls_percent), (Some(6), Some(8), Some(75.0)));
}

#[test]
fn an_instance_added_mid_month_is_held_to_its_own_days() {
    let now = at(31, 12, 0);
    let period = Period::of(Month::of(now), now).unwrap_or_else(|| panic!("a period"));
    let pbx = instance(None, at(21, 9, 0));
    let backups: Vec<BackupRecord> = (21..=30).map(|d| backup(at(d, 3, 0), true)).collect();
    let inputs =
        InstanceInputs { instance: &pbx, rollups: &[], alerts: &[], backups: &backups, stale_after: Duration::days(2) };
    let (report, tally) = instance_report(&period, now, &inputs);
    assert_eq!((tally.compliant_days, tally.days), (10, 10), "the 21st to the 30th");
    assert_eq!(report.backup_compliance_percent, Some(100.0));
    assert_eq!(report.uptime_percent, None, "no metrics, no uptime");
}

#[test]
fn groups_sum_their_instances_and_keep_the_highest_licence_use() {
    let report = |group: Option<&str>, polls: u32, pct: Option<f64>| InstanceReport {
        instance_id: "ins_x".into(),
        name: "x".into(),
        group: group.map(str::to_owned),
        days_with_data: 1,
        polls,
        polls_in_maintenance: 0,
        uptime_percent: None,
        incidents: 1,
        incident_minutes: 10,
        longest_incident_minutes: 10,
        incidents_by_kind: Vec::new(),
        backups_succeeded: 1,
        backups_failed: 0,
        backup_compliance_percent: None,
        peak_calls: None,
        licensed_calls: None,
        peak_calls_percent: pct,
    };
    let groups = group_reports(&[
        (report(None, 100, None), Tally { polls_up: 100, compliant_days: 1, days: 1 }),
        (report(Some("acme"), 100, Some(50.0)), Tally { polls_up: 90, compliant_days: 1, days: 2 }),
        (report(Some("Acme"), 300, Some(80.0)), Tally { polls_up: 300, compliant_days: 2, days: 2 }),
        (report(Some("Baker"), 10, None), Tally { polls_up: 0, compliant_days: 0, days: 0 }),
    ]);
    let names: Vec<Option<&str>> = groups.iter().map(|g| g.group.as_deref()).collect();
    assert_eq!(names, vec![Some("acme"), Some("Baker"), None], "groups by name ignoring case; no group last");
    let acme = &groups[0];
    assert_eq!((acme.instances, acme.polls, acme.incidents, acme.incident_minutes), (2, 400, 2, 20));
    assert_eq!(acme.uptime_percent, Some(97.5));
    assert_eq!(acme.backup_compliance_percent, Some(75.0));
    assert_eq!(acme.peak_calls_percent, Some(80.0));
    assert_eq!(groups[1].uptime_percent, Some(0.0));
    assert_eq!(groups[1].backup_compliance_percent, None);
}
