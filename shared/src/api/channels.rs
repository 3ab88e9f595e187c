//! Notification channels of the caller's tenant: e-mail recipients and webhooks (generic, Slack,
//! Teams), and the "send test" action.
//!
//! Everyone reads; admins and owners add, edit, delete and test. A webhook's URL is a credential
//! (Slack and Teams put their token in it) and its signing secret is ours: both are kept sealed,
//! a response shows only the URL's origin, and the signing secret is returned once, in the
//! response that made it (create, or an edit with `rotate_secret`). Deleting a channel takes it
//! out of every route; a route left without channels goes with it, and the answer says which.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::audit::{record, record_outcome};
use super::auth::Caller;
use super::error::{ApiError, ErrorBody, error_response};
use super::extract::{Body, SourceIp};
use crate::alerts::{ChannelId, ChannelReferencesRemoved, TestError};
use crate::config::Deployment;
use crate::domain::{AuditOutcome, Email, Role, ValueError};
use crate::notify::{EmailTarget, WebhookFormat, WebhookTarget};
use crate::pbx::TargetPolicy;
use crate::store::{Channel, ChannelKind, OpenedTarget};

/// Longest channel name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// What every signing secret starts with.
pub const SIGNING_SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a signing secret (written in unpadded base64url after the prefix).
const SIGNING_SECRET_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelType {
    Email,
    Webhook,
}

/// A notification channel. Never carries a webhook's URL or its sealed secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// `ch_…`
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelType,
    /// E-mail channels: the recipients.
    pub to: Option<Vec<String>>,
    /// Webhook channels: the body's form.
    pub format: Option<WebhookFormat>,
    /// Webhook channels: the URL's scheme, host and port. The URL itself is never shown.
    pub origin: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Webhook channels, only in the answer that made it (create, or `rotate_secret`): the
    /// secret that signs each post. It is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

