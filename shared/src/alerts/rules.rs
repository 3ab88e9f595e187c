use chrono::{DateTime, Utc};

use super::{AlertKind, EvaluationState, OpenAlert, RecentlyResolved, Severity, Thresholds, Transition};
use crate::domain::PollOutcome;
use crate::polling::{InstanceNotPolled, InstancePolled};

/// What a rule concluded from one event.
enum Want {
    Open(Severity, String),
    Clear,
    /// The event says nothing either way (a failed poll has no data; a value between the opening
    /// and the recovery threshold keeps what is).
    Keep,
}

/// The state after `event` and the alert transitions it causes; `None` for an event at or
/// before the last one that changed the state (a duplicate, or late). Compare the states with
/// [`EvaluationState::differs`] to know whether to write.
pub fn evaluate(
    state: &EvaluationState,
    event: &InstancePolled,
    t: &Thresholds,
) -> Option<(EvaluationState, Vec<Transition>)> {
    if state.last_slot.is_some_and(|last| event.slot <= last) {
        return None;
    }
    let at = event.slot;
    let mut next = state.clone();
    let mut wants = reachability(&mut next, event, t);
    wants.push((AlertKind::NoData, String::new(), Want::Clear));
    if event.snapshot.outcome == PollOutcome::Ok {
        wants.extend(trunks(&mut next, event, t));
        wants.extend(services(&next, event));
        wants.extend(backups(&next, event, t));
        wants.push((AlertKind::DiskHigh, String::new(), disk(event, t)));
        let licence = event.licence.as_ref();
        let expiring = |end: Option<DateTime<Utc>>, what: &str| expiry(end, at, what, t);
        wants.push((
            AlertKind::LicenseExpiring,
            String::new(),
            expiring(licence.and_then(|l| l.expires_at), "licence"),
        ));
        let maintenance = licence.and_then(|l| l.maintenance_expires_at);
        wants.push((AlertKind::MaintenanceExpiring, String::new(), expiring(maintenance, "maintenance")));
        wants.push((AlertKind::CallsNearLimit, String::new(), calls(event, t)));
    }
    let transitions = reconcile(&mut next, wants, at, t);
    if next.differs(state) {
        next.last_slot = Some(at);
        next.recently_resolved.retain(|r| at - r.resolved_at < t.flap_window);
    }
    Some((next, transitions))
}

/// The state after an `InstanceNotPolled` event: `no_data` opens (a warning: Sikurd's polling
/// failed, the 3CX may be fine); `None` for an event at or before the last change.
pub fn evaluate_not_polled(
    state: &EvaluationState,
    event: &InstanceNotPolled,
    t: &Thresholds,
) -> Option<(EvaluationState, Vec<Transition>)> {
    if state.last_slot.is_some_and(|last| event.slot <= last) {
        return None;
    }
    let mut next = state.clone();
    let detail =
        format!("Sikurd has recorded no poll since {}: our polling is failing", event.since.format("%H:%M UTC"));
    let wants = vec![(AlertKind::NoData, String::new(), Want::Open(Severity::Warning, detail))];
    let transitions = reconcile(&mut next, wants, event.slot, t);
    if next.differs(state) {
        next.last_slot = Some(event.slot);
    }
    Some((next, transitions))
}

impl EvaluationState {
    /// Whether `other` holds anything this state does not, the last slot aside: only then is the
    /// state worth writing.
    pub fn differs(&self, other: &EvaluationState) -> bool {
        let mut a = self.clone();
        a.last_slot = other.last_slot;
        a != *other
    }
}

