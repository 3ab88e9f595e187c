//! Many virtual 3CX phone systems served from one process, with faults on demand.
//!
//! One [`Simulator`] listens on one socket and hosts any number of PBXs. A request reaches the
//! PBX named by the **first DNS label of its `Host`**: `pbx-0042.localhost:PORT` is PBX
//! `pbx-0042` (clients resolve `*.localhost` to 127.0.0.1). An unknown name gets `404`.
//!
//! # What a PBX serves (3CX v20)
//! - `POST /webclient/api/Login/GetAccessToken` (admin login) and `POST /connect/token`
//!   (`client_credentials`, or `refresh_token`), issuing JWT-shaped tokens whose `exp` is the
//!   true expiry.
//! - With `Authorization: Bearer <token>`: `GET /xapi/v1/SystemStatus`, `/Trunks`, `/Services`,
//!   `/Backups` (honours `$orderby`, `$top`, `$skip`, `$count`), `/Backups/Pbx.GetBackupSettings()`,
//!   `/Defs?$select=Id`; and the personal-data endpoints `/ActiveCalls`, `/Users`,
//!   `/LicenseStatus`, which a monitoring client must never call ([`PbxStats::pii_requests`]).
//!   Other query options are accepted and ignored. A missing, unknown or expired token gets `401`
//!   with an empty body; an unknown path `404` with an OData error body.
//! - Every response of a v20 PBX carries `X-3CX-Version`.
//! - Backups: one a day at 02:00 PBX-local (a few minutes after), the last seven, computed from
//!   the wall clock.
//!
//! A PBX with [`Faults::v18_only`] serves `POST /api/login` and `GET /api/SystemStatus` instead.
//!
//! # Control API
//! On the same socket, under the path prefix `/_sim/` and whatever the host (for example
//! `http://127.0.0.1:PORT/_sim/pbxs`), JSON in and out:
//!
//! | request | does |
//! | --- | --- |
//! | `GET /_sim/pbxs` | `{"pbxs":[names...]}` |
//! | `POST /_sim/pbxs` | adds or replaces a PBX: `{"name":..., "version"?, "fqdn"?, "admin"?: {"username","password"}, "client"?: {"client_id","client_secret"}, "utc_offset_minutes"?, "trunks"?, "max_sim_calls"?, "calls_active"?, "extensions_total"?, "extensions_registered"?, "backups_scheduled"?, "faults"?}`, omitted fields as in [`PbxSpec::healthy`]; `201 {"name","base_url"}` |
//! | `GET /_sim/pbxs/{name}` | the spec with the faults in force |
//! | `DELETE /_sim/pbxs/{name}` | removes it, `204` |
//! | `GET`/`PUT /_sim/pbxs/{name}/faults` | reads or replaces the [`Faults`] (JSON as documented there), `PUT` answers `204` |
//! | `GET /_sim/pbxs/{name}/stats` | the [`PbxStats`] |
//! | `POST /_sim/fleet` | `{"prefix","count","faulty_fraction"?,"latency_ms"?:[min,max]}` as [`Simulator::add_fleet`]; `201 {"names":[...]}` |
//! | `GET /_sim/ca.pem` | the CA certificate (TLS only) |
//!
//! Bad input gets `400` (or `422` for JSON of the wrong shape) and an unknown PBX `404`, each with
//! `{"error": ...}` or a text body.

mod fleet;
mod http;
mod model;
mod odata;
mod pbx;
mod registry;
mod server;
mod spec;
mod time;
mod tls;
mod token;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use pbx::PbxStats;
pub use spec::{AdminCredentials, ClientCredentials, DEFAULT_VERSION, ExpiresInUnit, Faults, PbxSpec, TrunkSpec};

use crate::http::{AppState, Site};
use crate::registry::Registry;

/// Where and how the simulator listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// The address to bind; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Serve HTTPS with a certificate from a CA made at start ([`Simulator::ca_pem`]).
    pub tls: bool,
}

impl Default for SimConfig {
    /// Plain HTTP on a free port of 127.0.0.1.
    fn default() -> Self {
        Self { listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0), tls: false }
    }
}

impl SimConfig {
    /// HTTPS on a free port of 127.0.0.1.
    pub fn tls() -> Self {
        Self { tls: true, ..Self::default() }
    }
}

