use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether a backup attempt produced a backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum BackupOutcome {
    Succeeded,
    Failed { reason: String },
}

/// One backup attempt a 3CX reported (or that was scheduled and did not appear). Kept
/// indefinitely.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    /// When the backup was made, or when the missed one was due.
    pub at: DateTime<Utc>,
    pub size_bytes: Option<u64>,
    pub outcome: BackupOutcome,
}
