//! What a virtual PBX is (its profile) and what is wrong with it (its faults).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SimError;

/// The version a PBX reports when none is given.
pub const DEFAULT_VERSION: &str = "20.0.9.1234";

/// The web-client login of a PBX administrator (`POST /webclient/api/Login/GetAccessToken`,
/// and `POST /api/login` on a v18 PBX).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminCredentials {
    /// The extension number or user name.
    pub username: String,
    /// The password; compared exactly.
    pub password: String,
}

/// An API service principal (`POST /connect/token`, `grant_type=client_credentials`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    /// The client id (in 3CX also a DN number).
    pub client_id: String,
    /// The API key; compared exactly.
    pub client_secret: String,
}

/// One SIP trunk of a PBX, as `GET /xapi/v1/Trunks` shows it. In JSON, `port` (5060),
/// `simultaneous_calls` (8) and `registered` (true) may be left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkSpec {
    /// `Gateway.Name`, the trunk's display name; [`Faults::trunk_down`] refers to it.
    pub name: String,
    /// `Gateway.Host`.
    pub host: String,
    /// `Gateway.Port`.
    #[serde(default = "default_sip_port")]
    pub port: u16,
    /// `Number`, the trunk's internal number such as `10000`.
    pub number: String,
    /// `SimultaneousCalls`.
    #[serde(default = "default_trunk_calls")]
    pub simultaneous_calls: u32,
    /// Whether the trunk is registered (`IsOnline`) while no fault says otherwise.
    #[serde(default = "default_registered")]
    pub registered: bool,
}

fn default_sip_port() -> u16 {
    5060
}

fn default_trunk_calls() -> u32 {
    8
}

fn default_registered() -> bool {
    true
}

impl TrunkSpec {
    /// A registered provider trunk with 8 simultaneous calls on port 5060.
    pub fn provider(name: impl Into<String>, host: impl Into<String>, number: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            host: host.into(),
            port: 5060,
            number: number.into(),
            simultaneous_calls: 8,
            registered: true,
        }
    }
}

/// The unit in which a PBX reports a token's `expires_in`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpiresInUnit {
    /// Seconds, as OAuth says and 3CX does since 20.0.9.
    #[default]
    Seconds,
    /// Whole minutes, rounded up, as 3CX up to 20.0.8 did (`60` meaning one hour).
    Minutes,
}

/// What is wrong with a PBX. [`Faults::default`] is a healthy PBX.
///
/// Faults can be set when a PBX is added and changed while it runs
/// ([`crate::Simulator::set_faults`], or `PUT /_sim/pbxs/{name}/faults`). In the control API's
/// JSON the fields keep these names, except the durations: `latency_ms` (`[min, max]`),
/// `slow_ms` and `token_lifetime_ms`, in milliseconds. Missing JSON fields take their defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// A delay drawn uniformly from `min..=max` milliseconds before every answer.
    #[serde(rename = "latency_ms")]
    pub latency: Option<(u64, u64)>,
    /// A fixed extra delay before every answer, added to `latency`.
    #[serde(rename = "slow_ms", with = "millis_opt")]
    pub slow: Option<Duration>,
    /// Accept every request and never answer it (the connection stays open until the client leaves).
    pub hang: bool,
    /// Answer every request, logins included, with `503 Service Unavailable`.
    pub server_error: bool,
    /// Reject every login, however correct: `AuthFailed` for the web client, `401` for
    /// `/connect/token`, a `401` text answer for v18 `/api/login`.
    pub wrong_password: bool,
    /// After a correct web-client password, answer `"Status":"TwoFactorRequired"` with no token.
    pub two_factor_required: bool,
    /// How long issued access tokens (and v18 session cookies) are valid. Default 60 minutes.
    #[serde(rename = "token_lifetime_ms", with = "millis")]
    pub token_lifetime: Duration,
    /// The unit of `expires_in` in token answers; the JWT's `exp` always holds the true expiry.
    pub expires_in_unit: ExpiresInUnit,
    /// Answer `/xapi/*` with `200` and a truncated, unparseable JSON body.
    pub garbage_json: bool,
    /// Answer `GET /xapi/v1/SystemStatus` with a ~20 MB body (a padding field), streamed
    /// without `Content-Length`.
    pub huge_body: bool,
    /// Behave as a 3CX v18: every v20 endpoint is a `404` with an HTML body, `POST /api/login`
    /// and `GET /api/SystemStatus` answer, and no response carries `X-3CX-Version`.
    pub v18_only: bool,
    /// This trunk (by `Gateway.Name`, or by `Number`) is unregistered: `IsOnline` false,
    /// `TrunksRegistered` one less.
    pub trunk_down: Option<String>,
    /// These services (by `Name`) are `Stopped`, and `HasNotRunningServices` is true if any of
    /// them exists. Unknown names change nothing.
    pub services_stopped: Vec<String>,
    /// The two most recent scheduled backups did not happen: the newest backup is 2+ days old,
    /// and `LastBackupDateTime` says the same.
    pub backup_missing: bool,
    /// The disk is 97% used, with little free space.
    pub disk_full: bool,
    /// The licence (and maintenance) expires that many days from now; a negative number means it
    /// expired and `LicenseActive` is false.
    pub licence_expiring_days: Option<i64>,
    /// `CallsActive` equals `MaxSimCalls`, with as many entries in `ActiveCalls`.
    pub calls_at_limit: bool,
    /// Strings planted into every personal-data field the PBX serves (ActiveCalls caller and
    /// callee, Users names, e-mail and mobile, LicenseStatus contacts, trunk external and DID
    /// numbers) and, when non-empty, in an extra `AdminEMail` field of SystemStatus. Each such
    /// field holds all canaries joined by a space; `DidNumbers` holds the canaries themselves.
    pub pii_canaries: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency: None,
            slow: None,
            hang: false,
            server_error: false,
            wrong_password: false,
            two_factor_required: false,
            token_lifetime: Duration::from_secs(60 * 60),
            expires_in_unit: ExpiresInUnit::Seconds,
            garbage_json: false,
            huge_body: false,
            v18_only: false,
            trunk_down: None,
            services_stopped: Vec::new(),
            backup_missing: false,
            disk_full: false,
            licence_expiring_days: None,
            calls_at_limit: false,
            pii_canaries: Vec::new(),
        }
    }
}

