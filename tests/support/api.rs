//! Driving the API router in process: no socket, no network. Each [`ApiFixture`] is its own
//! world (embedded store, manual clock, bcrypt cost 4, a fake poller unless told otherwise).

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sikurd::api::{ApiState, ClientAddr, PollNow, router};
use sikurd::clock::{Clock, ManualClock};
use sikurd::config::{ApiConfig, Deployment};
use sikurd::domain::{InstanceStatus, MetricSnapshot, PollOutcome};
use sikurd::polling::{InstancePolled, PollTarget, slot_of};
use sikurd::store::{Store, StoreError};
use tower::ServiceExt;

use crate::{StoreFixture, embedded_store};

/// A strong password for tests.
pub const PASSWORD: &str = "correct horse battery staple";

/// A poller that answers "ok" for every active instance, records the snapshot like the real
/// one, and never opens a socket.
#[derive(Debug)]
pub struct FakePoller {
    pub store: Store,
}

#[async_trait]
impl PollNow for FakePoller {
    async fn poll_now(&self, target: &PollTarget, now: DateTime<Utc>) -> Result<Option<InstancePolled>, StoreError> {
        let Some(instance) = self.store.instances.get(&target.tenant_id, &target.instance_id).await? else {
            return Ok(None);
        };
        if !instance.is_active() {
            return Ok(None);
        }
        let slot = slot_of(now);
        let mut snapshot = MetricSnapshot::failed(slot, PollOutcome::Ok, 12);
        snapshot.calls_active = Some(2);
        self.store.metrics.record(&target.tenant_id, &target.instance_id, &snapshot).await?;
        Ok(Some(InstancePolled {
            tenant_id: instance.tenant_id.clone(),
            instance_id: instance.id.clone(),
            instance_name: instance.name.to_string(),
            group: None,
            slot,
            status: InstanceStatus::Ok,
            previous_status: instance.status,
            reason: None,
            snapshot,
            trunks: Vec::new(),
            licence: None,
            last_backup_at: None,
            failed_backups: 0,
        }))
    }
}

/// The test configuration: bcrypt cost 4, everything else as in production.
pub fn test_config(deployment: Deployment) -> ApiConfig {
    ApiConfig { bcrypt_cost: 4, ..ApiConfig::defaults(deployment) }
}

pub struct ApiFixture {
    pub stores: StoreFixture,
    pub state: ApiState,
    pub router: Router,
}

impl ApiFixture {
    /// A cloud-configured API over a fresh embedded store, with the fake poller.
    pub fn new() -> Self {
        Self::with_config(test_config(Deployment::Cloud))
    }

    pub fn with_config(config: ApiConfig) -> Self {
        let stores = embedded_store();
        let poller = Arc::new(FakePoller { store: stores.store.clone() });
        Self::assemble(stores, config, poller)
    }

    /// Any poller, over a store the caller built.
    pub fn assemble(stores: StoreFixture, config: ApiConfig, poller: Arc<dyn PollNow>) -> Self {
        let clock: Arc<dyn Clock> = stores.tables.clock.clone();
        let state = ApiState::new(stores.store.clone(), clock, config, poller);
        let router = router(state.clone());
        Self { stores, state, router }
    }

    pub fn store(&self) -> &Store {
        &self.stores.store
    }

    pub fn clock(&self) -> &ManualClock {
        &self.stores.tables.clock
    }