/// Why the simulator could not start or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CA or server certificate could not be made.
    #[error("could not make a certificate")]
    Certificate(#[from] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("could not configure TLS")]
    Tls(#[from] tokio_rustls::rustls::Error),
    /// A PBX spec is invalid (the reason says why).
    #[error("PBX '{name}' is invalid: {reason}")]
    InvalidPbx {
        /// The name given.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A fleet request is invalid.
    #[error("invalid fleet: {0}")]
    InvalidFleet(String),
    /// No PBX has this name.
    #[error("no PBX named '{0}'")]
    UnknownPbx(String),
}

/// A running simulator. Dropping it (or [`Simulator::shutdown`]) stops the server and closes
/// every connection.
pub struct Simulator {
    addr: SocketAddr,
    state: AppState,
    stop: watch::Sender<()>,
    task: JoinHandle<()>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator").field("url", &self.url()).finish_non_exhaustive()
    }
}

impl Simulator {
    /// Binds `config.listen` and serves on the current tokio runtime. With `config.tls`, makes a
    /// CA and serves HTTPS (TLS 1.2 and 1.3, HTTP/1.1) with certificates it signs for `localhost`,
    /// every `<label>.localhost`, `127.0.0.1` and `::1`. Starts with no PBXs.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let bind_error = |source| SimError::Bind { addr: config.listen, source };
        let tls = if config.tls { Some(tls::make()?) } else { None };
        let listener = TcpListener::bind(config.listen).await.map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let site = Site {
            scheme: if config.tls { "https" } else { "http" },
            port: addr.port(),
            ca_pem: tls.as_ref().map(|tls| tls.ca_pem.clone()),
        };
        let state = AppState { registry: Arc::new(Registry::default()), site: Arc::new(site) };
        let (stop, stopped) = watch::channel(());
        let app = http::app(state.clone());
        let task = tokio::spawn(server::serve(listener, tls.map(|tls| tls.config), app, stopped));
        Ok(Simulator { addr, state, stop, task })
    }

    /// The address the server listens on (with the port picked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.state.site.scheme
    }

    /// The base URL of a PBX: `<scheme>://<name>.localhost:<port>` (no trailing slash). Whether
    /// the PBX exists is not checked.
    pub fn base_url_for(&self, name: &str) -> String {
        self.state.site.base_url_for(name)
    }

    /// The server's own URL, `<scheme>://<address>` (no trailing slash), with 127.0.0.1 in
    /// place of an unspecified listening address: `http://127.0.0.1:PORT` by default.
    pub fn url(&self) -> String {
        let addr = if self.addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.addr.port())
        } else {
            self.addr
        };
        format!("{}://{addr}", self.scheme())
    }

    /// The control API's base URL: [`Simulator::url`] followed by `/_sim`.
    pub fn control_url(&self) -> String {
        format!("{}/_sim", self.url())
    }

    /// The PEM of the CA that signs the server's certificates, if TLS is on. Clients trust it
    /// (for example with `reqwest::Certificate::from_pem`) and keep verifying certificates.
    pub fn ca_pem(&self) -> Option<String> {
        self.state.site.ca_pem.clone()
    }

    /// Adds a PBX, or replaces the one of the same name (its counters and tokens start afresh).
    /// Fails if the spec is invalid (see [`PbxSpec`]'s fields).
    pub fn add_pbx(&self, spec: PbxSpec) -> Result<(), SimError> {
        self.state.registry.insert(vec![spec])
    }

    /// Removes a PBX; false if there was none of that name.
    pub fn remove_pbx(&self, name: &str) -> bool {
        self.state.registry.remove(name)
    }

    /// The names of all PBXs, sorted.
    pub fn pbx_names(&self) -> Vec<String> {
        self.state.registry.names()
    }

    /// Replaces a PBX's faults; requests that arrive afterwards see them. Tokens already issued
    /// keep their expiry.
    pub fn set_faults(&self, name: &str, faults: Faults) -> Result<(), SimError> {
        let pbx = self.state.registry.get(name).ok_or_else(|| SimError::UnknownPbx(name.to_owned()))?;
        pbx.set_faults(faults);
        Ok(())
    }

    /// The faults in force on a PBX.
    pub fn faults(&self, name: &str) -> Option<Faults> {
        self.state.registry.get(name).map(|pbx| pbx.faults().faults.clone())
    }

    /// What a PBX has seen since it was added.
    pub fn stats(&self, name: &str) -> Option<PbxStats> {
        self.state.registry.get(name).map(|pbx| pbx.stats())
    }

    /// Adds `count` PBXs named `<prefix>-00001`, `<prefix>-00002`, ... (index padded to five
    /// digits), each [`PbxSpec::healthy`] (admin `admin` / `pw-<name>`, client `sikurd` /
    /// `secret-<name>`) with `latency` (`(min_ms, max_ms)`) on every one. A fraction
    /// `faulty_fraction` (0 to 1) of them, spread evenly (with 0.25, the 4th, 8th, ...), also get
    /// one fault each, in this rotation: trunk "Primary SIP" down; service `3CXQueueManager01`
    /// stopped; backup missing; disk full; licence expiring in 10 days; calls at the limit;
    /// `503` on everything; 2 s slow; wrong password; 30 s tokens; `expires_in` in minutes;
    /// garbage JSON; hang; v18 only; two-factor required; PII canary `PII-CANARY-<name>`.
    /// [`Simulator::faults`] tells which one a PBX got. Returns the names, in order; replaces
    /// PBXs of the same names.
    pub fn add_fleet(
        &self,
        prefix: &str,
        count: usize,
        faulty_fraction: f64,
        latency: Option<(u64, u64)>,
    ) -> Result<Vec<String>, SimError> {
        let specs = fleet::fleet_specs(prefix, count, faulty_fraction, latency)?;
        let names = specs.iter().map(|spec| spec.name.clone()).collect();
        self.state.registry.insert(specs)?;
        Ok(names)
    }

    /// Stops accepting, closes every connection and waits for the server task to end.
    pub async fn shutdown(self) {
        let Simulator { stop, task, .. } = self;
        let _ = stop.send(());
        if let Err(error) = task.await {
            tracing::warn!(%error, "the server task failed");
        }
    }
}
