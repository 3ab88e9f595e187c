use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{StoreError, from_item, keys, to_attrs};
use crate::alerts::ChannelId;
use crate::crypto::{EncryptionContext, Envelope, SealedSecret};
use crate::domain::TenantId;
use crate::notify::{EmailTarget, WebhookFormat, WebhookTarget};
use crate::table::{Condition, Item, Query, Table, TableError};

/// Channels one tenant may have.
pub const MAX_CHANNELS: usize = 50;

/// A notification channel of a tenant. A webhook's URL (Slack and Teams URLs are credentials)
/// and signing secret are kept only sealed; what may be shown of it is its origin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub name: String,
    pub kind: ChannelKind,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChannelKind {
    Email { target: EmailTarget },
    Webhook { format: WebhookFormat, origin: String, sealed: SealedSecret },
}

/// What a webhook channel keeps sealed.
#[derive(Serialize, Deserialize)]
struct WebhookSecrets {
    target: WebhookTarget,
    signing_secret: String,
}

/// A channel's target, opened for sending.
#[derive(Debug)]
pub enum OpenedTarget {
    Email(EmailTarget),
    Webhook(WebhookTarget, SecretString),
}

/// Notification channels; webhook secrets sealed like 3CX credentials (bound to tenant and
/// channel).
#[derive(Debug, Clone)]
pub struct Channels {
    table: Arc<dyn Table>,
    envelope: Envelope,
}

impl Channels {
    pub fn new(table: Arc<dyn Table>, envelope: Envelope) -> Self {
        Self { table, envelope }
    }

    /// The kind of a webhook channel: the target and signing secret sealed.
    pub async fn webhook_kind(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        target: WebhookTarget,
        signing_secret: &SecretString,
    ) -> Result<ChannelKind, StoreError> {
        let origin = target.origin();
        let format = target.format();
        let secrets = WebhookSecrets { target, signing_secret: signing_secret.expose_secret().to_owned() };
        let plaintext = zeroize::Zeroizing::new(
            serde_json::to_vec(&secrets).map_err(|e| StoreError::Corrupt(format!("cannot encode: {e}")))?,
        );
        let context = EncryptionContext::channel_secret(tenant, channel.as_str());
        let sealed = self.envelope.seal(&plaintext, &context).await?;
        Ok(ChannelKind::Webhook { format, origin, sealed })
    }

    /// Stores a new channel; a conflict if the tenant has [`MAX_CHANNELS`] already.
    pub async fn create(&self, channel: &Channel) -> Result<(), StoreError> {
        if self.list(&channel.tenant_id).await?.len() >= MAX_CHANNELS {
            return Err(StoreError::Conflict("a tenant has at most 50 channels"));
        }
        let item = Item::new(keys::channel(&channel.tenant_id, &channel.id), to_attrs(channel)?);
        match self.table.put(item, Some(Condition::NotExists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::Conflict("channel already exists")),
            other => Ok(other?),
        }
    }

    /// Replaces an existing channel; not found if it does not exist.
    pub async fn replace(&self, channel: &Channel) -> Result<(), StoreError> {
        let item = Item::new(keys::channel(&channel.tenant_id, &channel.id), to_attrs(channel)?);
        match self.table.put(item, Some(Condition::Exists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::NotFound),
            other => Ok(other?),
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: &ChannelId) -> Result<Option<Channel>, StoreError> {
        self.table.get(&keys::channel(tenant, id)).await?.map(from_item).transpose()
    }

    /// The tenant's channels, in id (creation) order.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<Channel>, StoreError> {
        let (partition, prefix) = keys::channels_of(tenant);
        let query = Query::partition(partition).prefix(prefix).limit(100);
        let page = self.table.query(&query).await?;
        page.items.into_iter().map(from_item).collect()
    }

    /// Deletes a channel; not found if it does not exist.
    pub async fn delete(&self, tenant: &TenantId, id: &ChannelId) -> Result<(), StoreError> {
        match self.table.delete(&keys::channel(tenant, id), Some(Condition::Exists)).await {
            Err(TableError::ConditionFailed) => Err(StoreError::NotFound),
            other => Ok(other?),
        }
    }

    /// The channel's target, with a webhook's secrets opened.
    pub async fn open(&self, channel: &Channel) -> Result<OpenedTarget, StoreError> {
        match &channel.kind {
            ChannelKind::Email { target } => Ok(OpenedTarget::Email(target.clone())),
            ChannelKind::Webhook { sealed, .. } => {
                let context = EncryptionContext::channel_secret(&channel.tenant_id, channel.id.as_str());
                let plaintext = self.envelope.open(sealed, &context).await?;
                let secrets: WebhookSecrets = serde_json::from_slice(&plaintext)
                    .map_err(|_| StoreError::Corrupt(format!("channel {}: unreadable secrets", channel.id)))?;
                Ok(OpenedTarget::Webhook(secrets.target, SecretString::from(secrets.signing_secret)))
            }
        }
    }
}
