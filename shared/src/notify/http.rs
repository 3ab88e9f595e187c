use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, StatusCode};

use super::mail::Mailer;
use super::payload::webhook_body;
use super::signature::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use super::{Delivery, Notifier, SendError, Target, truncate};
use crate::clock::Clock;
use crate::pbx::{TargetPolicy, resolver};

/// Bytes of an error answer read, of which at most [`EXCERPT_CHARS`] characters are kept.
const EXCERPT_BYTES: usize = 1024;
const EXCERPT_CHARS: usize = 200;

#[derive(Debug, thiserror::Error)]
#[error("cannot build the notification HTTP client: {0}")]
pub struct BuildError(String);

/// An HTTP client for notifications: TLS 1.2+, 5 s to connect, 10 s per request, no redirects,
/// no proxy. With a policy, host names resolve only to addresses it allows and, for
/// `PublicOnly`, only `https` is spoken.
pub(super) fn http_client(guard: Option<TargetPolicy>) -> Result<reqwest::Client, BuildError> {
    let mut builder = reqwest::Client::builder()
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("Sikurd/", env!("CARGO_PKG_VERSION"), " (notifications)"));
    if let Some(policy) = guard {
        builder = builder.https_only(policy == TargetPolicy::PublicOnly).dns_resolver(resolver(policy));
    }
    builder.build().map_err(|e| BuildError(e.to_string()))
}

/// A failed exchange, without the URL (webhook URLs carry tokens).
pub(super) fn transport_error(who: &str, e: &reqwest::Error) -> SendError {
    if e.is_timeout() {
        return SendError::Retryable(format!("{who} timed out"));
    }
    if e.is_builder() {
        return SendError::Permanent(format!("{who}: invalid request"));
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    let what = if e.is_connect() { "could not connect to" } else { "request failed to" };
    SendError::Retryable(format!("{what} {who}: {}", truncate(&root.to_string(), EXCERPT_CHARS)))
}

/// `Ok` for 2xx; otherwise an error with the status and the start of the answer. 408, 429 and
/// 5xx may pass on retry; the rest, redirects included, will not.
pub(super) async fn judge(who: &str, response: Response) -> Result<(), SendError> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let answer = start_of_body(response).await;
    let mut message = format!("{who} answered HTTP {}", status.as_u16());
    if status.is_redirection() {
        message.push_str(" (redirects are not followed)");
    }
    if !answer.trim().is_empty() {
        message.push_str(": ");
        message.push_str(answer.trim());
    }
    let retryable =
        status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
    Err(if retryable { SendError::Retryable(message) } else { SendError::Permanent(message) })
}

async fn start_of_body(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(EXCERPT_BYTES);
    let text: String = String::from_utf8_lossy(&bytes).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    truncate(&text, EXCERPT_CHARS)
}

/// Sends notices: webhooks as signed posts through a client guarded by the target policy,
/// e-mail through a [`Mailer`]. One serves a whole process.
///
/// Every webhook post, whatever its format, carries `Content-Type: application/json`,
/// `X-Sikurd-Timestamp`, `X-Sikurd-Signature` (see [`super::sign`]) and `X-Sikurd-Delivery`.
#[derive(Debug)]
pub struct HttpNotifier {
    http: reqwest::Client,
    policy: TargetPolicy,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
}

impl HttpNotifier {
    pub fn new(policy: TargetPolicy, mailer: Arc<dyn Mailer>, clock: Arc<dyn Clock>) -> Result<Self, BuildError> {
        Ok(Self { http: http_client(Some(policy))?, policy, mailer, clock })
    }
}

