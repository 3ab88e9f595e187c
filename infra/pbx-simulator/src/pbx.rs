//! One running virtual PBX: its profile, current faults, sessions, counters and cached bodies.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use axum::http::HeaderValue;
use bytes::Bytes;
use chrono::FixedOffset;
use serde::Serialize;

use crate::SimError;
use crate::spec::{Faults, PbxSpec};
use crate::token::Sessions;

/// How long a serialised document is reused before it is built again.
const CACHE_TTL_MS: u64 = 10_000;
/// Distinct (endpoint, query) bodies kept per PBX.
const CACHE_MAX: usize = 32;

/// The requests a PBX tells apart, for routing and counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    AdminLogin,
    ConnectToken,
    SystemStatus,
    Trunks,
    Services,
    Backups,
    BackupSettings,
    Defs,
    ActiveCalls,
    Users,
    LicenseStatus,
    V18Login,
    V18SystemStatus,
    Other,
}

impl Endpoint {
    const ALL: [Endpoint; 14] = [
        Endpoint::AdminLogin,
        Endpoint::ConnectToken,
        Endpoint::SystemStatus,
        Endpoint::Trunks,
        Endpoint::Services,
        Endpoint::Backups,
        Endpoint::BackupSettings,
        Endpoint::Defs,
        Endpoint::ActiveCalls,
        Endpoint::Users,
        Endpoint::LicenseStatus,
        Endpoint::V18Login,
        Endpoint::V18SystemStatus,
        Endpoint::Other,
    ];

