//! A webhook receiver on a loopback port: keeps every post it gets, answers with the status it
//! is told to, and checks signatures as a customer's receiver would.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::SecretString;
use sikurd::notify::{DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature};

/// One post as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Whether its signature holds for `secret`, checked now.
    pub fn verify(&self, secret: &SecretString) -> Result<(), String> {
        let header = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        verify_signature(
            secret,
            &header(TIMESTAMP_HEADER),
            &header(SIGNATURE_HEADER),
            &self.body,
            chrono::Utc::now(),
            DEFAULT_TOLERANCE,
        )
        .map_err(|e| e.to_string())
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    status: Option<StatusCode>,
}

/// Listens on `127.0.0.1`; `POST /hook` is recorded. Stops when dropped.
pub struct WebhookReceiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn hook(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    inner.received.push(Received { headers, body });
    inner.status.unwrap_or(StatusCode::OK)
}

impl WebhookReceiver {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let app = Router::new().route("/hook", post(hook)).with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, server }
    }

    /// The URL to configure as a webhook.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Answers every later post with `status` (e.g. 503 to make deliveries fail).
    pub fn answer_with(&self, status: StatusCode) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).status = Some(status);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).received.clone()
    }

    /// Waits until at least `count` posts arrived (or `limit` passed); returns them all.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let received = self.received();
            if received.len() >= count || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Gives `tenant` a generic webhook channel to `url` signed with `secret`, and a route that
/// sends it every alert; returns the channel's id.
pub async fn route_everything_to_webhook(
    store: &sikurd::store::Store,
    tenant: &sikurd::domain::TenantId,
    url: &str,
    secret: &SecretString,
) -> sikurd::alerts::ChannelId {
    use sikurd::alerts::{ChannelId, Route};
    use sikurd::notify::{WebhookFormat, WebhookTarget};
    use sikurd::pbx::TargetPolicy;
    use sikurd::store::Channel;

    let id = ChannelId::generate();
    let target = WebhookTarget::new(url, WebhookFormat::Generic, TargetPolicy::AllowPrivate).expect("a webhook URL");
    let kind = store.channels.webhook_kind(tenant, &id, target, secret).await.expect("seal the webhook");
    let channel = Channel {
        id: id.clone(),
        tenant_id: tenant.clone(),
        name: "on call".into(),
        kind,
        created_at: chrono::Utc::now(),
    };
    store.channels.create(&channel).await.expect("store the channel");
    let route = Route::new("everything", vec![id.clone()]);
    store.alerts.update_settings(tenant, |s| Ok(s.add_route(route.clone())?)).await.expect("store the route");
    id
}

/// One notice a [`RecordingNotifier`] was asked to send.
#[derive(Clone, Debug)]
pub struct Sent {
    pub delivery: sikurd::domain::DeliveryId,
    pub notice: sikurd::notify::Notice,
    /// The webhook URL, or the e-mail addresses joined by commas.
    pub to: String,
    pub delivered: bool,
}

/// A notifier that sends nothing: it records each attempt, and fails those to targets it is
/// told to fail.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<Sent>>,
    failing: Mutex<std::collections::HashMap<String, sikurd::notify::SendError>>,
}

impl RecordingNotifier {
    /// Attempts to `to` fail with `error` from now on.
    pub fn fail(&self, to: &str, error: sikurd::notify::SendError) {
        self.failing.lock().unwrap_or_else(|e| e.into_inner()).insert(to.to_owned(), error);
    }

    pub fn heal(&self, to: &str) {
        self.failing.lock().unwrap_or_else(|e| e.into_inner()).remove(to);
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `(notice kind, target)` of each delivered notice, in order.
    pub fn delivered(&self) -> Vec<(String, String)> {
        self.sent().into_iter().filter(|s| s.delivered).map(|s| (s.notice.kind.as_str().to_owned(), s.to)).collect()
    }
}

#[async_trait::async_trait]
impl sikurd::notify::Notifier for RecordingNotifier {
    async fn send(&self, delivery: &sikurd::notify::Delivery<'_>) -> Result<(), sikurd::notify::SendError> {
        let to = match delivery.target {
            sikurd::notify::Target::Email(email) => {
                email.to().iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
            }
            sikurd::notify::Target::Webhook(webhook, _) => webhook.url().to_owned(),
        };
        let failure = self.failing.lock().unwrap_or_else(|e| e.into_inner()).get(&to).cloned();
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(Sent {
            delivery: delivery.id.clone(),
            notice: delivery.notice.clone(),
            to,
            delivered: failure.is_none(),
        });
        failure.map_or(Ok(()), Err)
    }
}

/// A healthy poll of `instance` ("Head office", group "Acme") at `slot`: two trunks, "Primary
/// SIP" online or not, 2 of 16 calls, disk at 50 %, licence and maintenance 400 days away, a
/// backup 3 hours old.
pub fn instance_polled(
    tenant: &sikurd::domain::TenantId,
    instance: &sikurd::domain::InstanceId,
    slot: chrono::DateTime<chrono::Utc>,
    primary_online: bool,
) -> sikurd::polling::InstancePolled {
    use chrono::Duration;
    use sikurd::domain::{InstanceStatus, LicenceInfo, MetricSnapshot, PollOutcome, TrunkState};
    let mut snapshot = MetricSnapshot::failed(slot, PollOutcome::Ok, 40);
    snapshot.calls_active = Some(2);
    snapshot.max_sim_calls = Some(16);
    snapshot.disk_usage_percent = Some(50);
    sikurd::polling::InstancePolled {
        tenant_id: tenant.clone(),
        instance_id: instance.clone(),
        instance_name: "Head office".into(),
        group: Some("Acme".into()),
        slot,
        status: if primary_online { InstanceStatus::Ok } else { InstanceStatus::Degraded },
        previous_status: InstanceStatus::Ok,
        reason: None,
        snapshot,
        trunks: vec![
            TrunkState { name: "Primary SIP".into(), online: primary_online },
            TrunkState { name: "Backup SIP".into(), online: true },
        ],
        licence: Some(LicenceInfo {
            expires_at: Some(slot + Duration::days(400)),
            maintenance_expires_at: Some(slot + Duration::days(400)),
            ..LicenceInfo::default()
        }),
        last_backup_at: Some(slot - Duration::hours(3)),
        failed_backups: 0,
    }
}