/// Everything about one virtual PBX. Build one with [`PbxSpec::healthy`] and the `with_*` methods.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PbxSpec {
    /// The PBX's name: one lowercase DNS label (`a-z`, `0-9`, `-`; 1 to 63 characters). Requests
    /// reach it when the first label of their `Host` is this name (`<name>.localhost:PORT`).
    pub name: String,
    /// The 3CX version, reported in `X-3CX-Version` and `SystemStatus.Version`.
    pub version: String,
    /// The FQDN the PBX reports (`SystemStatus.FQDN`, `@odata.context` URLs, token issuer).
    pub fqdn: String,
    /// The administrator's web-client login, if the PBX has one.
    pub admin: Option<AdminCredentials>,
    /// The API service principal, if the PBX has one.
    pub client: Option<ClientCredentials>,
    /// The PBX's UTC offset in minutes (between -840 and 840), used in all its local dates.
    pub utc_offset_minutes: i32,
    /// The SIP trunks.
    pub trunks: Vec<TrunkSpec>,
    /// `MaxSimCalls` of the licence.
    pub max_sim_calls: u32,
    /// Calls in progress (capped at `max_sim_calls`).
    pub calls_active: u32,
    /// `ExtensionsTotal`.
    pub extensions_total: u32,
    /// `ExtensionsRegistered` (capped at `extensions_total`).
    pub extensions_registered: u32,
    /// Whether the daily 02:00 backup is scheduled. Without it the PBX has no backups and a null
    /// `LastBackupDateTime`.
    pub backups_scheduled: bool,
    /// The faults the PBX starts with.
    pub faults: Faults,
}

