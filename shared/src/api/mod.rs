//! The HTTP API: one axum router, the same behind API Gateway (inside `lambda_http`) and in
//! the local stack. Built for the browser dashboard: a session cookie plus a CSRF header,
//! JSON in and out, one error shape (`{"error": {"code", "message"}}`), security headers on
//! every response, and an OpenAPI document generated from the handlers themselves
//! (`GET /api/v1/openapi.json`), so routes and document cannot drift apart.
//!
//! Every route but sign-up, login, the document and `/healthz` needs a session, and sees only
//! the session's tenant: another tenant's id is "not found". Roles are checked on the server,
//! per route (see each handler and `docs/api.md`).

pub mod accounts;
pub mod alert_settings;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod error;
pub mod export;
pub mod extract;
pub mod instances;
pub mod metrics;
pub mod openapi;
pub mod reports;
pub mod users;
pub mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock::Clock;
use crate::config::ApiConfig;
use crate::domain::{Instance, InstanceId, MetricSnapshot, TenantId};
use crate::polling::{InstancePolled, PollTarget, Poller};
use crate::store::{Store, StoreError};

pub use error::ApiError;
pub use extract::{ClientAddr, SourceIp};

/// The largest request body accepted (413 beyond).
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// The `Content-Security-Policy` of every response: same-origin only, never framed.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'";

/// Polls one instance on demand (the API's "poll now"). [`Poller`] is the real one; tests may
/// use a fake.
#[async_trait]
pub trait PollNow: Send + Sync {
    /// Polls and records the instance for the current slot; `None` if it does not exist or is
    /// deleted.
    async fn poll_now(&self, target: &PollTarget, now: DateTime<Utc>) -> Result<Option<InstancePolled>, StoreError>;
}

#[async_trait]
impl PollNow for Poller {
    async fn poll_now(&self, target: &PollTarget, now: DateTime<Utc>) -> Result<Option<InstancePolled>, StoreError> {
        Poller::poll_now(self, target, now).await
    }
}

/// What every handler shares: the repositories, the clock, the settings and the poller.
#[derive(Clone)]
pub struct ApiState(Arc<Inner>);

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: ApiConfig,
    poller: Arc<dyn PollNow>,
    /// A bcrypt hash of nothing at the configured cost, for logins of unknown addresses.
    dummy_hash: OnceCell<String>,
    fleets: std::sync::Mutex<FleetCopies>,
    /// Held while a fleet copy is read, so that requests arriving meanwhile share that read.
    fleet_reads: [tokio::sync::Mutex<()>; FLEET_READ_LOCKS],
    latest: std::sync::Mutex<LatestSnapshots>,
    /// Sends test notifications to channels; none where nothing can send.
    dispatcher: std::sync::OnceLock<crate::alerts::Dispatcher>,
    /// Announces confirmed tenant deletions, so they are carried out at once; without it the
    /// nightly run does.
    events: std::sync::OnceLock<Arc<dyn crate::events::EventPublisher>>,
}

/// Each instance's latest snapshot as last read (none if it has none yet), and when it was read.
/// One of the current poll slot is kept until the slot ends: no newer one can be written before.
type LatestSnapshots = HashMap<(TenantId, InstanceId), (Option<MetricSnapshot>, DateTime<Utc>)>;

/// An instance's latest snapshot older than the current slot is read again after this long, since
/// the slot's own may have been written meanwhile.
const SNAPSHOT_RECHECK: chrono::Duration = chrono::Duration::seconds(2);

/// Snapshots kept in memory; beyond that the copies are dropped and read again.
const CACHED_SNAPSHOTS: usize = 100_000;

/// Each tenant's instances as last read, with the fleet revision they were read at and when the
/// read began.
type FleetCopies = HashMap<TenantId, (String, Instant, Arc<Vec<Instance>>)>;

/// A copy of a fleet is read again after this long even if the revision has not moved (it is
/// moved after each instance write, so a crash between the two would otherwise keep it stale).
const FLEET_COPY_MAX_AGE: Duration = Duration::from_secs(30);

/// Locks for fleet reads, shared by tenants whose ids hash alike.
const FLEET_READ_LOCKS: usize = 64;

