//! A Lambda Runtime API emulator: runs a real function binary as Lambda would (the binary polls
//! `GET /2018-06-01/runtime/invocation/next` and posts each answer back), so tests can invoke it
//! with the events under `events/` and read its responses and errors.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function's response (`/response`).
    Response(Value),
    /// The function's error report (`/error`): `{errorType, errorMessage}`.
    Error(Value),
}

impl Outcome {
    pub fn response(self) -> Value {
        match self {
            Self::Response(v) => v,
            Self::Error(e) => panic!("the function failed: {e}"),
        }
    }

    pub fn error(self) -> Value {
        match self {
            Self::Error(e) => e,
            Self::Response(v) => panic!("the function answered {v} where an error was expected"),
        }
    }
}

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_poll: Mutex<Option<Instant>>,
    init_error: Mutex<Option<Value>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The emulated Runtime API of one function instance, and the function's process.
pub struct LambdaFunction {
    inner: Arc<Inner>,
    started: Instant,
    child: Child,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.server.abort();
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    lock(&inner.first_poll).get_or_insert_with(Instant::now);
    loop {
        let notified = inner.queued.notified();
        if let Some((id, payload)) = lock(&inner.queue).pop_front() {
            let deadline = std::time::SystemTime::now() + Duration::from_secs(60);
            let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            };
            set("lambda-runtime-aws-request-id", id);
            set("lambda-runtime-deadline-ms", deadline_ms.to_string());
            set("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:test".into());
            set("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0".into());
            set("content-type", "application/json".into());
            return (headers, payload.to_string());
        }
        notified.await;
    }
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn respond(State(inner): State<Arc<Inner>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&inner, &id, Outcome::Response(parse(&body)))
}

async fn fail(State(inner): State<Arc<Inner>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    finish(&inner, &id, Outcome::Error(parse(&body)))
}

fn finish(inner: &Inner, id: &str, outcome: Outcome) -> StatusCode {
    match lock(&inner.waiting).remove(id) {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn init_error(State(inner): State<Arc<Inner>>, body: Bytes) -> StatusCode {
    *lock(&inner.init_error) = Some(parse(&body));
    StatusCode::ACCEPTED
}

impl LambdaFunction {
    /// Starts the Runtime API on a free port and the binary against it, with exactly `env` besides
    /// the variables Lambda itself sets.
    pub async fn start(binary: &Path, name: &str, env: &[(String, String)]) -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the runtime API");
        let addr: SocketAddr = listener.local_addr().expect("runtime API address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let started = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]emulated")
            .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        Self { inner, started, child, server }
    }

    /// Invokes the function with `payload` and waits (up to `limit`) for its answer.
    pub async fn invoke(&mut self, payload: Value, limit: Duration) -> Outcome {
        let id = ulid::Ulid::new().to_string();
        let (done, answer) = oneshot::channel();
        lock(&self.inner.waiting).insert(id.clone(), done);
        lock(&self.inner.queue).push_back((id, payload));
        self.inner.queued.notify_one();
        let deadline = Instant::now() + limit;
        let mut answer = std::pin::pin!(answer);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the function exited ({status}) before answering; init error: {:?}", self.init_error());
            }
            match tokio::time::timeout(Duration::from_millis(50), &mut answer).await {
                Ok(Ok(outcome)) => return outcome,
                Ok(Err(_)) => panic!("the runtime API dropped the invocation"),
                Err(_) if Instant::now() > deadline => panic!("no answer within {limit:?}"),
                Err(_) => {}
            }
        }
    }

    /// From process start to the function's first request for work: its cold-start init time.
    pub async fn init_duration(&mut self, limit: Duration) -> Duration {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(at) = *lock(&self.inner.first_poll) {
                return at - self.started;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the function exited ({status}) during init; init error: {:?}", self.init_error());
            }
            assert!(Instant::now() < deadline, "no request for work within {limit:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// What the function reported from `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.inner.init_error).clone()
    }

    /// Waits for the process to end (a failed cold start) and returns whether it failed.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

/// The sample event `events/<file>`.
pub fn sample_event(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The AWS variables that aim a function at the test binary's moto server.
pub fn moto_environment() -> Vec<(String, String)> {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", crate::moto().endpoint.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// AWS resources on moto for one function under test: a table, a KMS key and an event bus.
pub struct CloudResources {
    pub table: String,
    pub kms_key: String,
    pub event_bus: String,
    pub store: sikurd::store::Store,
}

impl CloudResources {
    /// A tenant with its owner (`eve@events.example`), stored as a sign-up would.
    pub async fn tenant_with_owner(&self, name: &str) -> (sikurd::domain::Tenant, sikurd::domain::User) {
        use sikurd::domain::{Email, PasswordHash, PersonName, Plan, Role, Tenant, TenantName, User, UserId};
        let now = chrono::Utc::now();
        let tenant = Tenant::new(TenantName::parse(name).expect("a tenant name"), Plan::Trial, now);
        let hash = bcrypt::hash("a-long-enough-password", 4).expect("bcrypt hashes");
        let owner = User {
            id: UserId::generate(),
            tenant_id: tenant.id.clone(),
            name: PersonName::parse("Eve").expect("a name"),
            email: Email::parse("eve@events.example").expect("an address"),
            password_hash: PasswordHash::from_bcrypt(hash).expect("a bcrypt hash"),
            role: Role::Owner,
            created_at: now,
        };
        self.store.tenants.create_with_owner(&tenant, &owner).await.expect("the tenant is stored");
        (tenant, owner)
    }

    pub async fn create() -> Self {
        let clock: Arc<dyn sikurd::clock::Clock> = Arc::new(sikurd::clock::SystemClock);
        let (table, name) = crate::moto().fresh_table(Arc::clone(&clock)).await;
        let kms_key = crate::moto().fresh_kms_key().await;
        let event_bus = crate::unique_name("sikurd");
        crate::moto().eventbridge().await.create_event_bus().name(&event_bus).send().await.expect("create bus");
        let keys = sikurd::crypto::KmsKeys::new(crate::moto().kms().await, kms_key.clone());
        let store = sikurd::store::Store::new(Arc::new(table), sikurd::crypto::Envelope::new(Arc::new(keys)), clock);
        Self { table: name, kms_key, event_bus, store }
    }

    /// The function's environment: these resources, plus `extra`, plus moto's endpoint.
    pub fn environment(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = moto_environment();
        for (k, v) in [
            ("SIKURD_TABLE_NAME", self.table.as_str()),
            ("SIKURD_KMS_KEY_ID", self.kms_key.as_str()),
            ("SIKURD_EVENT_BUS_NAME", self.event_bus.as_str()),
            ("SIKURD_SENDER_EMAIL", "alerts@sikurd.example"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        {
            env.push((k.to_owned(), v.to_owned()));
        }
        env
    }
}
