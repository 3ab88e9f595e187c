use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{AlertId, InstanceId, TenantId};

/// Why a notice is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Opened,
    /// The alert is still open.
    Reminder,
    /// The alert's severity rose.
    Escalated,
    Resolved,
    /// Sent on request to check a channel; about no real alert.
    Test,
}

impl NoticeKind {
    /// `opened`, `reminder`, `escalated`, `resolved` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Reminder => "reminder",
            Self::Escalated => "escalated",
            Self::Resolved => "resolved",
            Self::Test => "test",
        }
    }
}

/// What a notification says, whatever channel carries it. The strings are shown as given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    pub alert_id: AlertId,
    pub tenant_id: TenantId,
    /// The alert kind in snake_case, e.g. `trunk_down`.
    pub alert_kind: String,
    /// `info`, `warning` or `critical`; for `escalated`, the new severity.
    pub severity: String,
    pub instance_id: InstanceId,
    pub instance_name: String,
    /// The trunk or service the alert is about; empty when it is about the instance.
    pub subject: String,
    /// What was seen, as a phrase that names the subject, e.g. "trunk VoIP-1 is offline"; may
    /// be empty.
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    /// Set on `resolved` notices.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The alert on the dashboard.
    pub link: Option<String>,
}

impl Notice {
    /// A `test` notice for a tenant's channel check, about no real alert or instance.
    pub fn test(tenant_id: TenantId, at: DateTime<Utc>, link: Option<String>) -> Self {
        Self {
            kind: NoticeKind::Test,
            alert_id: AlertId::generate(),
            tenant_id,
            alert_kind: "test".into(),
            severity: "info".into(),
            instance_id: InstanceId::generate(),
            instance_name: "Sikurd".into(),
            subject: String::new(),
            detail: "this is a test notification; no action is needed".into(),
            opened_at: at,
            resolved_at: None,
            link,
        }
    }

    /// How long the alert was open, for a notice with `resolved_at`.
    pub fn duration(&self) -> Option<Duration> {
        self.resolved_at.map(|end| (end - self.opened_at).max(Duration::zero()))
    }

    /// One line naming the alert, its instance and subject, e.g.
    /// "RESOLVED trunk_down on Head office PBX (trunk: VoIP-1) after 12 min". For e-mail
    /// subjects and chat notifications.
    pub fn title(&self) -> String {
        let (head, tail) = self.head_and_tail();
        let subject = match (self.kind, self.subject.as_str()) {
            (NoticeKind::Test, _) | (_, "") => String::new(),
            (_, subject) => match subject_label(&self.alert_kind) {
                Some(label) => format!(" ({label}: {subject})"),
                None => format!(" ({subject})"),
            },
        };
        format!("{head}{subject}{tail}")
    }

    /// One line with the detail, e.g. "CRITICAL trunk_down on Head office PBX: trunk VoIP-1 is
    /// offline"; the title when there is no detail.
    pub fn text(&self) -> String {
        if self.detail.is_empty() {
            return self.title();
        }
        let (head, tail) = self.head_and_tail();
        format!("{head}{tail}: {}", self.detail)
    }

    /// The plain-text body of an e-mail: [`Self::text`], then the facts and the link.
    pub fn message(&self) -> String {
        let mut out = format!("{}\n\n", self.text());
        if self.kind != NoticeKind::Test {
            let _ = writeln!(out, "Instance: {} ({})", self.instance_name, self.instance_id);
            if !self.subject.is_empty() {
                let label = subject_label(&self.alert_kind).unwrap_or("subject");
                let _ = writeln!(out, "{}{}: {}", label[..1].to_uppercase(), &label[1..], self.subject);
            }
            let _ = writeln!(out, "Alert: {}, {} ({})", self.alert_kind, self.severity, self.alert_id);
            let _ = writeln!(out, "Opened: {}", self.opened_at.format("%Y-%m-%d %H:%M:%S UTC"));
            if let (Some(at), Some(took)) = (self.resolved_at, self.duration()) {
                let _ =
                    writeln!(out, "Resolved: {} (after {})", at.format("%Y-%m-%d %H:%M:%S UTC"), human_duration(took));
            }
        }
        if let Some(link) = &self.link {
            let _ = writeln!(out, "\nOpen in Sikurd: {link}");
        }
        out
    }

    fn head_and_tail(&self) -> (String, String) {
        let severity = self.severity.to_uppercase();
        let what = format!("{} on {}", self.alert_kind, self.instance_name);
        match self.kind {
            NoticeKind::Opened => (format!("{severity} {what}"), String::new()),
            NoticeKind::Reminder => {
                (format!("STILL {severity} {what}"), format!(" since {}", self.opened_at.format("%Y-%m-%d %H:%M UTC")))
            }
            NoticeKind::Escalated => (format!("ESCALATED TO {severity} {what}"), String::new()),
            NoticeKind::Resolved => {
                let tail = self.duration().map(|d| format!(" after {}", human_duration(d))).unwrap_or_default();
                (format!("RESOLVED {what}"), tail)
            }
            NoticeKind::Test => ("TEST notification from Sikurd".into(), String::new()),
        }
    }
}