/// Tenants whose fleet is kept in memory; beyond that the copies are dropped and read again.
const CACHED_FLEETS: usize = 1000;

impl ApiState {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: ApiConfig, poller: Arc<dyn PollNow>) -> Self {
        Self(Arc::new(Inner {
            store,
            clock,
            config,
            poller,
            dummy_hash: OnceCell::new(),
            fleets: Default::default(),
            fleet_reads: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
            latest: Default::default(),
            dispatcher: std::sync::OnceLock::new(),
            events: std::sync::OnceLock::new(),
        }))
    }

    /// Lets the API send test notifications (`POST /api/v1/channels/{id}/test`).
    pub fn with_dispatcher(self, dispatcher: crate::alerts::Dispatcher) -> Self {
        // Set once, before the state is shared; a second call keeps the first.
        let _ = self.0.dispatcher.set(dispatcher);
        self
    }

    pub fn dispatcher(&self) -> Option<&crate::alerts::Dispatcher> {
        self.0.dispatcher.get()
    }

    /// Lets the API announce events (a confirmed tenant deletion, carried out at once).
    pub fn with_events(self, events: Arc<dyn crate::events::EventPublisher>) -> Self {
        let _ = self.0.events.set(events);
        self
    }

    pub fn events(&self) -> Option<&Arc<dyn crate::events::EventPublisher>> {
        self.0.events.get()
    }

    /// The instance's latest metric snapshot. One from the current poll slot is served from
    /// memory until the slot ends; an older one (or none) for up to [`SNAPSHOT_RECHECK`].
    pub async fn latest_snapshot(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
    ) -> Result<Option<MetricSnapshot>, StoreError> {
        let key = (tenant.clone(), instance.clone());
        let now = self.now();
        let slot = crate::polling::slot_of(now);
        if let Some((snapshot, read_at)) = self.latest().get(&key)
            && (snapshot.as_ref().is_some_and(|s| s.at >= slot) || now - *read_at < SNAPSHOT_RECHECK)
        {
            return Ok(snapshot.clone());
        }
        let read_at = now;
        let found = self.0.store.metrics.latest(tenant, instance).await?;
        self.keep_latest(key, found.clone(), read_at);
        Ok(found)
    }

    /// Drops the kept latest snapshot of an instance this process just polled (poll now).
    pub fn forget_latest(&self, tenant: &TenantId, instance: &InstanceId) {
        self.latest().remove(&(tenant.clone(), instance.clone()));
    }

    fn keep_latest(&self, key: (TenantId, InstanceId), snapshot: Option<MetricSnapshot>, read_at: DateTime<Utc>) {
        let mut cached = self.latest();
        if cached.len() >= CACHED_SNAPSHOTS {
            cached.clear();
        }
        cached.insert(key, (snapshot, read_at));
    }

    fn latest(&self) -> std::sync::MutexGuard<'_, LatestSnapshots> {
        self.0.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// All of the tenant's instances. A copy read earlier is reused while the tenant's fleet
    /// revision has not moved, so a fleet view costs one read instead of one per instance; when
    /// it has, one request reads the fleet again and those that asked meanwhile share its copy.
    pub async fn fleet(&self, tenant: &TenantId) -> Result<Arc<Vec<Instance>>, StoreError> {
        let instances = &self.0.store.instances;
        let asked_at = Instant::now();
        // The revision is read before the instances: a write between the two makes the copy newer
        // than its revision, never older, and the next request reads again.
        let Some(revision) = instances.fleet_revision(tenant).await? else {
            return Ok(Arc::new(Vec::new()));
        };
        if let Some(fleet) =
            self.fleet_copy(tenant, |at, read_at| *at == revision && read_at.elapsed() < FLEET_COPY_MAX_AGE)
        {
            return Ok(fleet);
        }
        let _reading = self.0.fleet_reads[fleet_read_lock(tenant)].lock().await;
        // A copy at the revision this request read, or whose read began after it asked, has
        // every write it could have seen.
        if let Some(fleet) = self.fleet_copy(tenant, |at, read_at| *at == revision || *read_at >= asked_at) {
            return Ok(fleet);
        }
        let read_at = Instant::now();
        let revision = instances.fleet_revision(tenant).await?.unwrap_or(revision);
        let fleet = Arc::new(instances.list_all(tenant).await?);
        let mut cached = self.fleets();
        if cached.len() >= CACHED_FLEETS {
            cached.clear();
        }
        cached.insert(tenant.clone(), (revision, read_at, Arc::clone(&fleet)));
        Ok(fleet)
    }

    fn fleet_copy(&self, tenant: &TenantId, usable: impl Fn(&String, &Instant) -> bool) -> Option<Arc<Vec<Instance>>> {
        self.fleets().get(tenant).filter(|(at, read_at, _)| usable(at, read_at)).map(|(_, _, fleet)| Arc::clone(fleet))
    }

    fn fleets(&self) -> std::sync::MutexGuard<'_, FleetCopies> {
        self.0.fleets.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.clock.now()
    }

    pub fn poller(&self) -> &dyn PollNow {
        self.0.poller.as_ref()
    }

    async fn dummy_hash(&self) -> Result<String, ApiError> {
        let cost = self.0.config.bcrypt_cost;
        self.0
            .dummy_hash
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || bcrypt::hash("sikurd-no-such-account", cost))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)
            })
            .await
            .cloned()
    }
}

