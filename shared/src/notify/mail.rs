use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::SendError;
use super::http::{BuildError, http_client, judge, transport_error};
use crate::domain::Email;

/// Sends plain-text e-mail.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// One message to every address in `to`; no recipient sees another's address.
    async fn send(&self, to: &[Email], subject: &str, text: &str) -> Result<(), SendError>;
}

/// E-mail through SendGrid's v3 Mail Send API: `POST {base}/v3/mail/send` with the API key as
/// bearer token, one personalization per recipient, from the sender address with the name
/// "Sikurd". SendGrid answers 202 when it accepts a message.
#[derive(Debug)]
pub struct SendGridMailer {
    http: reqwest::Client,
    endpoint: String,
    api_key: SecretString,
    from: Email,
}

impl SendGridMailer {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.sendgrid.com";

    pub fn new(api_key: SecretString, from: Email) -> Result<Self, BuildError> {
        let endpoint = format!("{}/v3/mail/send", Self::DEFAULT_BASE_URL);
        Ok(Self { http: http_client(None)?, endpoint, api_key, from })
    }

    /// Sends to another base URL (a regional endpoint, or a fake in tests).
    pub fn with_base_url(self, base: &str) -> Self {
        Self { endpoint: format!("{}/v3/mail/send", base.trim_end_matches('/')), ..self }
    }
}

#[async_trait]
impl Mailer for SendGridMailer {
    async fn send(&self, to: &[Email], subject: &str, text: &str) -> Result<(), SendError> {
        if to.is_empty() {
            return Err(SendError::Permanent("an e-mail needs at least one recipient".into()));
        }
        let body = json!({
            "personalizations": to.iter().map(|email| json!({ "to": [{ "email": email }] })).collect::<Vec<_>>(),
            "from": { "email": self.from, "name": "Sikurd" },
            "subject": subject,
            "content": [{ "type": "text/plain", "value": text }],
        });
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(self.api_key.expose_secret())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| transport_error("SendGrid", &e))?;
        judge("SendGrid", response).await
    }
}

/// E-mail for the local stack: each message becomes one file `<UTC time>-<random>.json` in a
/// directory (made if missing) holding `to`, `from`, `subject` and `text`. The file is written
/// under a hidden temporary name and renamed, so a reader never sees part of one.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Email,
}

impl OutboxMailer {
    pub fn new(dir: impl Into<PathBuf>, from: Email) -> Self {
        Self { dir: dir.into(), from }
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, to: &[Email], subject: &str, text: &str) -> Result<(), SendError> {
        let failed = |e: std::io::Error| SendError::Retryable(format!("cannot write to the outbox: {e}"));
        let message = json!({ "to": to, "from": self.from, "subject": subject, "text": text });
        let name = format!("{}-{:08x}.json", Utc::now().format("%Y%m%dT%H%M%S%.6fZ"), rand::random::<u32>());
        let temporary = self.dir.join(format!(".{name}.tmp"));
        tokio::fs::create_dir_all(&self.dir).await.map_err(failed)?;
        tokio::fs::write(&temporary, message.to_string()).await.map_err(failed)?;
        tokio::fs::rename(&temporary, self.dir.join(name)).await.map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::notify::testing::FakeServer;

    const API_KEY: &str = "SG.do_not_leak.0123456789";

    fn addresses() -> Vec<Email> {
        vec![Email::parse("ops@example.com").unwrap(), Email::parse("oncall@example.com").unwrap()]
    }

    fn mailer(server: &FakeServer) -> SendGridMailer {
        SendGridMailer::new(API_KEY.into(), Email::parse("alerts@sikurd.example").unwrap())
            .unwrap()
            .with_base_url(&server.url("/"))
    }

    #[tokio::test]
    async fn sendgrid_gets_the_v3_json_with_the_bearer_key() {
        let server = FakeServer::start(StatusCode::ACCEPTED, "").await;
        mailer(&server).send(&addresses(), "CRITICAL trunk_down", "trunk VoIP-1 is offline").await.unwrap();
        let request = server.only_request().await;
        assert_eq!(request.path, "/v3/mail/send");
        assert_eq!(request.header("authorization"), format!("Bearer {API_KEY}"));
        assert_eq!(request.header("content-type"), "application/json");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            body,
            json!({
                "personalizations": [
                    { "to": [{ "email": "ops@example.com" }] },
                    { "to": [{ "email": "oncall@example.com" }] },
                ],
                "from": { "email": "alerts@sikurd.example", "name": "Sikurd" },
                "subject": "CRITICAL trunk_down",
                "content": [{ "type": "text/plain", "value": "trunk VoIP-1 is offline" }],
            })
        );
    }

    #[tokio::test]
    async fn sendgrid_answers_map_to_success_permanent_or_retryable_failures() {
        for (status, outcome) in [
            (StatusCode::ACCEPTED, None),
            (StatusCode::BAD_REQUEST, Some(false)),
            (StatusCode::UNAUTHORIZED, Some(false)),
            (StatusCode::PAYLOAD_TOO_LARGE, Some(false)),
            (StatusCode::TOO_MANY_REQUESTS, Some(true)),
            (StatusCode::INTERNAL_SERVER_ERROR, Some(true)),
        ] {
            let server = FakeServer::start(status, r#"{"errors":[{"message":"nope"}]}"#).await;
            let result = mailer(&server).send(&addresses(), "s", "t").await;
            assert_eq!(result.as_ref().err().map(SendError::is_retryable), outcome, "{status}: {result:?}");
        }
    }

    #[tokio::test]
    async fn sendgrid_errors_and_debug_output_never_show_the_api_key() {
        let server = FakeServer::start_owned(StatusCode::UNAUTHORIZED, format!("bad key {API_KEY}")).await;
        let mailer = mailer(&server);
        let err = mailer.send(&addresses(), "s", "t").await.unwrap_err();
        assert!(err.to_string().starts_with("SendGrid answered HTTP 401"), "{err}");
        let debug = format!("{mailer:?}");
        assert!(!debug.contains(API_KEY) && !debug.contains("do_not_leak"), "{debug}");
        assert!(mailer.send(&[], "s", "t").await.is_err_and(|e| !e.is_retryable()));
    }

    #[tokio::test]
    async fn the_outbox_gets_one_complete_json_file_per_message() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("outbox").join("mail");
        let outbox = OutboxMailer::new(&dir, Email::parse("alerts@sikurd.example").unwrap());
        outbox.send(&addresses(), "CRITICAL trunk_down", "line 1\nline 2").await.unwrap();
        outbox.send(&addresses()[..1], "RESOLVED trunk_down", "ok").await.unwrap();

        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.iter().all(|n| n.ends_with(".json") && !n.starts_with('.')), "{names:?}");
        let messages: Vec<serde_json::Value> =
            names.iter().map(|n| serde_json::from_slice(&std::fs::read(dir.join(n)).unwrap()).unwrap()).collect();
        assert!(messages.contains(&json!({
            "to": ["ops@example.com", "oncall@example.com"],
            "from": "alerts@sikurd.example",
            "subject": "CRITICAL trunk_down",
            "text": "line 1\nline 2",
        })));
        assert!(
            messages.iter().any(|m| m["subject"] == "RESOLVED trunk_down" && m["to"] == json!(["ops@example.com"]))
        );
    }
}