    /// The path this endpoint answers, and the key of its counter in [`PbxStats::requests`].
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::AdminLogin => "/webclient/api/Login/GetAccessToken",
            Endpoint::ConnectToken => "/connect/token",
            Endpoint::SystemStatus => "/xapi/v1/SystemStatus",
            Endpoint::Trunks => "/xapi/v1/Trunks",
            Endpoint::Services => "/xapi/v1/Services",
            Endpoint::Backups => "/xapi/v1/Backups",
            Endpoint::BackupSettings => "/xapi/v1/Backups/Pbx.GetBackupSettings()",
            Endpoint::Defs => "/xapi/v1/Defs",
            Endpoint::ActiveCalls => "/xapi/v1/ActiveCalls",
            Endpoint::Users => "/xapi/v1/Users",
            Endpoint::LicenseStatus => "/xapi/v1/LicenseStatus",
            Endpoint::V18Login => "/api/login",
            Endpoint::V18SystemStatus => "/api/SystemStatus",
            Endpoint::Other => "other",
        }
    }

    /// The endpoint of a (percent-decoded) request path; paths match case-insensitively, like
    /// 3CX's ASP.NET routes, and a trailing `/` is ignored.
    pub(crate) fn classify(path: &str) -> Endpoint {
        let path = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
        Endpoint::ALL
            .into_iter()
            .find(|endpoint| *endpoint != Endpoint::Other && endpoint.path().eq_ignore_ascii_case(path))
            .unwrap_or(Endpoint::Other)
    }

    /// Endpoints that serve personal data; a monitoring client must never call them.
    pub(crate) fn is_pii(self) -> bool {
        matches!(self, Endpoint::ActiveCalls | Endpoint::Users | Endpoint::LicenseStatus)
    }

    /// Endpoints under `/xapi/v1` that need a bearer token.
    pub(crate) fn is_xapi(self) -> bool {
        matches!(
            self,
            Endpoint::SystemStatus
                | Endpoint::Trunks
                | Endpoint::Services
                | Endpoint::Backups
                | Endpoint::BackupSettings
                | Endpoint::Defs
                | Endpoint::ActiveCalls
                | Endpoint::Users
                | Endpoint::LicenseStatus
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one PBX has seen since it was added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PbxStats {
    /// Every request that reached the PBX (answered or not), control API excluded.
    pub requests_total: u64,
    /// Requests by endpoint path (`/connect/token`, `/xapi/v1/SystemStatus`,
    /// `/xapi/v1/Backups/Pbx.GetBackupSettings()`, `/api/login`, ...); paths the PBX does not
    /// serve count under `other`. Only non-zero counts appear.
    pub requests: BTreeMap<String, u64>,
    /// Tokens or sessions issued for a password or client secret (refreshes excluded).
    pub logins: u64,
    /// Login attempts refused (bad credentials, `wrong_password`, `two_factor_required`).
    pub failed_logins: u64,
    /// Access tokens issued for a refresh token.
    pub token_refreshes: u64,
    /// Requests refused with `401` for a missing, unknown or expired token or session.
    pub unauthorized: u64,
    /// Requests to the personal-data endpoints `ActiveCalls`, `Users` and `LicenseStatus`,
    /// whatever the answer.
    pub pii_requests: u64,
}

impl PbxStats {
    /// Requests counted for one path as named in [`PbxStats::requests`] (0 if none).
    pub fn requests_to(&self, path: &str) -> u64 {
        self.requests.get(path).copied().unwrap_or(0)
    }
}

/// The faults in force, with a generation that changes on every update.
pub(crate) struct FaultState {
    pub generation: u64,
    pub faults: Faults,
}

struct Cached {
    generation: u64,
    expires_ms: u64,
    body: Bytes,
}

#[derive(Default)]
struct Counters {
    requests: [AtomicU64; Endpoint::ALL.len()],
    logins: AtomicU64,
    failed_logins: AtomicU64,
    token_refreshes: AtomicU64,
    unauthorized: AtomicU64,
    pii_requests: AtomicU64,
}

/// What a login attempt came to, for the counters.
#[derive(Clone, Copy)]
pub(crate) enum LoginOutcome {
    Issued,
    Refused,
    Refreshed,
}

pub(crate) struct Pbx {
    pub spec: PbxSpec,
    pub offset: FixedOffset,
    pub seed: u64,
    pub version_header: HeaderValue,
    pub issuer: String,
    faults: RwLock<Arc<FaultState>>,
    sessions: Mutex<Sessions>,
    cache: Mutex<HashMap<(Endpoint, Box<str>), Cached>>,
    counters: Counters,
}

impl Pbx {
    pub(crate) fn new(spec: PbxSpec) -> Result<Self, SimError> {
        spec.validate()?;
        let invalid = |reason: &str| SimError::InvalidPbx { name: spec.name.clone(), reason: reason.to_owned() };
        let offset = FixedOffset::east_opt(spec.utc_offset_minutes * 60).ok_or_else(|| invalid("bad UTC offset"))?;
        let version_header = HeaderValue::from_str(&spec.version).map_err(|_| invalid("bad version"))?;
        let faults = FaultState { generation: 0, faults: spec.faults.clone() };
        Ok(Self {
            offset,
            seed: seed_of(&spec.name),
            version_header,
            issuer: format!("https://{}", spec.fqdn),
            faults: RwLock::new(Arc::new(faults)),
            sessions: Mutex::new(Sessions::default()),
            cache: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            spec,
        })
    }

    pub(crate) fn faults(&self) -> Arc<FaultState> {
        Arc::clone(&self.faults.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn set_faults(&self, faults: Faults) {
        let mut current = self.faults.write().unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(FaultState { generation: current.generation + 1, faults });
    }

    /// The spec as it stands now: the profile with the faults in force.
    pub(crate) fn current_spec(&self) -> PbxSpec {
        PbxSpec { faults: self.faults().faults.clone(), ..self.spec.clone() }
    }

    pub(crate) fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn count_request(&self, endpoint: Endpoint) {
        self.counters.requests[endpoint.index()].fetch_add(1, Ordering::Relaxed);
        if endpoint.is_pii() {
            self.counters.pii_requests.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_login(&self, outcome: LoginOutcome) {
        let counter = match outcome {
            LoginOutcome::Issued => &self.counters.logins,
            LoginOutcome::Refused => &self.counters.failed_logins,
            LoginOutcome::Refreshed => &self.counters.token_refreshes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_unauthorized(&self) {
        self.counters.unauthorized.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> PbxStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let requests: BTreeMap<String, u64> = Endpoint::ALL
            .into_iter()
            .map(|endpoint| (endpoint.path().to_owned(), load(&self.counters.requests[endpoint.index()])))
            .filter(|(_, count)| *count > 0)
            .collect();
        PbxStats {
            requests_total: requests.values().sum(),
            requests,
            logins: load(&self.counters.logins),
            failed_logins: load(&self.counters.failed_logins),
            token_refreshes: load(&self.counters.token_refreshes),
            unauthorized: load(&self.counters.unauthorized),
            pii_requests: load(&self.counters.pii_requests),
        }
    }

    /// The body for `(endpoint, query)` under fault generation `generation`: reused while younger
    /// than the cache lifetime, otherwise built by `build` and kept.
    pub(crate) fn cached<E>(
        &self,
        endpoint: Endpoint,
        query: &str,
        generation: u64,
        now_ms: u64,
        build: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let key = (endpoint, Box::<str>::from(query));
        if let Some(hit) = self.cache().get(&key)
            && hit.generation == generation
            && hit.expires_ms > now_ms
        {
            return Ok(hit.body.clone());
        }
        let body = build()?;
        let mut cache = self.cache();
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(key, Cached { generation, expires_ms: now_ms + CACHE_TTL_MS, body: body.clone() });
        Ok(body)
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<(Endpoint, Box<str>), Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stable 64-bit seed from a name (FNV-1a), so each PBX's made-up figures stay the same.
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_classify_case_insensitively() {
        assert_eq!(Endpoint::classify("/xapi/v1/SystemStatus"), Endpoint::SystemStatus);
        assert_eq!(Endpoint::classify("/xapi/v1/systemstatus/"), Endpoint::SystemStatus);
        assert_eq!(Endpoint::classify("/xapi/v1/Backups/Pbx.GetBackupSettings()"), Endpoint::BackupSettings);
        assert_eq!(Endpoint::classify("/api/SystemStatus"), Endpoint::V18SystemStatus);
        assert_eq!(Endpoint::classify("/xapi/v1/Nope"), Endpoint::Other);
        assert_eq!(Endpoint::classify("other"), Endpoint::Other);
        assert_eq!(Endpoint::classify("/"), Endpoint::Other);
    }

    #[test]
    fn endpoint_indices_match_their_place_in_all() {
        for (i, endpoint) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(endpoint.index(), i);
        }
    }

    #[test]
    fn cached_bodies_are_rebuilt_after_a_fault_change_or_expiry() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let build = |text: &'static str| move || Ok::<_, ()>(Bytes::from_static(text.as_bytes()));
        assert_eq!(pbx.cached(Endpoint::Trunks, "", 0, 0, build("a")).unwrap(), "a");
        assert_eq!(pbx.cached(Endpoint::Trunks, "", 0, 1, build("b")).unwrap(), "a");
        assert_eq!(pbx.cached(Endpoint::Trunks, "$top=1", 0, 1, build("c")).unwrap(), "c");
        assert_eq!(pbx.cached(Endpoint::Trunks, "", 1, 1, build("d")).unwrap(), "d");
        assert_eq!(pbx.cached(Endpoint::Trunks, "", 1, CACHE_TTL_MS + 1, build("e")).unwrap(), "e");
    }

    #[test]
    fn stats_count_requests_by_path_and_pii_separately() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        pbx.count_request(Endpoint::SystemStatus);
        pbx.count_request(Endpoint::Users);
        pbx.count_request(Endpoint::Other);
        let stats = pbx.stats();
        assert_eq!(stats.requests_total, 3);
        assert_eq!(stats.requests_to("/xapi/v1/SystemStatus"), 1);
        assert_eq!(stats.requests_to("other"), 1);
        assert_eq!(stats.pii_requests, 1);
        assert!(!stats.requests.contains_key("/xapi/v1/Trunks"));
    }
}
