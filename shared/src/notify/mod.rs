//! Notifications: how an alert reaches a channel.
//!
//! A [`Notice`] says what happened, whatever carries it. A [`Notifier`] delivers one notice to
//! one target: an [`EmailTarget`] through a [`Mailer`] (SendGrid, or an outbox directory
//! locally), or a [`WebhookTarget`] as a signed HTTPS post in the generic, Slack or Teams form
//! ([`webhook_body`], [`sign`], [`verify_signature`]). A failure says whether another attempt
//! may succeed; [`RetrySchedule`] says when to make it.

mod channel;
mod http;
mod mail;
mod notice;
mod payload;
mod retry;
mod signature;
#[cfg(test)]
mod testing;

use async_trait::async_trait;
use secrecy::SecretString;

pub use channel::{EmailTarget, WebhookFormat, WebhookTarget};
pub use http::{BuildError, HttpNotifier};
pub use mail::{Mailer, OutboxMailer, SendGridMailer};
pub use notice::{Notice, NoticeKind, human_duration};
pub use payload::{generic_body, slack_body, teams_body, webhook_body};
pub use retry::RetrySchedule;
pub use signature::{
    DEFAULT_TOLERANCE, DELIVERY_HEADER, SIGNATURE_HEADER, SignatureError, TIMESTAMP_HEADER, sign, verify_signature,
};

use crate::domain::DeliveryId;

/// Why a delivery failed. Messages never carry a secret, a webhook URL (Slack and Teams URLs
/// are credentials) or more than 200 characters of an answer's body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Another attempt may succeed: a timeout, a connection failure, HTTP 408, 429 or 5xx.
    #[error("{0}")]
    Retryable(String),
    /// Another attempt would fail the same way: any other 3xx or 4xx answer, a target the
    /// policy refuses, an invalid configuration.
    #[error("{0}")]
    Permanent(String),
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// Where one notice goes.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Email(&'a EmailTarget),
    /// The target and the secret its posts are signed with.
    Webhook(&'a WebhookTarget, &'a SecretString),
}

/// One notice to one target. The id is sent along (`X-Sikurd-Delivery`, and in the generic
/// body) and stays the same across retries, so a receiver can drop duplicates.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    pub id: &'a DeliveryId,
    pub notice: &'a Notice,
    pub target: Target<'a>,
}

/// Delivers notices. [`HttpNotifier`] is the real one; tests of the alert code use a fake.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// One attempt; retrying is the caller's decision (see [`RetrySchedule`]).
    async fn send(&self, delivery: &Delivery<'_>) -> Result<(), SendError>;
}

/// At most `max` characters of `s`, ending in `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => s.chars().take(max.saturating_sub(1)).chain(std::iter::once('…')).collect(),
    }
}