    pub async fn send(&self, request: Req) -> Res {
        let response = self.router.clone().oneshot(request.build()).await.expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("a body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Res { status, headers, text, json }
    }

    /// Signs up a new tenant; its owner's session.
    pub async fn sign_up(&self, tenant: &str, email: &str) -> Session {
        let res = self
            .send(Req::post("/api/v1/signup").json(json!({
                "tenant_name": tenant, "name": "Owner", "email": email, "password": PASSWORD
            })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        Session::from_login(&res)
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Res {
        self.send(Req::post("/api/v1/auth/login").json(json!({ "email": email, "password": password }))).await
    }

    /// An open alert of `kind` on the instance, committed as the evaluator would (state and alert
    /// item in one transaction); its id.
    pub async fn open_alert(
        &self,
        tenant: &sikurd::domain::TenantId,
        instance: &sikurd::domain::InstanceId,
        instance_name: &str,
        kind: sikurd::alerts::AlertKind,
    ) -> sikurd::domain::AlertId {
        use sikurd::alerts::{Alert, AlertChange, AlertStatus, InstanceAlerts, Severity};
        use sikurd::clock::Clock;
        let now = self.clock().now();
        let alert = Alert {
            id: sikurd::domain::AlertId::generate(),
            tenant_id: tenant.clone(),
            instance_id: instance.clone(),
            instance_name: instance_name.into(),
            group: None,
            kind,
            subject: String::new(),
            severity: Severity::Warning,
            detail: format!("{kind:?} on {instance_name}"),
            flapping: false,
            status: AlertStatus::Open,
            opened_at: now,
            acknowledged: None,
            resolved: None,
            silenced_until: None,
            history: vec![AlertChange::Opened { at: now, severity: Severity::Warning, detail: String::new() }],
        };
        let state = InstanceAlerts { active: vec![alert.clone()], ..InstanceAlerts::default() };
        self.store()
            .alerts
            .commit(tenant, instance, 0, &state, std::slice::from_ref(&alert), Vec::new())
            .await
            .expect("the alert is committed");
        alert.id
    }

    /// A new session of a user made by [`Self::sign_up`] or [`Self::add_user`].
    pub async fn session_of(&self, email: &str) -> Session {
        let login = self.log_in(email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        Session::from_login(&login)
    }

    /// Adds a user of `role` to the session's tenant and logs them in.
    pub async fn add_user(&self, admin: &Session, role: &str, email: &str) -> Session {
        let res = self
            .send(admin.post("/api/v1/users").json(json!({
                "name": format!("A {role}"), "email": email, "role": role, "password": PASSWORD
            })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        let login = self.log_in(email, PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text);
        Session::from_login(&login)
    }

    /// Adds an instance as `admin`; its id.
    pub async fn add_instance(&self, admin: &Session, name: &str, group: Option<&str>) -> String {
        let res = self
            .send(admin.post("/api/v1/instances").json(json!({
                "name": name,
                "url": "https://pbx.example.com:5001",
                "group": group,
                "credentials": { "kind": "admin", "username": "100", "password": "pbx-secret-password" }
            })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        res.json["id"].as_str().expect("an id").to_owned()
    }
}

impl Default for ApiFixture {
    fn default() -> Self {
        Self::new()
    }
}

/// A signed-in browser: its cookie and CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub user_id: String,
    pub tenant_id: String,
}

impl Session {
    /// From a login or sign-up response.
    pub fn from_login(res: &Res) -> Self {
        let set_cookie = res.set_cookie().expect("a session cookie");
        let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
        Self {
            cookie,
            csrf: res.json["csrf_token"].as_str().expect("a csrf token").to_owned(),
            user_id: res.json["user"]["id"].as_str().expect("a user id").to_owned(),
            tenant_id: res.json["tenant"]["id"].as_str().expect("a tenant id").to_owned(),
        }
    }

    pub fn get(&self, uri: &str) -> Req {
        Req::get(uri).cookie(&self.cookie)
    }

    /// An unsafe request with the session's cookie and CSRF token.
    pub fn req(&self, method: Method, uri: &str) -> Req {
        Req::new(method, uri).cookie(&self.cookie).csrf(&self.csrf)
    }

    pub fn post(&self, uri: &str) -> Req {
        self.req(Method::POST, uri)
    }

    pub fn patch(&self, uri: &str) -> Req {
        self.req(Method::PATCH, uri)
    }

    pub fn delete(&self, uri: &str) -> Req {
        self.req(Method::DELETE, uri)
    }
}

/// A request under construction.
pub struct Req {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Vec<u8>,
    source: Option<IpAddr>,
}

impl Req {
    pub fn new(method: Method, uri: &str) -> Self {
        Self { method, uri: uri.to_owned(), headers: HeaderMap::new(), body: Vec::new(), source: None }
    }

    pub fn get(uri: &str) -> Self {
        Self::new(Method::GET, uri)
    }

    pub fn post(uri: &str) -> Self {
        Self::new(Method::POST, uri)
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.append(name, HeaderValue::from_str(value).expect("a header value"));
        self
    }

    pub fn cookie(self, cookie: &str) -> Self {
        self.header("cookie", cookie)
    }

    pub fn csrf(self, token: &str) -> Self {
        self.header("x-csrf-token", token)
    }

    /// Drops a header set so far.
    pub fn without(mut self, name: &'static str) -> Self {
        self.headers.remove(name);
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = serde_json::to_vec(&body).expect("json");
        self
    }

    pub fn raw_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).expect("a content type"));
        self.body = body.into();
        self
    }

    /// As if from this address (what the transport adapter would insert).
    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source = Some(ip.parse().expect("an IP address"));
        self
    }

    fn build(self) -> Request<Body> {
        let mut request =
            Request::builder().method(self.method).uri(self.uri).body(Body::from(self.body)).expect("a request");
        *request.headers_mut() = self.headers;
        if let Some(ip) = self.source {
            request.extensions_mut().insert(ClientAddr(ip));
        }
        request
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Res {
    pub fn set_cookie(&self) -> Option<&str> {
        self.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok())
    }

    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("<not an error shape>")
    }

    /// Asserts the status and that the body is the error shape with this code.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.code(), code, "{}", self.text);
        assert!(self.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.text);
    }
}
