//! Scheduled backups: one a day at 02:00 PBX-local time, the last seven kept.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone};
use serde::Serialize;

use super::View;
use crate::time;

/// Backups kept (the schedule's rotation).
const ROTATION: usize = 7;

/// One backup file.
pub(crate) struct Backup {
    pub file_name: String,
    pub creation: DateTime<FixedOffset>,
    pub size: u64,
}

/// A backup as `GET /xapi/v1/Backups` lists it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BackupDoc {
    file_name: String,
    download_link: String,
    creation_time: String,
    size: u64,
}

impl From<&Backup> for BackupDoc {
    fn from(backup: &Backup) -> Self {
        Self {
            download_link: format!("/xapi/v1/Backups('{}')/Pbx.DownloadBackup()", backup.file_name),
            file_name: backup.file_name.clone(),
            creation_time: time::local(backup.creation),
            size: backup.size,
        }
    }
}

/// `GET /xapi/v1/Backups/Pbx.GetBackupSettings()`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BackupSettings {
    #[serde(rename = "@odata.context")]
    context: String,
    schedule_enabled: bool,
    rotation: usize,
    schedule: Schedule,
    contents: Contents,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Schedule {
    schedule_type: &'static str,
    day: &'static str,
    time: &'static str,
    repeat_hours: u32,
    repeat_minutes: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    call_history: bool,
    disable_backup_compression: bool,
    encrypt_backup: bool,
    encrypt_backup_password: Concealed,
    #[serde(rename = "FQDN")]
    fqdn: bool,
    license: bool,
    phone_provisioning: bool,
    prompts: bool,
    recordings: bool,
    voice_mails: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Concealed {
    concealed: bool,
    value: &'static str,
}

impl View<'_> {
    /// The backups on disk, newest first: the last seven daily 02:00 runs that have happened by
    /// now (skipping the two most recent under `backup_missing`); none if backups are not scheduled.
    pub(crate) fn backups(&self) -> Vec<Backup> {
        if !self.spec().backups_scheduled {
            return Vec::new();
        }
        let skip = if self.faults.backup_missing { 2 } else { 0 };
        let local_now = self.local_now();
        let today = local_now.date_naive();
        (0..=(ROTATION + skip) as i64)
            .filter_map(|days_ago| {
                let date = today - Duration::days(days_ago);
                let day_salt = u64::try_from(date.num_days_from_ce()).unwrap_or(0);
                let minutes = self.figure_in(day_salt ^ 0xb4c0, 3, 9);
                let seconds = self.figure_in(day_salt ^ 0x5ec, 0, 59);
                let ticks = self.figure_in(day_salt ^ 0x71c, 0, 9_999_999);
                let start = NaiveTime::from_hms_opt(2, 0, 0)?;
                let at = date.and_time(start)
                    + Duration::minutes(minutes as i64)
                    + Duration::seconds(seconds as i64)
                    + Duration::nanoseconds(ticks as i64 * 100);
                let creation = self.pbx.offset.from_local_datetime(&at).single()?;
                (creation <= local_now).then(|| Backup {
                    file_name: format!("3CXScheduledBackup_{}.zip", date.format("%Y%m%d")),
                    creation,
                    size: self.backup_size(day_salt, days_ago),
                })
            })
            .skip(skip)
            .take(ROTATION)
            .collect()
    }

    /// Between 50 and 400 MB, stable per PBX, growing a little day by day.
    fn backup_size(&self, day_salt: u64, days_ago: i64) -> u64 {
        let base = self.figure_in(0xb5, 50_000_000, 380_000_000);
        let growth = base / 200 * (ROTATION as u64).saturating_sub(days_ago.unsigned_abs());
        let jitter = self.figure_in(day_salt ^ 0x512e, 0, 1_000_000);
        base + growth + jitter
    }

    pub(crate) fn backup_settings(&self) -> BackupSettings {
        BackupSettings {
            context: self.context("Pbx.BackupSettings"),
            schedule_enabled: self.spec().backups_scheduled,
            rotation: ROTATION,
            schedule: Schedule {
                schedule_type: "Daily",
                day: "Sunday",
                time: "02:00:00",
                repeat_hours: 0,
                repeat_minutes: 0,
            },
            contents: Contents {
                call_history: true,
                disable_backup_compression: false,
                encrypt_backup: false,
                encrypt_backup_password: Concealed { concealed: true, value: "" },
                fqdn: true,
                license: true,
                phone_provisioning: true,
                prompts: true,
                recordings: false,
                voice_mails: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Timelike, Utc};

    use crate::pbx::Pbx;
    use crate::spec::{Faults, PbxSpec};

    use super::*;

    fn at(rfc3339: &str) -> chrono::DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_healthy_pbx_has_one_backup_a_day_for_the_last_seven_days() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults::default();
        let backups = View::new(&pbx, &faults, at("2025-12-09T10:00:00+01:00")).backups();
        assert_eq!(backups.len(), 7);
        assert_eq!(backups[0].file_name, "3CXScheduledBackup_20251209.zip");
        assert_eq!(backups[6].file_name, "3CXScheduledBackup_20251203.zip");
        for pair in backups.windows(2) {
            assert!(pair[0].creation > pair[1].creation);
        }
        for backup in &backups {
            assert_eq!(backup.creation.hour(), 2);
            assert!((3..=9).contains(&backup.creation.minute()));
            assert_eq!(backup.creation.offset().local_minus_utc(), 3600);
            assert!((50_000_000..=400_000_000).contains(&backup.size));
        }
    }

    #[test]
    fn todays_backup_appears_only_after_it_ran() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults::default();
        let backups = View::new(&pbx, &faults, at("2025-12-09T01:30:00+01:00")).backups();
        assert_eq!(backups[0].file_name, "3CXScheduledBackup_20251208.zip");
        assert_eq!(backups.len(), 7);
    }

    #[test]
    fn a_missing_backup_leaves_the_newest_two_or_more_days_old() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults { backup_missing: true, ..Faults::default() };
        let now = at("2025-12-09T10:00:00+01:00");
        let backups = View::new(&pbx, &faults, now).backups();
        assert_eq!(backups[0].file_name, "3CXScheduledBackup_20251207.zip");
        assert!(now - backups[0].creation.with_timezone(&Utc) >= Duration::days(2));
    }

    #[test]
    fn unscheduled_backups_do_not_exist() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1").with_backups_scheduled(false)).unwrap();
        let faults = Faults::default();
        assert!(View::new(&pbx, &faults, Utc::now()).backups().is_empty());
    }
}