fn subject_label(alert_kind: &str) -> Option<&'static str> {
    match alert_kind {
        "trunk_down" => Some("trunk"),
        "services_not_running" => Some("service"),
        _ => None,
    }
}

/// A duration for people, in its two largest units: "45 s", "12 min", "3 h 12 min",
/// "2 d 5 h". Negative durations read as "0 s".
pub fn human_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{minutes} min"),
        3_600..86_400 if minutes == 0 => format!("{hours} h"),
        3_600..86_400 => format!("{hours} h {minutes} min"),
        _ if hours == 0 => format!("{days} d"),
        _ => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use chrono::TimeZone;

    use super::*;

    pub(in crate::notify) fn trunk_down() -> Notice {
        Notice {
            kind: NoticeKind::Opened,
            alert_id: AlertId::parse("alr_01JDRQ0000000000000000TEST").unwrap(),
            tenant_id: TenantId::parse("ten_01JDRQ0000000000000000TEST").unwrap(),
            alert_kind: "trunk_down".into(),
            severity: "critical".into(),
            instance_id: InstanceId::parse("ins_01JDRQ0000000000000000TEST").unwrap(),
            instance_name: "Head office PBX".into(),
            subject: "VoIP-1".into(),
            detail: "trunk VoIP-1 is offline".into(),
            opened_at: Utc.with_ymd_and_hms(2026, 11, 29, 9, 49, 0).unwrap(),
            resolved_at: None,
            link: Some("https://app.sikurd.example/alerts/alr_01JDRQ0000000000000000TEST".into()),
        }
    }

    pub(in crate::notify) fn resolved_after(d: Duration) -> Notice {
        let open = trunk_down();
        Notice { kind: NoticeKind::Resolved, detail: String::new(), resolved_at: Some(open.opened_at + d), ..open }
    }

    #[test]
    fn an_opened_notice_reads_severity_kind_instance_and_detail() {
        let notice = trunk_down();
        assert_eq!(notice.text(), "CRITICAL trunk_down on Head office PBX: trunk VoIP-1 is offline");
        assert_eq!(notice.title(), "CRITICAL trunk_down on Head office PBX (trunk: VoIP-1)");
    }

    #[test]
    fn a_resolved_notice_says_how_long_the_alert_was_open() {
        let notice = resolved_after(Duration::minutes(12) + Duration::seconds(30));
        assert_eq!(notice.title(), "RESOLVED trunk_down on Head office PBX (trunk: VoIP-1) after 12 min");
        assert_eq!(notice.text(), notice.title());
        assert_eq!(notice.duration(), Some(Duration::seconds(750)));
    }

    #[test]
    fn reminders_escalations_and_tests_say_so_first() {
        let reminder = Notice { kind: NoticeKind::Reminder, ..trunk_down() };
        assert_eq!(
            reminder.title(),
            "STILL CRITICAL trunk_down on Head office PBX (trunk: VoIP-1) since 2026-11-29 09:49 UTC"
        );
        let escalated = Notice { kind: NoticeKind::Escalated, subject: String::new(), ..trunk_down() };
        assert_eq!(escalated.title(), "ESCALATED TO CRITICAL trunk_down on Head office PBX");
        let test = Notice::test(trunk_down().tenant_id, Utc::now(), None);
        assert_eq!(test.text(), "TEST notification from Sikurd: this is a test notification; no action is needed");
    }

    #[test]
    fn the_email_message_lists_the_facts_and_the_link() {
        let message = resolved_after(Duration::hours(3) + Duration::minutes(12)).message();
        assert!(message.starts_with("RESOLVED trunk_down on Head office PBX (trunk: VoIP-1) after 3 h 12 min\n\n"));
        assert!(message.contains("Trunk: VoIP-1\n"), "{message}");
        assert!(message.contains("Resolved: 2026-11-29 13:01:00 UTC (after 3 h 12 min)\n"), "{message}");
        assert!(
            message.ends_with("Open in Sikurd: https://app.sikurd.example/alerts/alr_01JDRQ0000000000000000TEST\n")
        );
    }

    #[test]
    fn durations_read_in_their_two_largest_units() {
        for (seconds, text) in [
            (-5, "0 s"),
            (45, "45 s"),
            (60, "1 min"),
            (12 * 60 + 59, "12 min"),
            (3 * 3600, "3 h"),
            (3 * 3600 + 12 * 60, "3 h 12 min"),
            (86_400, "1 d"),
            (2 * 86_400 + 5 * 3600 + 59, "2 d 5 h"),
        ] {
            assert_eq!(human_duration(Duration::seconds(seconds)), text);
        }
    }

    #[test]
    fn notices_round_trip_through_json() {
        let notice = resolved_after(Duration::minutes(5));
        let json = serde_json::to_string(&notice).unwrap();
        assert!(json.contains(r#""kind":"resolved""#));
        assert_eq!(serde_json::from_str::<Notice>(&json).unwrap(), notice);
    }
}
