use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveTime, Utc, Weekday};
use reqwest::{Method, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::target::{TargetPolicy, resolver};
use super::token::{CachedToken, TokenCache, lifetime, renew_at};
use super::wire;
use super::{BackupFile, BackupSchedule, IssuedToken, Known, PbxReading, PollFailure, PollReport};
use crate::domain::{InstanceId, LicenceInfo, PbxAddress, PbxCredentials, PbxVersion, Scheme, TrunkState};

/// How long an idle connection to a 3CX is kept: long enough for the back-to-back requests of one
/// poll (the next starts microseconds after the last answer), not until the next minute, so a
/// process sweeping thousands of 3CX systems holds sockets and TLS and HTTP buffers only for the
/// polls in flight. hyper closes idle connections between one and two of these after last use.
const KEEP_ALIVE: Duration = Duration::from_millis(500);

/// Limits and trust settings of the 3CX client.
#[derive(Clone, Debug)]
pub struct PbxClientConfig {
    pub policy: TargetPolicy,
    pub connect_timeout: Duration,
    /// Limit for each HTTP request.
    pub request_timeout: Duration,
    /// Limit for a whole poll (login and all reads).
    pub poll_deadline: Duration,
    /// Larger answers are refused.
    pub max_body_bytes: usize,
    /// Extra trusted CA certificates (PEM), for simulators and lab systems in the local stack.
    pub extra_root_certificates: Vec<String>,
}

impl PbxClientConfig {
    pub fn cloud() -> Self {
        Self {
            policy: TargetPolicy::PublicOnly,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            poll_deadline: Duration::from_secs(25),
            max_body_bytes: 2 * 1024 * 1024,
            extra_root_certificates: Vec::new(),
        }
    }

    pub fn local() -> Self {
        Self { policy: TargetPolicy::AllowPrivate, ..Self::cloud() }
    }
}

/// A failed HTTP exchange, before it is judged as a poll failure.
#[derive(Debug)]
enum Fetch {
    Unauthorized,
    Forbidden,
    NotFound,
    Status(StatusCode),
    Transport(String),
    TooLarge,
    Garbage,
}

impl Fetch {
    fn from_reqwest(e: &reqwest::Error) -> Self {
        if e.is_timeout() {
            return Self::Transport("timed out".into());
        }
        let mut root: &dyn std::error::Error = e;
        while let Some(next) = root.source() {
            root = next;
        }
        let what = if e.is_connect() { "could not connect" } else { "request failed" };
        Self::Transport(format!("{what}: {root}"))
    }

    fn into_failure(self, what: &str) -> PollFailure {
        match self {
            Self::Unauthorized => PollFailure::LoginFailed("the 3CX refused a fresh access token".into()),
            Self::Forbidden => PollFailure::LoginFailed(format!("the 3CX account may not read {what}")),
            Self::NotFound => PollFailure::Unsupported(format!("no v20 API: {what} not found (v18 or older?)")),
            Self::Status(code) => PollFailure::Unreachable(format!("{what}: HTTP {}", code.as_u16())),
            Self::Transport(why) => PollFailure::Unreachable(why),
            Self::TooLarge => PollFailure::Unreachable(format!("{what}: answer too large")),
            Self::Garbage => PollFailure::Unreachable(format!("{what}: unreadable answer")),
        }
    }
}

/// Polls 3CX systems. One client serves a whole process; it keeps each instance's token until
/// shortly before it expires.
pub struct PbxClient {
    http: reqwest::Client,
    config: PbxClientConfig,
    tokens: TokenCache,
    logins: AtomicU64,
}

impl std::fmt::Debug for PbxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbxClient").field("config", &self.config).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the 3CX client: {0}")]
pub struct ClientBuildError(String);