impl PbxSpec {
    /// A healthy PBX: version [`DEFAULT_VERSION`], FQDN `<name>.3cx.example`, admin `admin` with
    /// password `pw-<name>`, service principal `sikurd` with secret `secret-<name>`, UTC+01:00,
    /// two registered trunks "Primary SIP" (number 10000) and "Backup SIP" (10001),
    /// 16 simultaneous calls with 2 active, 31 of 45 extensions registered, daily backups.
    pub fn healthy(name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            version: DEFAULT_VERSION.to_owned(),
            fqdn: format!("{name}.3cx.example"),
            admin: Some(AdminCredentials { username: "admin".to_owned(), password: format!("pw-{name}") }),
            client: Some(ClientCredentials { client_id: "sikurd".to_owned(), client_secret: format!("secret-{name}") }),
            utc_offset_minutes: 60,
            trunks: vec![
                TrunkSpec::provider("Primary SIP", "sip.primary-carrier.example", "10000"),
                TrunkSpec::provider("Backup SIP", "sip.backup-carrier.example", "10001"),
            ],
            max_sim_calls: 16,
            calls_active: 2,
            extensions_total: 45,
            extensions_registered: 31,
            backups_scheduled: true,
            faults: Faults::default(),
            name,
        }
    }

    /// Replaces the version.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Replaces the administrator login.
    pub fn with_admin(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.admin = Some(AdminCredentials { username: username.into(), password: password.into() });
        self
    }

    /// Replaces the service principal.
    pub fn with_client(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.client = Some(ClientCredentials { client_id: client_id.into(), client_secret: client_secret.into() });
        self
    }

    /// Removes the administrator login: every web-client login fails.
    pub fn without_admin(mut self) -> Self {
        self.admin = None;
        self
    }

    /// Removes the service principal: every client-credentials request gets `401`.
    pub fn without_client(mut self) -> Self {
        self.client = None;
        self
    }

    /// Replaces the UTC offset (minutes east of UTC).
    pub fn with_utc_offset_minutes(mut self, minutes: i32) -> Self {
        self.utc_offset_minutes = minutes;
        self
    }

    /// Replaces the trunks.
    pub fn with_trunks(mut self, trunks: Vec<TrunkSpec>) -> Self {
        self.trunks = trunks;
        self
    }

    /// Replaces `MaxSimCalls` and the number of active calls.
    pub fn with_calls(mut self, max_sim_calls: u32, calls_active: u32) -> Self {
        self.max_sim_calls = max_sim_calls;
        self.calls_active = calls_active;
        self
    }

    /// Replaces the extension counts.
    pub fn with_extensions(mut self, total: u32, registered: u32) -> Self {
        self.extensions_total = total;
        self.extensions_registered = registered;
        self
    }

    /// Sets whether daily backups are scheduled.
    pub fn with_backups_scheduled(mut self, scheduled: bool) -> Self {
        self.backups_scheduled = scheduled;
        self
    }

    /// Replaces the starting faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let invalid = |reason: &str| Err(SimError::InvalidPbx { name: self.name.clone(), reason: reason.to_owned() });
        if !is_dns_label(&self.name) {
            return invalid("the name must be one lowercase DNS label: a-z, 0-9 and '-', 1 to 63 characters");
        }
        if self.version.is_empty() || !self.version.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid("the version must be non-empty visible ASCII");
        }
        if self.fqdn.is_empty() || !self.fqdn.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
            return invalid("the FQDN must be non-empty and hold only letters, digits, '.' and '-'");
        }
        if !(-840..=840).contains(&self.utc_offset_minutes) {
            return invalid("the UTC offset must be between -840 and 840 minutes");
        }
        Ok(())
    }
}

/// Whether `s` is a lowercase DNS label (RFC 1123), the shape of a PBX name.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

mod millis_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => super::millis::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_lowercase_alphanumerics_and_inner_hyphens() {
        assert!(is_dns_label("pbx-0042"));
        assert!(!is_dns_label("Pbx-0042"));
        assert!(!is_dns_label("-pbx"));
        assert!(!is_dns_label("pbx."));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn faults_json_uses_millisecond_fields_and_defaults_missing_ones() {
        let faults: Faults = serde_json::from_str(r#"{"slow_ms": 250, "latency_ms": [5, 10], "hang": true}"#).unwrap();
        assert_eq!(faults.slow, Some(Duration::from_millis(250)));
        assert_eq!(faults.latency, Some((5, 10)));
        assert!(faults.hang);
        assert_eq!(faults.token_lifetime, Duration::from_secs(3600));
        let back = serde_json::to_value(&faults).unwrap();
        assert_eq!(back["token_lifetime_ms"], 3_600_000);
        assert!(serde_json::from_str::<Faults>(r#"{"no_such_fault": true}"#).is_err());
    }

    #[test]
    fn a_healthy_spec_is_valid_and_bad_ones_are_not() {
        assert!(PbxSpec::healthy("pbx-1").validate().is_ok());
        assert!(PbxSpec::healthy("PBX").validate().is_err());
        assert!(PbxSpec::healthy("pbx-1").with_utc_offset_minutes(900).validate().is_err());
        assert!(PbxSpec::healthy("pbx-1").with_version("20.0 beta").validate().is_err());
    }
}