fn view(channel: Channel, signing_secret: Option<&SecretString>) -> ChannelView {
    let (kind, to, format, origin) = match channel.kind {
        ChannelKind::Email { target } => {
            (ChannelType::Email, Some(target.to().iter().map(ToString::to_string).collect()), None, None)
        }
        ChannelKind::Webhook { format, origin, .. } => (ChannelType::Webhook, None, Some(format), Some(origin)),
    };
    ChannelView {
        id: channel.id.to_string(),
        name: channel.name,
        kind,
        to,
        format,
        origin,
        created_at: channel.created_at,
        signing_secret: signing_secret.map(|s| s.expose_secret().to_owned()),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    /// Every channel of the tenant (at most 50), oldest first.
    pub items: Vec<ChannelView>,
}

/// A new channel, by `type`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum NewChannelRequest {
    /// E-mail to 1 to 10 addresses.
    Email {
        /// 1 to 100 characters.
        name: String,
        to: Vec<String>,
    },
    /// A signed HTTPS post; the answer carries the signing secret, once.
    Webhook {
        /// 1 to 100 characters.
        name: String,
        /// `https://` to a public host (plain `http://` and private hosts only in the local
        /// stack), at most 2048 characters. Write-only.
        #[schema(value_type = String)]
        url: SecretString,
        /// Default `generic`.
        #[serde(default)]
        format: Option<WebhookFormat>,
    },
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPatchRequest {
    pub name: Option<String>,
    /// E-mail channels: replaces the recipients.
    pub to: Option<Vec<String>>,
    /// Webhook channels: replaces the URL (write-only).
    #[schema(value_type = Option<String>)]
    pub url: Option<SecretString>,
    /// Webhook channels: the body's form.
    pub format: Option<WebhookFormat>,
    /// Webhook channels: `true` makes a new signing secret, returned once in this answer; the
    /// old one stops signing at once.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// What deleting a channel changed in the routes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelDeleted {
    /// Routes that named the channel and keep their other channels (`rt_…`).
    pub routes_updated: Vec<String>,
    /// Routes that named only this channel, deleted with it (`rt_…`).
    pub routes_removed: Vec<String>,
}

impl From<ChannelReferencesRemoved> for ChannelDeleted {
    fn from(r: ChannelReferencesRemoved) -> Self {
        Self {
            routes_updated: r.updated.iter().map(ToString::to_string).collect(),
            routes_removed: r.removed.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A new signing secret: `whsec_` and 256 random bits in unpadded base64url.
fn new_signing_secret() -> SecretString {
    let mut bytes = zeroize::Zeroizing::new([0u8; SIGNING_SECRET_BYTES]);
    rand::rng().fill_bytes(bytes.as_mut_slice());
    SecretString::from(format!("{SIGNING_SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes.as_slice())))
}

fn channel_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let reason = if name.is_empty() {
        "must not be empty".to_owned()
    } else if name.chars().count() > NAME_MAX_CHARS {
        format!("must be at most {NAME_MAX_CHARS} characters")
    } else if name.chars().any(char::is_control) {
        "must not contain control characters".to_owned()
    } else {
        return Ok(name.to_owned());
    };
    Err(ValueError::new("name", reason).into())
}

fn email_target(raw: &[String]) -> Result<EmailTarget, ApiError> {
    let to = raw
        .iter()
        .map(|r| {
            Email::parse(r).map_err(|e| ValueError::new("to", format!("{r:?} is not an e-mail address: {}", e.reason)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EmailTarget::new(to).map_err(|e| ValueError::new("to", e.reason))?)
}

/// Where the deployment may post: in the cloud `https://` to public hosts only.
fn policy(state: &ApiState) -> TargetPolicy {
    match state.config().deployment {
        Deployment::Cloud => TargetPolicy::PublicOnly,
        Deployment::Local => TargetPolicy::AllowPrivate,
    }
}

fn webhook_target(state: &ApiState, url: &SecretString, format: WebhookFormat) -> Result<WebhookTarget, ApiError> {
    // The reason never repeats the URL.
    Ok(WebhookTarget::new(url.expose_secret(), format, policy(state)).map_err(|e| ValueError::new("url", e.reason))?)
}

fn channel_id(raw: &str) -> Result<ChannelId, ApiError> {
    ChannelId::parse(raw).map_err(|_| ApiError::NotFound)
}

fn audit_target(raw: &str) -> Option<String> {
    ChannelId::parse(raw).ok().map(|id| id.to_string())
}

/// The channel if the caller's tenant has it.
async fn tenant_channel(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<Channel, ApiError> {
    let id = channel_id(raw_id)?;
    state.store().channels.get(caller.tenant_id(), &id).await?.ok_or(ApiError::NotFound)
}

/// The tenant's notification channels. Webhooks show their origin, never their URL.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<ApiState>, caller: Caller) -> Result<Json<ChannelList>, ApiError> {
    let channels = state.store().channels.list(caller.tenant_id()).await?;
    Ok(Json(ChannelList { items: channels.into_iter().map(|c| view(c, None)).collect() }))
}

async fn create_channel(
    state: &ApiState,
    caller: &Caller,
    body: Result<NewChannelRequest, ApiError>,
) -> Result<(Channel, Option<SecretString>), ApiError> {
    caller.require(Role::Admin)?;
    let id = ChannelId::generate();
    let tenant = caller.tenant_id();
    let (name, kind, secret) = match body? {
        NewChannelRequest::Email { name, to } => {
            (channel_name(&name)?, ChannelKind::Email { target: email_target(&to)? }, None)
        }
        NewChannelRequest::Webhook { name, url, format } => {
            let name = channel_name(&name)?;
            let target = webhook_target(state, &url, format.unwrap_or(WebhookFormat::Generic))?;
            let secret = new_signing_secret();
            let kind = state.store().channels.webhook_kind(tenant, &id, target, &secret).await?;
            (name, kind, Some(secret))
        }
    };
    let channel = Channel { id, tenant_id: tenant.clone(), name, kind, created_at: state.now() };
    state.store().channels.create(&channel).await?;
    Ok((channel, secret))
}

/// Adds a channel (admins and owners; at most 50 per tenant). A webhook's answer carries its
/// `signing_secret`: the only time it is shown.
#[utoipa::path(post, path = "/api/v1/channels", tag = "channels", request_body = NewChannelRequest,
    responses((status = 201, body = ChannelView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Body(body): Body<NewChannelRequest>,
) -> Result<(StatusCode, Json<ChannelView>), ApiError> {
    let result = create_channel(&state, &caller, body).await;
    let target = result.as_ref().ok().map(|(c, _)| c.id.to_string());
    record(&state, &caller, source, "channel.create", target, &result).await;
    let (channel, secret) = result?;
    Ok((StatusCode::CREATED, Json(view(channel, secret.as_ref()))))
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "`ch_…`")),
    responses((status = 200, body = ChannelView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    Ok(Json(view(tenant_channel(&state, &caller, &id).await?, None)))
}

/// A webhook's new target and secret; `None` when the patch changes neither.
async fn webhook_change(
    state: &ApiState,
    channel: &Channel,
    current: WebhookFormat,
    patch: &ChannelPatchRequest,
) -> Result<Option<(WebhookTarget, SecretString)>, ApiError> {
    if patch.url.is_none() && patch.format.is_none() && !patch.rotate_secret {
        return Ok(None);
    }
    let format = patch.format.unwrap_or(current);
    let new_target = patch.url.as_ref().map(|url| webhook_target(state, url, format)).transpose()?;
    let rotated = patch.rotate_secret.then(new_signing_secret);
    let (target, secret) = match (new_target, rotated) {
        (Some(target), Some(secret)) => (target, secret),
        (new_target, rotated) => {
            let OpenedTarget::Webhook(old_target, old_secret) = state.store().channels.open(channel).await? else {
                return Err(ApiError::Internal("a webhook channel opened as another kind".into()));
            };
            let target = match new_target {
                Some(target) => target,
                None if old_target.format() == format => old_target,
                // Accepted under the policy when it was stored; the sender checks it before each post.
                None => WebhookTarget::new(old_target.url(), format, TargetPolicy::AllowPrivate)?,
            };
            (target, rotated.unwrap_or(old_secret))
        }
    };
    Ok(Some((target, secret)))
}

async fn update_channel(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<ChannelPatchRequest, ApiError>,
) -> Result<(Channel, Option<SecretString>), ApiError> {
    caller.require(Role::Admin)?;
    let mut channel = tenant_channel(state, caller, raw_id).await?;
    let patch = body?;
    if let Some(name) = &patch.name {
        channel.name = channel_name(name)?;
    }
    let mut shown_secret = None;
    match &channel.kind {
        ChannelKind::Email { .. } => {
            if patch.url.is_some() || patch.format.is_some() || patch.rotate_secret {
                return Err(ApiError::Invalid(
                    "invalid url, format, rotate_secret: only webhook channels have them".into(),
                ));
            }
            if let Some(to) = &patch.to {
                channel.kind = ChannelKind::Email { target: email_target(to)? };
            }
        }
        ChannelKind::Webhook { format, .. } => {
            if patch.to.is_some() {
                return Err(ApiError::Invalid("invalid to: only e-mail channels have recipients".into()));
            }
            if let Some((target, secret)) = webhook_change(state, &channel, *format, &patch).await? {
                channel.kind =
                    state.store().channels.webhook_kind(caller.tenant_id(), &channel.id, target, &secret).await?;
                shown_secret = patch.rotate_secret.then_some(secret);
            }
        }
    }
    state.store().channels.replace(&channel).await?;
    Ok((channel, shown_secret))
}

/// Edits a channel (admins and owners): name, e-mail recipients, or a webhook's URL, format and
/// signing secret (`rotate_secret`; the new one is in this answer only).
#[utoipa::path(patch, path = "/api/v1/channels/{id}", tag = "channels", request_body = ChannelPatchRequest,
    params(("id" = String, Path, description = "`ch_…`")),
    responses((status = 200, body = ChannelView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<ChannelPatchRequest>,
) -> Result<Json<ChannelView>, ApiError> {
    let result = update_channel(&state, &caller, &id, body).await;
    record(&state, &caller, source, "channel.update", audit_target(&id), &result).await;
    let (channel, secret) = result?;
    Ok(Json(view(channel, secret.as_ref())))
}

async fn delete_channel(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<ChannelReferencesRemoved, ApiError> {
    caller.require(Role::Admin)?;
    let channel = tenant_channel(state, caller, raw_id).await?;
    let tenant = caller.tenant_id();
    let alerts = &state.store().alerts;
    let mut detached = ChannelReferencesRemoved::default();
    // The routes first: a channel left behind by a failure here is still whole and can be
    // deleted again; a route naming a deleted channel would only drop its deliveries.
    if !alerts.settings(tenant).await?.routes_using(&channel.id).is_empty() {
        (_, detached) = alerts.update_settings(tenant, |s| Ok(s.remove_channel_references(&channel.id))).await?;
    }
    state.store().channels.delete(tenant, &channel.id).await?;
    Ok(detached)
}

/// Deletes a channel (admins and owners) and takes it out of every route: a route left without
/// channels is deleted, an escalation left without channels stops. Answers with the routes
/// changed.
#[utoipa::path(delete, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "`ch_…`")),
    responses((status = 200, body = ChannelDeleted), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ChannelDeleted>, ApiError> {
    let result = delete_channel(&state, &caller, &id).await;
    record(&state, &caller, source, "channel.delete", audit_target(&id), &result).await;
    Ok(Json(result?.into()))
}

/// Why a test notice was not sent.
#[derive(Debug)]
enum TestFailure {
    Api(ApiError),
    /// This deployment has nothing to send with.
    Unavailable,
    /// The channel refused the notice or could not be reached; the reason holds no secret.
    NotDelivered(String),
}

impl TestFailure {
    fn code(&self) -> &'static str {
        match self {
            Self::Api(e) => e.code(),
            Self::Unavailable => "notifications_unavailable",
            Self::NotDelivered(_) => "channel_test_failed",
        }
    }
}

impl From<ApiError> for TestFailure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl IntoResponse for TestFailure {
    fn into_response(self) -> Response {
        let code = self.code();
        match self {
            Self::Api(e) => e.into_response(),
            Self::Unavailable => {
                error_response(StatusCode::SERVICE_UNAVAILABLE, code, "this deployment cannot send notifications")
            }
            Self::NotDelivered(why) => error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                &format!("the test notice was not delivered: {why}"),
            ),
        }
    }
}

async fn test_channel(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<(), TestFailure> {
    caller.require(Role::Admin)?;
    let channel = tenant_channel(state, caller, raw_id).await?;
    let dispatcher = state.dispatcher().ok_or(TestFailure::Unavailable)?;
    match dispatcher.send_test(&channel, None).await {
        Ok(()) => Ok(()),
        Err(TestError::Send(e)) => Err(TestFailure::NotDelivered(e.to_string())),
        Err(TestError::Store(e)) => Err(ApiError::from(e).into()),
    }
}

/// Sends a test notice to the channel now (admins and owners), signed like an alert's; not
/// retried. 422 `channel_test_failed` says why it was not delivered (refused, or not reached);
/// 503 `notifications_unavailable` where this deployment cannot send.
#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "channels",
    params(("id" = String, Path, description = "`ch_…`")),
    responses((status = 204, description = "Delivered"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn test(State(state): State<ApiState>, source: SourceIp, caller: Caller, Path(id): Path<String>) -> Response {
    let result = test_channel(&state, &caller, &id).await;
    let outcome = match &result {
        Ok(()) => AuditOutcome::Succeeded,
        Err(e) => AuditOutcome::Failed { reason: e.code().to_owned() },
    };
    record_outcome(&state, caller.tenant_id(), caller.actor(), "channel.test", audit_target(&id), source, outcome)
        .await;
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}
