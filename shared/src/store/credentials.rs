use std::sync::Arc;

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{StoreError, from_item, keys, to_attrs};
use crate::crypto::{EncryptionContext, Envelope, SealedSecret};
use crate::domain::{CredentialKind, InstanceId, PbxCredentials, TenantId};
use crate::pbx::IssuedToken;
use crate::table::{Item, Table};

/// 3CX credentials, stored only sealed (envelope encryption bound to tenant and instance).
#[derive(Debug, Clone)]
pub struct Credentials {
    table: Arc<dyn Table>,
    envelope: Envelope,
}

#[derive(Serialize, Deserialize)]
struct StoredCredential {
    kind: CredentialKind,
    sealed: SealedSecret,
}

/// A 3CX access token kept for the next poll, which may run in another process. It counts only
/// for the credentials it was obtained with (named by their seal's random nonce) and the
/// address it was obtained from, until `renew_at`.
#[derive(Serialize, Deserialize)]
struct StoredToken {
    credentials_seal: String,
    base_url: String,
    renew_at: DateTime<Utc>,
    sealed: SealedSecret,
}

/// What a poll needs: the credentials, and a kept token that is still good for them.
pub struct PollCredentials {
    pub credentials: PbxCredentials,
    pub token: Option<SecretString>,
    /// Names the credentials, for [`Credentials::keep_token`].
    pub seal: String,
}

fn seal_name(sealed: &SealedSecret) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(&sealed.nonce)
}

impl Credentials {
    pub fn new(table: Arc<dyn Table>, envelope: Envelope) -> Self {
        Self { table, envelope }
    }

    /// Seals and stores (or replaces) the instance's credentials.
    pub async fn put(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        credentials: &PbxCredentials,
    ) -> Result<(), StoreError> {
        let context = EncryptionContext::pbx_credential(tenant, instance);
        let sealed = self.envelope.seal(&credentials.to_plaintext(), &context).await?;
        let stored = StoredCredential { kind: credentials.kind(), sealed };
        self.table.put(Item::new(keys::credential(tenant, instance), to_attrs(&stored)?), None).await?;
        Ok(())
    }

    /// The instance's credentials, decrypted; fails if the stored ciphertext belongs to another
    /// tenant or instance.
    pub async fn get(&self, tenant: &TenantId, instance: &InstanceId) -> Result<Option<PbxCredentials>, StoreError> {
        let Some(item) = self.table.get(&keys::credential(tenant, instance)).await? else {
            return Ok(None);
        };
        self.open(tenant, instance, &from_item(item)?).await.map(Some)
    }

    /// The credentials and the token kept for them, if it was obtained from `base_url` and is
    /// still good at `now`, in one read. A token that cannot be opened is ignored.
    pub async fn for_poll(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        base_url: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PollCredentials>, StoreError> {
        let (credential_key, token_key) =
            (keys::credential(tenant, instance), keys::credential_token(tenant, instance));
        let items = self.table.batch_get(&[credential_key.clone(), token_key.clone()]).await?;
        let mut credential = None;
        let mut token = None;
        for item in items {
            if item.key == credential_key {
                credential = Some(from_item::<StoredCredential>(item)?);
            } else if item.key == token_key {
                token = from_item::<StoredToken>(item).ok();
            }
        }
        let Some(stored) = credential else { return Ok(None) };
        let credentials = self.open(tenant, instance, &stored).await?;
        let seal = seal_name(&stored.sealed);
        let token = match token.filter(|t| t.credentials_seal == seal && t.base_url == base_url && now < t.renew_at) {
            Some(kept) => {
                let context = EncryptionContext::pbx_token(tenant, instance);
                let opened = self.envelope.open(&kept.sealed, &context).await.ok();
                opened.and_then(|bytes| String::from_utf8(bytes.to_vec()).ok()).map(SecretString::from)
            }
            None => None,
        };
        Ok(Some(PollCredentials { credentials, token, seal }))
    }

    async fn open(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        stored: &StoredCredential,
    ) -> Result<PbxCredentials, StoreError> {
        let context = EncryptionContext::pbx_credential(tenant, instance);
        Ok(PbxCredentials::from_plaintext(&self.envelope.open(&stored.sealed, &context).await?)?)
    }

    /// Keeps a token a poll obtained, for the credentials named by `seal`.
    pub async fn keep_token(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        seal: &str,
        base_url: &str,
        token: &IssuedToken,
    ) -> Result<(), StoreError> {
        let context = EncryptionContext::pbx_token(tenant, instance);
        let sealed = self.envelope.seal(token.token.expose_secret().as_bytes(), &context).await?;
        let stored = StoredToken {
            credentials_seal: seal.to_owned(),
            base_url: base_url.to_owned(),
            renew_at: token.renew_at,
            sealed,
        };
        self.table.put(Item::new(keys::credential_token(tenant, instance), to_attrs(&stored)?), None).await?;
        Ok(())
    }

    pub async fn delete(&self, tenant: &TenantId, instance: &InstanceId) -> Result<(), StoreError> {
        self.table.delete(&keys::credential_token(tenant, instance), None).await?;
        Ok(self.table.delete(&keys::credential(tenant, instance), None).await?)
    }
}