fn fleet_read_lock(tenant: &TenantId) -> usize {
    tenant.as_str().bytes().fold(0_usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b))) % FLEET_READ_LOCKS
}

/// Every route, with its OpenAPI description; one `routes!` per path.
fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(openapi::healthz))
        .routes(routes!(openapi::document))
        .routes(routes!(accounts::signup))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::confirm_deletion))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::me))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update, users::delete))
        .routes(routes!(instances::list, instances::create))
        .routes(routes!(instances::get, instances::update, instances::delete))
        .routes(routes!(instances::restore))
        .routes(routes!(instances::poll))
        .routes(routes!(metrics::metrics))
        .routes(routes!(instances::backups))
        .routes(routes!(audit::list))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::get))
        .routes(routes!(alerts::acknowledge))
        .routes(routes!(alerts::resolve))
        .routes(routes!(export::instances))
        .routes(routes!(export::alerts))
        .routes(routes!(export::reports))
        .routes(routes!(reports::availability))
        .routes(routes!(channels::list, channels::create))
        .routes(routes!(channels::get, channels::update, channels::delete))
        .routes(routes!(channels::test))
        .routes(routes!(alert_settings::list_routes, alert_settings::create_route))
        .routes(routes!(alert_settings::replace_route, alert_settings::delete_route))
        .routes(routes!(alert_settings::list_windows, alert_settings::create_window))
        .routes(routes!(alert_settings::replace_window, alert_settings::delete_window))
        .routes(routes!(alert_settings::mute))
        .routes(routes!(alert_settings::list_overrides, alert_settings::create_override))
        .routes(routes!(alert_settings::replace_override, alert_settings::delete_override))
        .routes(routes!(alert_settings::rules))
}

/// The OpenAPI document of every route of [`router`].
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = routes().into_openapi();
    openapi::document_transport_errors(&mut document);
    document
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    error::error_response(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// Puts error responses made outside the handlers (axum's own rejections) in the error shape.
async fn ensure_error_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this route does not take that method"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "send a JSON body with Content-Type: application/json")
        }
        s if s.is_server_error() => ("internal", "something went wrong on our side"),
        _ => ("bad_request", "the request is malformed"),
    };
    let (parts, _) = response.into_parts();
    let mut shaped = error::error_response(status, code, message);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            shaped.headers_mut().append(name.clone(), value.clone());
        }
    }
    shaped
}

fn always(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// The API: every route of the OpenAPI document, scoped to the caller's session and tenant.
pub fn router(state: ApiState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::map_response(ensure_error_shape))
        .layer(always(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .layer(always(header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains"))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(header::X_FRAME_OPTIONS, "DENY"))
        .layer(always(header::REFERRER_POLICY, "no-referrer"))
        .layer(always(HeaderName::from_static("cross-origin-opener-policy"), "same-origin"))
        .layer(always(HeaderName::from_static("cross-origin-resource-policy"), "same-origin"))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .with_state(state)
}