impl PbxClient {
    pub fn new(config: PbxClientConfig) -> Result<Self, ClientBuildError> {
        let mut builder = reqwest::Client::builder()
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .https_only(config.policy == TargetPolicy::PublicOnly)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(KEEP_ALIVE)
            .pool_max_idle_per_host(1)
            .user_agent(concat!("Sikurd/", env!("CARGO_PKG_VERSION"), " (3CX monitoring)"))
            .dns_resolver(resolver(config.policy));
        for pem in &config.extra_root_certificates {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| ClientBuildError(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| ClientBuildError(e.to_string()))?;
        Ok(Self { http, config, tokens: TokenCache::default(), logins: AtomicU64::new(0) })
    }

    /// Logins performed since the client was made.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Polls one 3CX within the poll deadline, reading what `known` does not cover. Never fails
    /// as a call: every failure is a [`PollFailure`] in the report.
    pub async fn poll(
        &self,
        instance: &InstanceId,
        address: &PbxAddress,
        credentials: &PbxCredentials,
        known: &Known,
    ) -> PollReport {
        let started = Instant::now();
        let mut issued_token = None;
        let result = match tokio::time::timeout(
            self.config.poll_deadline,
            self.poll_inner(instance, address, credentials, known, &mut issued_token),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(PollFailure::Unreachable(format!(
                "timed out: no complete answer within {} s",
                self.config.poll_deadline.as_secs()
            ))),
        };
        PollReport { result, latency: started.elapsed(), issued_token }
    }

    async fn poll_inner(
        &self,
        instance: &InstanceId,
        address: &PbxAddress,
        credentials: &PbxCredentials,
        known: &Known,
        issued: &mut Option<IssuedToken>,
    ) -> Result<PbxReading, PollFailure> {
        self.check_target(address)?;
        let fingerprint = fingerprint(address, credentials);
        let cached = self.tokens.get(instance, &fingerprint, Instant::now()).or_else(|| known.token.clone());
        let from_cache = cached.is_some();
        let token = match cached {
            Some(t) => t,
            None => self.login(instance, address, credentials, fingerprint, issued).await?,
        };
        match self.read_all(address, &token, known).await {
            Err(Fetch::Unauthorized) if from_cache => {
                self.tokens.forget(instance);
                let token = self.login(instance, address, credentials, fingerprint, issued).await?;
                self.read_all(address, &token, known).await.map_err(|e| e.into_failure("SystemStatus"))
            }
            other => other.map_err(|e| e.into_failure("SystemStatus")),
        }
        .and_then(check_version)
    }

    fn check_target(&self, address: &PbxAddress) -> Result<(), PollFailure> {
        if self.config.policy == TargetPolicy::AllowPrivate {
            return Ok(());
        }
        if address.scheme != Scheme::Https {
            return Err(PollFailure::Unreachable("only https:// addresses are polled".into()));
        }
        if let Ok(ip) = address.host.as_str().parse::<std::net::IpAddr>()
            && !super::is_public(ip)
        {
            return Err(PollFailure::Unreachable("the address is private or reserved".into()));
        }
        Ok(())
    }

    async fn login(
        &self,
        instance: &InstanceId,
        address: &PbxAddress,
        credentials: &PbxCredentials,
        fingerprint: [u8; 32],
        issued: &mut Option<IssuedToken>,
    ) -> Result<SecretString, PollFailure> {
        self.logins.fetch_add(1, Ordering::Relaxed);
        let base = address.base_url();
        let (what, request) = match credentials {
            PbxCredentials::Admin { username, password } => {
                let body = serde_json::json!({
                    "Username": username,
                    "Password": password.expose_secret(),
                    "SecurityCode": "",
                });
                let request = self
                    .http
                    .post(format!("{base}/webclient/api/Login/GetAccessToken"))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string());
                ("login", request)
            }
            PbxCredentials::ClientCredentials { client_id, client_secret } => {
                let form = [
                    ("client_id", client_id.as_str()),
                    ("client_secret", client_secret.expose_secret()),
                    ("grant_type", "client_credentials"),
                ];
                ("token request", self.http.post(format!("{base}/connect/token")).form(&form))
            }
        };
        let response = request.send().await.map_err(|e| Fetch::from_reqwest(&e).into_failure(what))?;
        let status = response.status();
        let refused = || PollFailure::LoginFailed("the 3CX refused the credentials".into());
        match status {
            StatusCode::NOT_FOUND => {
                return Err(PollFailure::Unsupported("no v20 login endpoint (v18 or older?)".into()));
            }
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => return Err(refused()),
            s if !s.is_success() => return Err(Fetch::Status(s).into_failure(what)),
            _ => {}
        }
        let body = self.read_body(response).await.map_err(|e| e.into_failure(what))?;
        let token = match credentials {
            PbxCredentials::Admin { .. } => {
                let login: wire::UserLogin =
                    serde_json::from_slice(&body).map_err(|_| Fetch::Garbage.into_failure(what))?;
                let asked_second_factor = login.two_factor_auth.as_ref().is_some_and(|v| !v.is_null())
                    || login.status.as_deref().is_some_and(|s| s.to_ascii_lowercase().contains("two"));
                match (login.status.as_deref(), login.token) {
                    (Some("AuthSuccess"), Some(token)) => token,
                    _ if asked_second_factor => {
                        return Err(PollFailure::LoginFailed("the 3CX asks for a second factor (2FA)".into()));
                    }
                    _ => return Err(refused()),
                }
            }
            PbxCredentials::ClientCredentials { .. } => {
                serde_json::from_slice::<wire::TokenResponse>(&body).map_err(|_| Fetch::Garbage.into_failure(what))?
            }
        };
        let now = Instant::now();
        let life = lifetime(&token.access_token, token.expires_in);
        let secret = SecretString::from(token.access_token);
        let renew = renew_at(now, life);
        self.tokens.put(instance, CachedToken { token: secret.clone(), renew_at: renew, credentials: fingerprint });
        *issued = chrono::Duration::from_std(renew - now)
            .ok()
            .map(|left| IssuedToken { token: secret.clone(), renew_at: chrono::Utc::now() + left });
        Ok(secret)
    }