fn reachability(next: &mut EvaluationState, event: &InstancePolled, t: &Thresholds) -> Vec<(AlertKind, String, Want)> {
    let reason = event.reason.clone().unwrap_or_default();
    let (unreachable, login) = match event.snapshot.outcome {
        PollOutcome::Unreachable => {
            next.failed_polls = (next.failed_polls + 1).min(t.unreachable_polls);
            let want = if next.failed_polls >= t.unreachable_polls {
                Want::Open(Severity::Critical, format!("no answer in {} polls in a row: {reason}", t.unreachable_polls))
            } else {
                Want::Keep
            };
            (want, Want::Keep)
        }
        PollOutcome::LoginFailed => {
            next.failed_polls = 0;
            (Want::Clear, Want::Open(Severity::Critical, format!("monitoring is blind: {reason}")))
        }
        PollOutcome::Ok | PollOutcome::Unsupported => {
            next.failed_polls = 0;
            (Want::Clear, Want::Clear)
        }
    };
    vec![(AlertKind::InstanceUnreachable, String::new(), unreachable), (AlertKind::LoginFailing, String::new(), login)]
}

fn trunks(next: &mut EvaluationState, event: &InstancePolled, t: &Thresholds) -> Vec<(AlertKind, String, Want)> {
    let mut wants = Vec::new();
    for trunk in &event.trunks {
        if trunk.online {
            next.trunks_seen_online.insert(trunk.name.clone());
            next.trunks_offline.remove(&trunk.name);
            wants.push((AlertKind::TrunkDown, trunk.name.clone(), Want::Clear));
        } else if next.trunks_seen_online.contains(&trunk.name) {
            let polls = next.trunks_offline.entry(trunk.name.clone()).or_default();
            *polls = (*polls + 1).min(t.trunk_down_polls);
            let want = if *polls >= t.trunk_down_polls {
                Want::Open(Severity::Critical, format!("trunk {} is offline", trunk.name))
            } else {
                Want::Keep
            };
            wants.push((AlertKind::TrunkDown, trunk.name.clone(), want));
        }
    }
    // A trunk that is gone from the 3CX is no longer down.
    for alert in next.open.iter().filter(|a| a.kind == AlertKind::TrunkDown) {
        if !event.trunks.iter().any(|tr| tr.name == alert.subject) {
            wants.push((AlertKind::TrunkDown, alert.subject.clone(), Want::Clear));
        }
    }
    next.trunks_offline.retain(|name, _| event.trunks.iter().any(|tr| &tr.name == name));
    wants
}

fn services(next: &EvaluationState, event: &InstancePolled) -> Vec<(AlertKind, String, Want)> {
    let stopped = &event.snapshot.services_not_running;
    let mut wants: Vec<(AlertKind, String, Want)> = stopped
        .iter()
        .map(|name| {
            let want = Want::Open(Severity::Warning, format!("service {name} is not running"));
            (AlertKind::ServicesNotRunning, name.clone(), want)
        })
        .collect();
    for alert in next.open.iter().filter(|a| a.kind == AlertKind::ServicesNotRunning) {
        if !stopped.contains(&alert.subject) {
            wants.push((AlertKind::ServicesNotRunning, alert.subject.clone(), Want::Clear));
        }
    }
    wants
}

fn backups(next: &EvaluationState, event: &InstancePolled, t: &Thresholds) -> Vec<(AlertKind, String, Want)> {
    let open_failure = next.open.iter().find(|a| a.kind == AlertKind::BackupFailed);
    let failed = match (open_failure, event.last_backup_at) {
        (Some(alert), Some(last)) if last > alert.opened_at => Want::Clear,
        _ if event.failed_backups > 0 => Want::Open(Severity::Warning, "a scheduled backup did not appear".to_owned()),
        _ => Want::Keep,
    };
    let stale = match event.last_backup_at {
        Some(last) if event.slot - last > t.backup_stale_after => Want::Open(
            Severity::Warning,
            format!("the last successful backup is {} days old", (event.slot - last).num_days()),
        ),
        Some(_) => Want::Clear,
        None => Want::Keep,
    };
    vec![(AlertKind::BackupFailed, String::new(), failed), (AlertKind::BackupStale, String::new(), stale)]
}

fn disk(event: &InstancePolled, t: &Thresholds) -> Want {
    match event.snapshot.disk_usage_percent {
        Some(used) if used >= t.disk_open_percent => Want::Open(Severity::Warning, format!("disk {used}% used")),
        Some(used) if used < t.disk_recover_percent => Want::Clear,
        _ => Want::Keep,
    }
}

