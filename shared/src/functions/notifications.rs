//! What a function that sends notifications reads (`alert-evaluator`, and `api` for a
//! channel's "send test").

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::alerts::Dispatcher;
use crate::clock::Clock;
use crate::config::{ConfigError, Env};
use crate::crypto::decrypt_deployment_secret;
use crate::domain::Email;
use crate::notify::{HttpNotifier, Mailer, SendError, SendGridMailer};
use crate::pbx::TargetPolicy;
use crate::store::Store;

/// The encryption context purpose of the SendGrid API key's ciphertext.
pub const SENDGRID_KEY_PURPOSE: &str = "sendgrid-api-key";

/// How a function sends e-mail.
#[derive(Clone, Debug)]
pub struct MailConfig {
    sender: Email,
    sendgrid_key: Option<String>,
    sendgrid_base_url: Option<String>,
}

impl MailConfig {
    /// - `SIKURD_SENDER_EMAIL`: the address e-mail comes from.
    /// - `SIKURD_SENDGRID_API_KEY_ENCRYPTED` (optional): the SendGrid API key, KMS-encrypted
    ///   with the context `purpose=sendgrid-api-key`, base64. Without it every e-mail fails,
    ///   saying why.
    /// - `SIKURD_SENDGRID_BASE_URL` (optional, default `https://api.sendgrid.com`).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let name = "SIKURD_SENDER_EMAIL";
        let sender =
            Email::parse(&env.required(name)?).map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })?;
        Ok(Self {
            sender,
            sendgrid_key: env.optional("SIKURD_SENDGRID_API_KEY_ENCRYPTED"),
            sendgrid_base_url: env.optional("SIKURD_SENDGRID_BASE_URL"),
        })
    }

    /// E-mail through SendGrid; the key is decrypted at the first e-mail, not at cold start.
    pub fn mailer(&self, sdk: &SdkConfig) -> Arc<dyn Mailer> {
        match &self.sendgrid_key {
            Some(encrypted) => Arc::new(SendGridWithKms {
                kms: aws_sdk_kms::Client::new(sdk),
                encrypted: encrypted.clone(),
                sender: self.sender.clone(),
                base_url: self.sendgrid_base_url.clone(),
                mailer: OnceCell::new(),
            }),
            None => Arc::new(NoMailer),
        }
    }
}

/// `SIKURD_PUBLIC_URL` (optional): the dashboard's address, for links in e-mails.
pub(super) fn public_url(env: &Env) -> Option<String> {
    env.optional("SIKURD_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned())
}

#[derive(Clone, Debug)]
pub struct NotifyConfig {
    mail: MailConfig,
    webhook_targets: TargetPolicy,
    public_url: Option<String>,
}

impl NotifyConfig {
    /// [`MailConfig`]'s variables, and:
    /// - `SIKURD_WEBHOOK_TARGETS`: `public` (default: HTTPS to public addresses only) or `any`.
    /// - `SIKURD_PUBLIC_URL` (optional): the dashboard's address, for links in notifications.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            mail: MailConfig::from_env(env)?,
            webhook_targets: super::target_policy(env, "SIKURD_WEBHOOK_TARGETS")?,
            public_url: public_url(env),
        })
    }

    pub fn public_url(&self) -> Option<String> {
        self.public_url.clone()
    }

    /// The dispatcher: webhooks over HTTPS, e-mail through SendGrid. The SendGrid key is
    /// decrypted at the first e-mail, not at cold start (most invocations send none).
    pub fn dispatcher(
        &self,
        sdk: &SdkConfig,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Dispatcher, Box<dyn std::error::Error + Send + Sync>> {
        let mailer = self.mail.mailer(sdk);
        let notifier = HttpNotifier::new(self.webhook_targets, mailer, Arc::clone(&clock))?;
        Ok(Dispatcher::new(store, Arc::new(notifier), clock))
    }
}

/// SendGrid with the API key given KMS-encrypted: decrypted once, on the first e-mail.
#[derive(Debug)]
struct SendGridWithKms {
    kms: aws_sdk_kms::Client,
    encrypted: String,
    sender: Email,
    base_url: Option<String>,
    mailer: OnceCell<SendGridMailer>,
}

#[async_trait]
impl Mailer for SendGridWithKms {
    async fn send(&self, to: &[Email], subject: &str, text: &str) -> Result<(), SendError> {
        let mailer = self
            .mailer
            .get_or_try_init(|| async {
                let key = decrypt_deployment_secret(&self.kms, &self.encrypted, SENDGRID_KEY_PURPOSE)
                    .await
                    .map_err(|e| SendError::Retryable(format!("the SendGrid API key cannot be decrypted: {e}")))?;
                let mailer = SendGridMailer::new(key, self.sender.clone())
                    .map_err(|e| SendError::Permanent(format!("the SendGrid client cannot be built: {e}")))?;
                Ok::<_, SendError>(match &self.base_url {
                    Some(base) => mailer.with_base_url(base),
                    None => mailer,
                })
            })
            .await?;
        mailer.send(to, subject, text).await
    }
}

/// The mailer of a deployment without a SendGrid key: every e-mail fails, saying why.
#[derive(Debug)]
struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _to: &[Email], _subject: &str, _text: &str) -> Result<(), SendError> {
        Err(SendError::Permanent("e-mail is not configured for this deployment (no SendGrid API key)".into()))
    }
}