#[async_trait]
impl Notifier for HttpNotifier {
    async fn send(&self, delivery: &Delivery<'_>) -> Result<(), SendError> {
        let notice = delivery.notice;
        match delivery.target {
            Target::Email(target) => self.mailer.send(target.to(), &notice.title(), &notice.message()).await,
            Target::Webhook(target, secret) => {
                target.check(self.policy).map_err(|e| SendError::Permanent(format!("webhook refused: {e}")))?;
                let now = self.clock.now();
                let body = webhook_body(target.format(), notice, delivery.id, now);
                let timestamp = now.timestamp();
                let response = self
                    .http
                    .post(target.url())
                    .header(CONTENT_TYPE, "application/json")
                    .header(TIMESTAMP_HEADER, timestamp.to_string())
                    .header(SIGNATURE_HEADER, sign(secret, timestamp, &body))
                    .header(DELIVERY_HEADER, delivery.id.as_str())
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| transport_error("the webhook", &e))?;
                judge("the webhook", response).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use chrono::{TimeZone, Utc};
    use secrecy::SecretString;
    use tokio::sync::Mutex;

    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::{DeliveryId, Email};
    use crate::notify::notice::tests::trunk_down;
    use crate::notify::testing::{FakeServer, closed_port};
    use crate::notify::{
        DEFAULT_TOLERANCE, EmailTarget, Notice, SignatureError, WebhookFormat, WebhookTarget, verify_signature,
    };

    const SECRET: &str = "whsec_do_not_leak_0123456789";

    #[derive(Debug, Default)]
    struct FakeMailer {
        sent: Mutex<Vec<(Vec<Email>, String, String)>>,
    }

    #[async_trait]
    impl Mailer for FakeMailer {
        async fn send(&self, to: &[Email], subject: &str, text: &str) -> Result<(), SendError> {
            self.sent.lock().await.push((to.to_vec(), subject.into(), text.into()));
            Ok(())
        }
    }

    fn notifier(policy: TargetPolicy) -> (HttpNotifier, Arc<FakeMailer>) {
        let mailer = Arc::new(FakeMailer::default());
        let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 29, 9, 50, 0).unwrap()));
        (HttpNotifier::new(policy, mailer.clone(), clock).unwrap(), mailer)
    }

    async fn post(notifier: &HttpNotifier, url: &str, format: WebhookFormat) -> Result<(), SendError> {
        let target = WebhookTarget::new(url, format, TargetPolicy::AllowPrivate).unwrap();
        let notice = trunk_down();
        let id = DeliveryId::generate();
        let secret = SecretString::from(SECRET);
        notifier.send(&Delivery { id: &id, notice: &notice, target: Target::Webhook(&target, &secret) }).await
    }

    #[tokio::test]
    async fn a_generic_webhook_is_signed_so_that_only_the_exact_body_secret_and_time_verify() {
        let server = FakeServer::start(StatusCode::NO_CONTENT, "").await;
        let (notifier, _) = notifier(TargetPolicy::AllowPrivate);
        post(&notifier, &server.url("/hook"), WebhookFormat::Generic).await.unwrap();

        let request = server.only_request().await;
        assert_eq!(request.path, "/hook");
        assert_eq!(request.header("content-type"), "application/json");
        assert!(request.header("user-agent").starts_with("Sikurd/"));
        let (ts, sig) = (request.header("x-sikurd-timestamp"), request.header("x-sikurd-signature"));
        assert_eq!(ts, "1795945800");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["type"], "alert.opened");
        assert_eq!(body["delivery_id"], request.header("x-sikurd-delivery"));
        assert_eq!(body["sent_at"], "2026-11-29T09:50:00Z");

        let now = Utc.with_ymd_and_hms(2026, 11, 29, 9, 51, 0).unwrap();
        let secret = SecretString::from(SECRET);
        assert_eq!(verify_signature(&secret, &ts, &sig, &request.body, now, DEFAULT_TOLERANCE), Ok(()));
        let mut tampered = request.body.clone();
        tampered[10] ^= 1;
        let check =
            |secret: &SecretString, body: &[u8], now| verify_signature(secret, &ts, &sig, body, now, DEFAULT_TOLERANCE);
        assert_eq!(check(&secret, &tampered, now), Err(SignatureError::Mismatch));
        assert_eq!(check(&"whsec_other".into(), &request.body, now), Err(SignatureError::Mismatch));
        let much_later = now + chrono::Duration::minutes(10);
        assert_eq!(check(&secret, &request.body, much_later), Err(SignatureError::OutsideTolerance));
    }

    #[tokio::test]
    async fn slack_and_teams_posts_carry_their_own_bodies_and_are_signed_too() {
        let server = FakeServer::start(StatusCode::OK, "ok").await;
        let (notifier, _) = notifier(TargetPolicy::AllowPrivate);
        post(&notifier, &server.url("/slack"), WebhookFormat::Slack).await.unwrap();
        post(&notifier, &server.url("/teams"), WebhookFormat::Teams).await.unwrap();
        let requests = server.requests().await;
        let slack: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert!(slack["text"].is_string() && slack["blocks"].is_array());
        let teams: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
        assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
        for request in &requests {
            let (ts, sig) = (request.header("x-sikurd-timestamp"), request.header("x-sikurd-signature"));
            let now = Utc.with_ymd_and_hms(2026, 11, 29, 9, 50, 0).unwrap();
            assert_eq!(verify_signature(&SECRET.into(), &ts, &sig, &request.body, now, DEFAULT_TOLERANCE), Ok(()));
        }
    }

    #[tokio::test]
    async fn server_errors_and_throttling_are_retryable_and_other_refusals_permanent() {
        let (notifier, _) = notifier(TargetPolicy::AllowPrivate);
        for (status, retryable) in [
            (StatusCode::INTERNAL_SERVER_ERROR, true),
            (StatusCode::SERVICE_UNAVAILABLE, true),
            (StatusCode::TOO_MANY_REQUESTS, true),
            (StatusCode::REQUEST_TIMEOUT, true),
            (StatusCode::BAD_REQUEST, false),
            (StatusCode::NOT_FOUND, false),
            (StatusCode::GONE, false),
            (StatusCode::FOUND, false),
        ] {
            let server = FakeServer::start(status, "no_service").await;
            let err = post(&notifier, &server.url("/hook"), WebhookFormat::Slack).await.unwrap_err();
            assert_eq!(err.is_retryable(), retryable, "{status}: {err}");
            assert!(err.to_string().contains(&status.as_u16().to_string()), "{err}");
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_retryable() {
        let (notifier, _) = notifier(TargetPolicy::AllowPrivate);
        let port = closed_port().await;
        let err = post(&notifier, &format!("http://127.0.0.1:{port}/hook"), WebhookFormat::Generic).await.unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(err.to_string().starts_with("could not connect to the webhook"), "{err}");
    }

    #[tokio::test]
    async fn private_addresses_are_refused_in_the_cloud_without_a_request() {
        let server = FakeServer::start(StatusCode::OK, "").await;
        let (notifier, _) = notifier(TargetPolicy::PublicOnly);
        for url in [server.url("/hook"), server.url("/hook").replace("http://", "https://")] {
            let err = post(&notifier, &url, WebhookFormat::Generic).await.unwrap_err();
            assert!(matches!(err, SendError::Permanent(_)), "{err}");
            assert!(err.to_string().starts_with("webhook refused: invalid webhook URL"), "{err}");
        }
        assert!(server.requests().await.is_empty());
    }

    #[tokio::test]
    async fn errors_and_debug_output_never_show_the_secret_the_url_or_a_whole_answer() {
        let long_answer = format!("invalid_token {SECRET} {}", "x".repeat(5000));
        let server = FakeServer::start_owned(StatusCode::FORBIDDEN, long_answer).await;
        let (notifier, _) = notifier(TargetPolicy::AllowPrivate);
        let url = server.url("/services/T000/B000/XXXXTOKEN");
        let err = post(&notifier, &url, WebhookFormat::Slack).await.unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with("the webhook answered HTTP 403: invalid_token"), "{message}");
        assert!(message.chars().count() < 260, "{message}");
        assert!(!message.contains("XXXXTOKEN"), "{message}");

        let port = closed_port().await;
        let err = post(&notifier, &format!("http://127.0.0.1:{port}/x/XXXXTOKEN"), WebhookFormat::Generic).await;
        assert!(!format!("{err:?}").contains("XXXXTOKEN"));

        let target = WebhookTarget::new(&url, WebhookFormat::Slack, TargetPolicy::AllowPrivate).unwrap();
        let secret = SecretString::from(SECRET);
        let notice = trunk_down();
        let id = DeliveryId::generate();
        let delivery = Delivery { id: &id, notice: &notice, target: Target::Webhook(&target, &secret) };
        let debug = format!("{delivery:?} {notifier:?}");
        assert!(!debug.contains(SECRET) && !debug.contains("XXXXTOKEN"), "{debug}");
    }

    #[tokio::test]
    async fn an_email_delivery_goes_through_the_mailer_with_the_title_as_subject() {
        let (notifier, mailer) = notifier(TargetPolicy::PublicOnly);
        let to = vec![Email::parse("ops@example.com").unwrap()];
        let target = EmailTarget::new(to.clone()).unwrap();
        let notice: Notice = trunk_down();
        let id = DeliveryId::generate();
        notifier.send(&Delivery { id: &id, notice: &notice, target: Target::Email(&target) }).await.unwrap();
        let sent = mailer.sent.lock().await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, to);
        assert_eq!(sent[0].1, notice.title());
        assert_eq!(sent[0].2, notice.message());
    }
}
