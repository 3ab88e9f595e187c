use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::domain::TrunkState;

/// What Sikurd already knows of a 3CX. Every poll reads `SystemStatus`; the collections are read
/// only when the status says they changed, or when `full` is set:
/// - `Trunks` unless `TrunksRegistered == TrunksTotal` equals the number of known trunks and all
///   of them were online;
/// - `Services` unless `HasNotRunningServices` is `false`;
/// - `Backups` unless `LastBackupDateTime` is the one already seen;
/// - the backup settings (the schedule the missed-backup rule needs) on full polls only, and not
///   when `BackupScheduled` is `false`.
#[derive(Clone, Debug)]
pub struct Known {
    /// Read every collection.
    pub full: bool,
    /// The trunks as of the last poll.
    pub trunks: Vec<TrunkState>,
    /// `LastBackupDateTime` as of the last poll that read the backup list.
    pub last_backup_at: Option<DateTime<Utc>>,
    /// A token an earlier poll obtained (perhaps in another process) for these credentials and
    /// this address, still fresh; used when the process has none of its own.
    pub token: Option<SecretString>,
}

impl Known {
    /// Nothing known: read everything.
    pub fn nothing() -> Self {
        Self { full: true, trunks: Vec::new(), last_backup_at: None, token: None }
    }

    pub(super) fn trunks_unchanged(&self, registered: Option<i64>, total: Option<i64>) -> bool {
        let known = i64::try_from(self.trunks.len()).ok();
        !self.full && registered == total && total == known && self.trunks.iter().all(|t| t.online)
    }

    pub(super) fn services_unchanged(&self, has_not_running: Option<bool>) -> bool {
        !self.full && has_not_running == Some(false)
    }

    pub(super) fn backups_unchanged(&self, last_backup_at: Option<DateTime<Utc>>) -> bool {
        !self.full && last_backup_at.is_some() && last_backup_at == self.last_backup_at
    }
}
