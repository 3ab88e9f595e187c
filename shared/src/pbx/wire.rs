//! The 3CX v20 payloads Sikurd reads, field for field as 3CX names them. Everything is optional
//! and unknown fields are ignored: a 3CX of another build must not fail a poll. Fields that could
//! carry people's names, numbers or e-mails are not declared here, so they are never read.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Accepts any JSON for a field and keeps only a well-typed value.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// A 3CX date (`2025-12-09T00:08:32.7261699+01:00`, or with `Z`); anything else is absent.
fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SystemStatus {
    #[serde(deserialize_with = "lenient")]
    pub version: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub product_code: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub license_active: Option<bool>,
    #[serde(deserialize_with = "date")]
    pub expiration_date: Option<DateTime<FixedOffset>>,
    #[serde(deserialize_with = "date")]
    pub maintenance_expires_at: Option<DateTime<FixedOffset>>,
    #[serde(deserialize_with = "lenient")]
    pub max_sim_calls: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub calls_active: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub extensions_registered: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub extensions_total: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub trunks_registered: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub trunks_total: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub has_not_running_services: Option<bool>,
    #[serde(deserialize_with = "lenient")]
    pub disk_usage: Option<i64>,
    #[serde(deserialize_with = "lenient")]
    pub backup_scheduled: Option<bool>,
    #[serde(deserialize_with = "date")]
    pub last_backup_date_time: Option<DateTime<FixedOffset>>,
}

/// An OData collection: `{"@odata.context": ..., "value": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub struct Collection<T> {
    pub value: Vec<Lenient<T>>,
}

/// One collection entry that may or may not be readable.
#[derive(Debug)]
pub struct Lenient<T>(pub Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(serde_json::from_value(Value::deserialize(d)?).ok()))
    }
}

impl<T> Collection<T> {
    pub fn empty() -> Self {
        Self { value: Vec::new() }
    }

    pub fn into_items(self) -> impl Iterator<Item = T> {
        self.value.into_iter().filter_map(|l| l.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Trunk {
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "lenient")]
    pub number: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub is_online: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub gateway: Option<Gateway>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Gateway {
    #[serde(default, deserialize_with = "lenient")]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Service {
    pub name: String,
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Backup {
    pub file_name: String,
    #[serde(default, deserialize_with = "date")]
    pub creation_time: Option<DateTime<FixedOffset>>,
    #[serde(default, deserialize_with = "lenient")]
    pub size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BackupSettings {
    #[serde(deserialize_with = "lenient")]
    pub schedule_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient")]
    pub schedule: Option<Schedule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Schedule {
    #[serde(deserialize_with = "lenient")]
    pub schedule_type: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub day: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub time: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub repeat_hours: Option<i64>,
}

/// `POST /webclient/api/Login/GetAccessToken`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserLogin {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub token: Option<TokenResponse>,
    #[serde(default)]
    pub two_factor_auth: Option<Value>,
}

/// The OAuth token fields (`/connect/token`, and `Token` of a user login).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, deserialize_with = "lenient")]
    pub expires_in: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_20_0_7_system_status_reads() {
        let body = r#"{ "@odata.context": "https://x/xapi/v1/metadata#SystemStatus",
          "FQDN": "x.my3cx.fr", "Version": "20.0.7.1080", "Activated": true, "MaxSimCalls": 16,
          "ExtensionsRegistered": 31, "ExtensionsTotal": 45, "HasNotRunningServices": false,
          "TrunksRegistered": 5, "TrunksTotal": 7, "CallsActive": 0, "DiskUsage": 85,
          "MaintenanceExpiresAt": "2035-01-01T00:00:00Z", "LicenseActive": true,
          "ExpirationDate": "2035-01-01T00:00:00Z", "BackupScheduled": true,
          "LastBackupDateTime": "2025-12-09T00:08:32.7261699+01:00", "ProductCode": "3CXPSPROF",
          "OS": "Linux", "RemoteStorageStatus": "NotConfigured" }"#;
        let s: SystemStatus = serde_json::from_str(body).unwrap();
        assert_eq!(s.version.as_deref(), Some("20.0.7.1080"));
        assert_eq!(s.trunks_total, Some(7));
        assert_eq!(s.last_backup_date_time.map(|d| d.offset().local_minus_utc()), Some(3600));
    }

    #[test]
    fn wrongly_typed_fields_are_absent_rather_than_fatal() {
        let s: SystemStatus =
            serde_json::from_str(r#"{"MaxSimCalls":"lots","DiskUsage":null,"ExpirationDate":12}"#).unwrap();
        assert_eq!(s.max_sim_calls, None);
        assert_eq!(s.expiration_date, None);
        let c: Collection<Trunk> =
            serde_json::from_str(r#"{"value":[{"IsOnline":true},42,{"IsOnline":"x"}]}"#).unwrap();
        assert_eq!(c.into_items().count(), 2);
    }
}
