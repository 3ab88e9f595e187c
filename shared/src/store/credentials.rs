use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{StoreError, from_item, keys, to_attrs};
use crate::crypto::{EncryptionContext, Envelope, SealedSecret};
use crate::domain::{CredentialKind, InstanceId, PbxCredentials, TenantId};
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
        let stored: StoredCredential = from_item(item)?;
        let context = EncryptionContext::pbx_credential(tenant, instance);
        let plaintext = self.envelope.open(&stored.sealed, &context).await?;
        Ok(Some(PbxCredentials::from_plaintext(&plaintext)?))
    }

    pub async fn delete(&self, tenant: &TenantId, instance: &InstanceId) -> Result<(), StoreError> {
        Ok(self.table.delete(&keys::credential(tenant, instance), None).await?)
    }
}