fn expiry(end: Option<DateTime<Utc>>, at: DateTime<Utc>, what: &str, t: &Thresholds) -> Want {
    let Some(end) = end else { return Want::Keep };
    let days = (end - at).num_days();
    let [info, warning, critical] = t.expiry_days;
    let severity = if end <= at || days < critical {
        Severity::Critical
    } else if days < warning {
        Severity::Warning
    } else if days < info {
        Severity::Info
    } else {
        return Want::Clear;
    };
    let detail = if end <= at { format!("the {what} has expired") } else { format!("the {what} ends in {days} days") };
    Want::Open(severity, detail)
}

fn calls(event: &InstancePolled, t: &Thresholds) -> Want {
    let (Some(active), Some(max)) = (event.snapshot.calls_active, event.snapshot.max_sim_calls) else {
        return Want::Keep;
    };
    if max == 0 {
        return Want::Keep;
    }
    let percent = active.saturating_mul(100) / max;
    let detail = format!("{active} of {max} simultaneous calls in use");
    if percent >= t.calls_critical_percent {
        Want::Open(Severity::Critical, detail)
    } else if percent >= t.calls_warning_percent {
        Want::Open(Severity::Warning, detail)
    } else if percent < t.calls_recover_percent {
        Want::Clear
    } else {
        Want::Keep
    }
}

