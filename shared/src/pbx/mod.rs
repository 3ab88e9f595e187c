//! The 3CX port: polls one 3CX v20 over its HTTPS API and returns what Sikurd keeps of it.
//!
//! The client logs in (admin user via `Login/GetAccessToken`, or API client credentials via
//! `/connect/token`), caches the token per instance, and reads `SystemStatus`, then `Trunks`,
//! `Services`, `Backups` and the backup settings when [`Known`] and the status call for them. It never asks for calls, users or contacts, and
//! the payload types ([`wire`]) do not even declare fields that carry names, numbers or e-mails.

mod client;
mod known;
mod target;
mod token;
mod wire;

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};

pub use client::{ClientBuildError, PbxClient, PbxClientConfig};
pub use known::Known;
pub(crate) use target::resolver;
pub use target::{TargetPolicy, is_public};

use crate::domain::{LicenceInfo, PbxVersion, TrunkState};

/// What one successful poll read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PbxReading {
    pub version: Option<PbxVersion>,
    pub licence: LicenceInfo,
    pub calls_active: Option<u32>,
    pub extensions_registered: Option<u32>,
    pub extensions_total: Option<u32>,
    pub trunks_registered: Option<u32>,
    pub trunks_total: Option<u32>,
    pub disk_usage_percent: Option<u8>,
    /// Read, or carried over from [`Known`] when the status shows every known trunk online.
    pub trunks: Vec<TrunkState>,
    /// Names of services whose status is not `Running`.
    pub services_not_running: Vec<String>,
    /// The backups the 3CX lists, newest first; `None` when the list was not read (unchanged
    /// `LastBackupDateTime`) or could not be.
    pub backups: Option<Vec<BackupFile>>,
    /// Read on full polls only (see [`Known::full`]).
    pub backup_schedule: Option<BackupSchedule>,
    /// `SystemStatus.LastBackupDateTime`.
    pub last_backup_at: Option<DateTime<Utc>>,
    /// The 3CX's UTC offset, as seen in the dates it sends.
    pub utc_offset: Option<FixedOffset>,
}

/// A backup file the 3CX lists. The name identifies it; it is not stored as such.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupFile {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub size_bytes: Option<u64>,
}

/// When the 3CX makes backups, in its local time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupSchedule {
    Disabled,
    Daily {
        at: NaiveTime,
    },
    Weekly {
        day: Weekday,
        at: NaiveTime,
    },
    /// Hourly, minutely, monthly or immediate: no expectation of a time is derived.
    Other(String),
}

/// Why a poll produced no reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PollFailure {
    /// Connection refused, timed out, an HTTP error, or an unreadable or oversized answer.
    Unreachable(String),
    /// The 3CX refused our credentials, asked for a second factor, or denied access.
    LoginFailed(String),
    /// Not a 3CX v20 (a v18 system, or an API we do not know).
    Unsupported(String),
}

impl std::fmt::Display for PollFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(why) => write!(f, "unreachable: {why}"),
            Self::LoginFailed(why) => write!(f, "login failing: {why}"),
            Self::Unsupported(why) => write!(f, "unsupported: {why}"),
        }
    }
}

/// The result of one poll and how long it took.
#[derive(Clone, Debug)]
pub struct PollReport {
    pub result: Result<PbxReading, PollFailure>,
    pub latency: std::time::Duration,
    /// The token this poll logged in for, if it did: worth keeping for the next poll, which may
    /// run in another process.
    pub issued_token: Option<IssuedToken>,
}

/// A 3CX access token and when to stop using it.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub token: secrecy::SecretString,
    pub renew_at: DateTime<Utc>,
}
