//! The missed-backup rule.
//!
//! 3CX has no per-backup status; a failed backup shows as one that never appears. So: when the
//! 3CX has a daily or weekly backup schedule, the most recent scheduled time `T` (in the 3CX's
//! own UTC offset) that lies at least [`MISSED_BACKUP_GRACE`] in the past is "due". If no backup
//! was created at or after `T - 1 h` (the newest listed by the 3CX, or the newest already
//! recorded), one failed backup attempt is recorded for `T`, once. Hourly, minutely, monthly
//! and immediate schedules, and disabled schedules, record no missed backups; staleness alerts
//! cover them.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Utc};

use crate::pbx::BackupSchedule;

/// How long after its scheduled time a backup may take to appear.
pub const MISSED_BACKUP_GRACE: Duration = Duration::hours(2);

/// How early before its scheduled time a backup still counts for it.
const EARLY_TOLERANCE: Duration = Duration::hours(1);

fn at_local(offset: FixedOffset, date: chrono::NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    offset.from_local_datetime(&date.and_time(time)).single().map(|d| d.with_timezone(&Utc))
}

/// The latest scheduled time at or before `until`.
fn latest_scheduled(schedule: &BackupSchedule, offset: FixedOffset, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local_date = until.with_timezone(&offset).date_naive();
    (0..8).filter_map(|back| local_date.checked_sub_days(chrono::Days::new(back))).find_map(|date| {
        let at = match schedule {
            BackupSchedule::Daily { at } => *at,
            BackupSchedule::Weekly { day, at } if date.weekday() == *day => *at,
            _ => return None,
        };
        at_local(offset, date, at).filter(|t| *t <= until)
    })
}

/// The scheduled time of a backup that should exist by `now` and does not, if any.
pub fn missed_backup_due(
    schedule: &BackupSchedule,
    offset: FixedOffset,
    newest_backup_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let due = latest_scheduled(schedule, offset, now - MISSED_BACKUP_GRACE)?;
    match newest_backup_at {
        Some(newest) if newest >= due - EARLY_TOLERANCE => None,
        _ => Some(due),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn daily_2am() -> BackupSchedule {
        BackupSchedule::Daily { at: NaiveTime::from_hms_opt(2, 0, 0).unwrap() }
    }

    fn plus_one() -> FixedOffset {
        FixedOffset::east_opt(3600).unwrap()
    }

    #[test]
    fn a_daily_backup_made_on_time_is_not_missed() {
        let now = t("2026-11-29T09:00:00Z");
        let made = t("2026-11-29T01:05:00Z"); // 02:05 at +01:00
        assert_eq!(missed_backup_due(&daily_2am(), plus_one(), Some(made), now), None);
    }

    #[test]
    fn a_daily_backup_that_did_not_appear_is_missed_once_the_grace_has_passed() {
        let yesterday = t("2026-11-28T01:05:00Z");
        assert_eq!(missed_backup_due(&daily_2am(), plus_one(), Some(yesterday), t("2026-11-29T02:30:00Z")), None);
        assert_eq!(
            missed_backup_due(&daily_2am(), plus_one(), Some(yesterday), t("2026-11-29T03:00:00Z")),
            Some(t("2026-11-29T01:00:00Z"))
        );
        assert_eq!(
            missed_backup_due(&daily_2am(), plus_one(), None, t("2026-11-29T03:00:00Z")),
            Some(t("2026-11-29T01:00:00Z"))
        );
    }

    #[test]
    fn a_weekly_schedule_is_due_only_on_its_day() {
        let sunday_3am = BackupSchedule::Weekly { day: Weekday::Sun, at: NaiveTime::from_hms_opt(3, 0, 0).unwrap() };
        let utc = FixedOffset::east_opt(0).unwrap();
        // 2026-11-29 is a Sunday.
        let last_week = t("2026-11-22T03:10:00Z");
        assert_eq!(missed_backup_due(&sunday_3am, utc, Some(last_week), t("2026-11-28T12:00:00Z")), None);
        assert_eq!(
            missed_backup_due(&sunday_3am, utc, Some(last_week), t("2026-11-29T06:00:00Z")),
            Some(t("2026-11-29T03:00:00Z"))
        );
    }

    #[test]
    fn other_schedules_never_count_a_missed_backup() {
        let now = t("2026-11-29T09:00:00Z");
        for s in [BackupSchedule::Disabled, BackupSchedule::Other("Hourly".into())] {
            assert_eq!(missed_backup_due(&s, plus_one(), None, now), None);
        }
    }
}