fn reconcile(
    next: &mut EvaluationState,
    wants: Vec<(AlertKind, String, Want)>,
    at: DateTime<Utc>,
    t: &Thresholds,
) -> Vec<Transition> {
    let mut transitions = Vec::new();
    for (kind, subject, want) in wants {
        let want = if t.disabled.contains(&kind) { Want::Clear } else { want };
        let position = next.open.iter().position(|a| a.kind == kind && a.subject == subject);
        match (want, position) {
            (Want::Open(severity, detail), Some(i)) => {
                let alert = &mut next.open[i];
                if alert.severity != severity {
                    transitions.push(Transition::SeverityChanged {
                        kind,
                        subject,
                        from: alert.severity,
                        to: severity,
                        detail,
                    });
                    alert.severity = severity;
                }
            }
            (Want::Open(severity, detail), None) => {
                let flapping = next
                    .recently_resolved
                    .iter()
                    .any(|r| r.kind == kind && r.subject == subject && at - r.resolved_at < t.flap_window);
                next.open.push(OpenAlert { kind, subject: subject.clone(), severity, opened_at: at, flapping });
                transitions.push(Transition::Opened { kind, subject, severity, flapping, detail });
            }
            (Want::Clear, Some(i)) => {
                let alert = next.open.remove(i);
                next.recently_resolved.retain(|r| !(r.kind == kind && r.subject == subject));
                next.recently_resolved.push(RecentlyResolved { kind, subject: subject.clone(), resolved_at: at });
                transitions.push(Transition::Resolved { kind, subject, opened_at: alert.opened_at, resolved_at: at });
            }
            (Want::Clear | Want::Keep, None) | (Want::Keep, Some(_)) => {}
        }
    }
    transitions
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::{InstanceId, InstanceStatus, LicenceInfo, MetricSnapshot, TenantId, TrunkState};

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-29T09:00:00Z").unwrap().with_timezone(&Utc)
    }

    /// A healthy poll `minute` minutes after the start.
    fn healthy(minute: i64) -> InstancePolled {
        let slot = start() + Duration::minutes(minute);
        let mut snapshot = MetricSnapshot::failed(slot, PollOutcome::Ok, 40);
        snapshot.calls_active = Some(2);
        snapshot.max_sim_calls = Some(16);
        snapshot.disk_usage_percent = Some(50);
        InstancePolled {
            tenant_id: TenantId::parse("ten_01JDQ6ZC3N9W8Q7Y5X4V3T2S1R").unwrap(),
            instance_id: InstanceId::parse("ins_01JDQ70A1B2C3D4E5F6G7H8J9K").unwrap(),
            instance_name: "pbx".into(),
            group: None,
            slot,
            status: InstanceStatus::Ok,
            previous_status: InstanceStatus::Ok,
            reason: None,
            snapshot,
            trunks: vec![
                TrunkState { name: "Primary SIP".into(), online: true },
                TrunkState { name: "Backup SIP".into(), online: true },
            ],
            licence: Some(LicenceInfo {
                expires_at: Some(slot + Duration::days(400)),
                maintenance_expires_at: Some(slot + Duration::days(400)),
                ..LicenceInfo::default()
            }),
            last_backup_at: Some(slot - Duration::hours(3)),
            failed_backups: 0,
        }
    }

    fn failed(minute: i64, outcome: PollOutcome) -> InstancePolled {
        let mut e = healthy(minute);
        e.snapshot = MetricSnapshot::failed(e.slot, outcome, 0);
        e.reason = Some("connection refused".into());
        e.trunks = Vec::new();
        e.licence = None;
        e
    }

    /// Evaluates the events in order; returns the state and, per event, the transitions as
    /// `opened kind/subject severity`, `changed ...`, `resolved ...` (`-` for an ignored event).
    fn run(events: &[InstancePolled]) -> (EvaluationState, Vec<Vec<String>>) {
        let t = Thresholds::default();
        let mut state = EvaluationState::default();
        let mut log = Vec::new();
        for event in events {
            match evaluate(&state, event, &t) {
                None => log.push(vec!["-".to_owned()]),
                Some((next, transitions)) => {
                    log.push(transitions.iter().map(describe).collect());
                    state = next;
                }
            }
        }
        (state, log)
    }

    fn describe(t: &Transition) -> String {
        let name = |k: &AlertKind, s: &str| {
            let k = serde_json::to_value(k).unwrap().as_str().unwrap().to_owned();
            if s.is_empty() { k } else { format!("{k}/{s}") }
        };
        match t {
            Transition::Opened { kind, subject, severity, flapping, .. } => {
                format!("opened {} {severity:?}{}", name(kind, subject), if *flapping { " flapping" } else { "" })
            }
            Transition::SeverityChanged { kind, subject, to, .. } => format!("changed {} {to:?}", name(kind, subject)),
            Transition::Resolved { kind, subject, .. } => format!("resolved {}", name(kind, subject)),
        }
    }

    fn steps(log: &[Vec<String>]) -> Vec<String> {
        log.iter().map(|t| t.join(", ")).collect()
    }

    #[test]
    fn every_rule_opens_changes_and_resolves_as_its_table_says() {
        type Case = (&'static str, Vec<InstancePolled>, Vec<&'static str>);
        let with = |minute: i64, f: &dyn Fn(&mut InstancePolled)| {
            let mut e = healthy(minute);
            f(&mut e);
            e
        };
        let cases: Vec<Case> = vec![
            (
                "unreachable after 2 failed polls, resolved by a success",
                vec![
                    failed(0, PollOutcome::Unreachable),
                    failed(1, PollOutcome::Unreachable),
                    failed(2, PollOutcome::Unreachable),
                    healthy(3),
                ],
                vec!["", "opened instance_unreachable Critical", "", "resolved instance_unreachable"],
            ),
            (
                "one failed poll opens nothing",
                vec![healthy(0), failed(1, PollOutcome::Unreachable), healthy(2)],
                vec!["", "", ""],
            ),
            (
                "login failing opens at once (monitoring is blind), resolves when login works",
                vec![failed(0, PollOutcome::LoginFailed), failed(1, PollOutcome::LoginFailed), healthy(2)],
                vec!["opened login_failing Critical", "", "resolved login_failing"],
            ),
            (
                "a trunk that was online, offline for 2 polls, named",
                vec![
                    healthy(0),
                    with(1, &|e| e.trunks[1].online = false),
                    with(2, &|e| e.trunks[1].online = false),
                    with(3, &|e| e.trunks[1].online = false),
                    healthy(4),
                ],
                vec!["", "", "opened trunk_down/Backup SIP Critical", "", "resolved trunk_down/Backup SIP"],
            ),
            (
                "a trunk never seen online is not down",
                vec![with(0, &|e| e.trunks[1].online = false), with(1, &|e| e.trunks[1].online = false)],
                vec!["", ""],
            ),
            (
                "services not running, one alert each",
                vec![
                    with(0, &|e| e.snapshot.services_not_running = vec!["QueueManager".into()]),
                    with(1, &|e| e.snapshot.services_not_running = vec!["QueueManager".into(), "MediaServer".into()]),
                    healthy(2),
                ],
                vec![
                    "opened services_not_running/QueueManager Warning",
                    "opened services_not_running/MediaServer Warning",
                    "resolved services_not_running/QueueManager, resolved services_not_running/MediaServer",
                ],
            ),
            (
                "disk above 90 %, kept until below 85 %",
                vec![
                    with(0, &|e| e.snapshot.disk_usage_percent = Some(92)),
                    with(1, &|e| e.snapshot.disk_usage_percent = Some(87)),
                    with(2, &|e| e.snapshot.disk_usage_percent = Some(84)),
                    with(3, &|e| e.snapshot.disk_usage_percent = Some(89)),
                ],
                vec!["opened disk_high Warning", "", "resolved disk_high", ""],
            ),
            (
                "licence expiring: severity rises at 30, 7 and 1 days, resolved when renewed",
                vec![
                    with(0, &|e| e.licence.as_mut().unwrap().expires_at = Some(e.slot + Duration::days(20))),
                    with(1, &|e| e.licence.as_mut().unwrap().expires_at = Some(e.slot + Duration::days(5))),
                    with(2, &|e| e.licence.as_mut().unwrap().expires_at = Some(e.slot + Duration::hours(12))),
                    healthy(3),
                ],
                vec![
                    "opened license_expiring Info",
                    "changed license_expiring Warning",
                    "changed license_expiring Critical",
                    "resolved license_expiring",
                ],
            ),
            (
                "maintenance expired",
                vec![with(0, &|e| {
                    e.licence.as_mut().unwrap().maintenance_expires_at = Some(e.slot - Duration::days(2))
                })],
                vec!["opened maintenance_expiring Critical"],
            ),
            (
                "calls near the limit: 80 % warning, 95 % critical, kept above 70 %",
                vec![
                    with(0, &|e| e.snapshot.calls_active = Some(13)),
                    with(1, &|e| e.snapshot.calls_active = Some(16)),
                    with(2, &|e| e.snapshot.calls_active = Some(12)),
                    with(3, &|e| e.snapshot.calls_active = Some(11)),
                ],
                vec![
                    "opened calls_near_limit Warning",
                    "changed calls_near_limit Critical",
                    "",
                    "resolved calls_near_limit",
                ],
            ),
            (
                "a missed backup, resolved by a newer successful one",
                vec![
                    with(0, &|e| {
                        e.failed_backups = 1;
                        e.last_backup_at = Some(e.slot - Duration::hours(30));
                    }),
                    with(1, &|e| e.last_backup_at = Some(e.slot - Duration::hours(30))),
                    with(2, &|e| e.last_backup_at = Some(e.slot - Duration::minutes(1))),
                ],
                vec!["opened backup_failed Warning", "", "resolved backup_failed"],
            ),
            (
                "the last backup older than 7 days",
                vec![with(0, &|e| e.last_backup_at = Some(e.slot - Duration::days(8))), healthy(1)],
                vec!["opened backup_stale Warning", "resolved backup_stale"],
            ),
            (
                "a failed poll neither opens nor resolves data alerts",
                vec![
                    with(0, &|e| e.snapshot.disk_usage_percent = Some(95)),
                    failed(1, PollOutcome::Unreachable),
                    healthy(2),
                ],
                vec!["opened disk_high Warning", "", "resolved disk_high"],
            ),
            (
                "reopening within 30 minutes is flapping",
                vec![
                    with(0, &|e| e.snapshot.disk_usage_percent = Some(95)),
                    healthy(1),
                    with(2, &|e| e.snapshot.disk_usage_percent = Some(95)),
                    healthy(3),
                    with(40, &|e| e.snapshot.disk_usage_percent = Some(95)),
                ],
                vec![
                    "opened disk_high Warning",
                    "resolved disk_high",
                    "opened disk_high Warning flapping",
                    "resolved disk_high",
                    "opened disk_high Warning",
                ],
            ),
        ];
        for (name, events, expected) in cases {
            let (_, log) = run(&events);
            assert_eq!(steps(&log), expected, "{name}");
        }
    }

    #[test]
    fn duplicate_and_late_events_change_nothing() {
        let (_, log) = run(&[
            failed(5, PollOutcome::Unreachable),
            failed(5, PollOutcome::Unreachable),
            failed(3, PollOutcome::Unreachable),
            failed(6, PollOutcome::Unreachable),
        ]);
        assert_eq!(steps(&log), ["", "-", "-", "opened instance_unreachable Critical"]);
    }

    fn not_polled(minute: i64) -> InstanceNotPolled {
        let e = healthy(minute);
        InstanceNotPolled {
            tenant_id: e.tenant_id,
            instance_id: e.instance_id,
            instance_name: e.instance_name,
            group: None,
            slot: e.slot,
            since: e.slot - Duration::minutes(3),
        }
    }

    #[test]
    fn no_data_opens_once_when_not_polled_and_the_next_poll_resolves_it() {
        let t = Thresholds::default();
        let (state, _) = run(&[healthy(0)]);
        let (state, opened) = evaluate_not_polled(&state, &not_polled(4), &t).unwrap();
        assert_eq!(opened.iter().map(describe).collect::<Vec<_>>(), ["opened no_data Warning"]);
        assert!(evaluate_not_polled(&state, &not_polled(4), &t).is_none(), "a duplicate");
        assert!(evaluate_not_polled(&state, &not_polled(2), &t).is_none(), "a late one");
        let (again, transitions) = evaluate_not_polled(&state, &not_polled(5), &t).unwrap();
        assert!(transitions.is_empty() && !again.differs(&state), "still not polled: no change, no write");
        let (_, resolved) = evaluate(&state, &healthy(6), &t).unwrap();
        assert_eq!(resolved.iter().map(describe).collect::<Vec<_>>(), ["resolved no_data"]);
        let (_, failed_poll) = evaluate(&state, &failed(6, PollOutcome::Unreachable), &t).unwrap();
        assert!(
            failed_poll.iter().any(|t| describe(t) == "resolved no_data"),
            "a failed poll is still a poll: the pipeline works"
        );
    }

    #[test]
    fn a_disabled_kind_never_opens_and_an_open_one_resolves() {
        let mut t = Thresholds::default();
        let (state, _) = run(&[healthy(0), failed(1, PollOutcome::LoginFailed)]);
        t.disabled.insert(AlertKind::LoginFailing);
        let (_, transitions) = evaluate(&state, &failed(2, PollOutcome::LoginFailed), &t).unwrap();
        assert_eq!(transitions.iter().map(describe).collect::<Vec<_>>(), ["resolved login_failing"]);
        let (fresh, _) = run(&[healthy(0)]);
        let (_, transitions) = evaluate(&fresh, &failed(1, PollOutcome::LoginFailed), &t).unwrap();
        assert!(transitions.is_empty());
    }

    #[test]
    fn an_event_that_changes_nothing_leaves_the_state_as_it_was() {
        let t = Thresholds::default();
        let (state, _) = run(&[healthy(0), failed(1, PollOutcome::Unreachable), failed(2, PollOutcome::Unreachable)]);
        for event in [failed(3, PollOutcome::Unreachable), failed(4, PollOutcome::Unreachable)] {
            let (next, transitions) = evaluate(&state, &event, &t).unwrap();
            assert!(transitions.is_empty());
            assert!(!next.differs(&state), "an alert that stays open needs no write");
        }
        let (steady, _) = run(&[healthy(0), healthy(1)]);
        let (next, _) = evaluate(&steady, &healthy(2), &t).unwrap();
        assert!(!next.differs(&steady), "a healthy instance needs no write");
    }
}