    async fn read_all(&self, address: &PbxAddress, token: &SecretString, known: &Known) -> Result<PbxReading, Fetch> {
        // One after another over one kept-alive connection, and only what may have changed: gentle
        // on the 3CX, and one socket per instance however large the fleet.
        let status = self.get_json::<wire::SystemStatus>(address, token, "/xapi/v1/SystemStatus").await?;
        let trunks = if known.trunks_unchanged(status.trunks_registered, status.trunks_total) {
            None
        } else {
            optional(self.get_json(address, token, "/xapi/v1/Trunks?$select=Id,Number,IsOnline,Gateway").await)?
        };
        let services = if known.services_unchanged(status.has_not_running_services) {
            Some(wire::Collection::empty())
        } else {
            optional(self.get_json(address, token, "/xapi/v1/Services?$select=Name,Status").await)?
        };
        let backups = if known.backups_unchanged(utc(status.last_backup_date_time)) {
            None
        } else {
            optional(
                self.get_json(
                    address,
                    token,
                    "/xapi/v1/Backups?$select=FileName,CreationTime,Size&$orderby=CreationTime%20desc&$top=20",
                )
                .await,
            )?
        };
        let schedule = match status.backup_scheduled {
            Some(false) => Some(BackupSchedule::Disabled),
            _ if known.full => optional(
                self.get_json::<wire::BackupSettings>(address, token, "/xapi/v1/Backups/Pbx.GetBackupSettings()").await,
            )?
            .as_ref()
            .and_then(schedule),
            _ => None,
        };
        Ok(reading(status, trunks, known, services, backups, schedule))
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        address: &PbxAddress,
        token: &SecretString,
        path: &str,
    ) -> Result<T, Fetch> {
        let response = self
            .http
            .request(Method::GET, format!("{}{path}", address.base_url()))
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Fetch::from_reqwest(&e))?;
        match response.status() {
            StatusCode::UNAUTHORIZED => return Err(Fetch::Unauthorized),
            StatusCode::FORBIDDEN => return Err(Fetch::Forbidden),
            StatusCode::NOT_FOUND => return Err(Fetch::NotFound),
            s if !s.is_success() => return Err(Fetch::Status(s)),
            _ => {}
        }
        let body = self.read_body(response).await?;
        serde_json::from_slice(&body).map_err(|_| Fetch::Garbage)
    }

    async fn read_body(&self, mut response: Response) -> Result<Vec<u8>, Fetch> {
        let max = self.config.max_body_bytes;
        if response.content_length().is_some_and(|len| len > max as u64) {
            return Err(Fetch::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| Fetch::from_reqwest(&e))? {
            if body.len() + chunk.len() > max {
                return Err(Fetch::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The collections are secondary: a 3CX that lacks one (older build, narrower role) still gets
/// its status recorded. A refused token is not secondary.
fn optional<T>(result: Result<T, Fetch>) -> Result<Option<T>, Fetch> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(Fetch::Unauthorized) => Err(Fetch::Unauthorized),
        Err(_) => Ok(None),
    }
}

/// Identifies the credentials and address a token was obtained for, without keeping them.
fn fingerprint(address: &PbxAddress, credentials: &PbxCredentials) -> [u8; 32] {
    Sha256::new()
        .chain_update(address.base_url())
        .chain_update([0])
        .chain_update(&*credentials.to_plaintext())
        .finalize()
        .into()
}

fn check_version(reading: PbxReading) -> Result<PbxReading, PollFailure> {
    match &reading.version {
        Some(v) if v.major() < 20 => {
            Err(PollFailure::Unsupported(format!("3CX {} is not supported (v20 needed)", v.as_str())))
        }
        _ => Ok(reading),
    }
}

fn count(v: Option<i64>) -> Option<u32> {
    v.and_then(|n| u32::try_from(n).ok())
}

fn utc(d: Option<DateTime<FixedOffset>>) -> Option<DateTime<Utc>> {
    d.map(|d| d.with_timezone(&Utc))
}

fn schedule(settings: &wire::BackupSettings) -> Option<BackupSchedule> {
    if settings.schedule_enabled == Some(false) {
        return Some(BackupSchedule::Disabled);
    }
    let s = settings.schedule.as_ref()?;
    let at = s.time.as_deref().and_then(|t| NaiveTime::parse_from_str(t, "%H:%M:%S").ok());
    let kind = s.schedule_type.as_deref()?;
    Some(match (kind, at) {
        ("Daily", Some(at)) => BackupSchedule::Daily { at },
        ("Weekly", Some(at)) => match s.day.as_deref().and_then(|d| d.parse::<Weekday>().ok()) {
            Some(day) => BackupSchedule::Weekly { day, at },
            None => BackupSchedule::Other(kind.to_owned()),
        },
        (other, _) => BackupSchedule::Other(other.chars().filter(char::is_ascii_alphanumeric).take(32).collect()),
    })
}

fn reading(
    status: wire::SystemStatus,
    trunks: Option<wire::Collection<wire::Trunk>>,
    known: &Known,
    services: Option<wire::Collection<wire::Service>>,
    backups: Option<wire::Collection<wire::Backup>>,
    backup_schedule: Option<BackupSchedule>,
) -> PbxReading {
    let utc_offset = status
        .last_backup_date_time
        .or(status.expiration_date)
        .map(|d| *d.offset())
        .filter(|_| status.last_backup_date_time.is_some());
    let backups = backups.map(|c| {
        let mut files: Vec<BackupFile> = c
            .into_items()
            .filter_map(|b| {
                Some(BackupFile {
                    created_at: b.creation_time?.with_timezone(&Utc),
                    size_bytes: b.size.and_then(|s| u64::try_from(s).ok()),
                    name: b.file_name,
                })
            })
            .collect();
        files.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        files
    });
    PbxReading {
        version: status.version.as_deref().and_then(|v| PbxVersion::parse(v).ok()),
        licence: LicenceInfo {
            product_code: status.product_code.filter(|p| p.len() <= 64),
            active: status.license_active,
            expires_at: utc(status.expiration_date),
            maintenance_expires_at: utc(status.maintenance_expires_at),
            max_sim_calls: count(status.max_sim_calls),
        },
        calls_active: count(status.calls_active),
        extensions_registered: count(status.extensions_registered),
        extensions_total: count(status.extensions_total),
        trunks_registered: count(status.trunks_registered),
        trunks_total: count(status.trunks_total),
        disk_usage_percent: status.disk_usage.and_then(|d| u8::try_from(d.clamp(0, 100)).ok()),
        trunks: trunks
            .map(|c| {
                c.into_items()
                    .map(|t| TrunkState {
                        name: t
                            .gateway
                            .and_then(|g| g.name)
                            .or(t.number)
                            .or(t.id.map(|id| format!("trunk {id}")))
                            .unwrap_or_else(|| "unnamed trunk".into()),
                        online: t.is_online.unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_else(|| known.trunks.clone()),
        services_not_running: services
            .map(|c| c.into_items().filter(|s| s.status.as_deref() != Some("Running")).map(|s| s.name).collect())
            .unwrap_or_default(),
        backups,
        backup_schedule,
        last_backup_at: utc(status.last_backup_date_time),
        utc_offset,
    }
}
