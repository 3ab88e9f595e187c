//! Envelope encryption of secrets. A secret is sealed with AES-256-GCM under a 256-bit data key,
//! with its full encryption context (tenant and object) as additional authenticated data, so a
//! ciphertext copied onto another instance or tenant fails to decrypt. The data key is stored
//! only wrapped, by KMS ([`KmsKeys`]) or by a local master key file ([`LocalKeys`]), bound to the
//! tenant ([`EncryptionContext::key_context`]): a process reuses one data key for the secrets it
//! seals for a tenant for a while (at most [`CACHE_TTL`] and [`MAX_SEALS_PER_KEY`] secrets), and
//! a warm process unwraps each data key once, so KMS calls grow with tenants, not instances.

mod kms;
mod local;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use async_trait::async_trait;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use kms::{KmsKeys, decrypt_deployment_secret};
pub use local::LocalKeys;

use crate::domain::{InstanceId, TenantId};

/// A plaintext data key; zeroed on drop, never printed.
pub type DataKeyBytes = SecretBox<[u8; 32]>;

/// What a secret is bound to. Sent to KMS as its encryption context and used as the AEAD's
/// additional data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptionContext(BTreeMap<&'static str, String>);

impl EncryptionContext {
    /// The context of a 3CX instance's credentials.
    pub fn pbx_credential(tenant: &TenantId, instance: &InstanceId) -> Self {
        Self(BTreeMap::from([
            ("purpose", "pbx-credential".to_owned()),
            ("tenant", tenant.to_string()),
            ("instance", instance.to_string()),
        ]))
    }

    /// The context of a 3CX access token kept for an instance.
    pub fn pbx_token(tenant: &TenantId, instance: &InstanceId) -> Self {
        Self(BTreeMap::from([
            ("purpose", "pbx-token".to_owned()),
            ("tenant", tenant.to_string()),
            ("instance", instance.to_string()),
        ]))
    }

    /// The context of a notification channel's secrets (a webhook's URL and signing secret).
    pub fn channel_secret(tenant: &TenantId, channel: &str) -> Self {
        Self(BTreeMap::from([
            ("purpose", "channel-secret".to_owned()),
            ("tenant", tenant.to_string()),
            ("channel", channel.to_owned()),
        ]))
    }

    /// What the data key is bound to (the KMS encryption context): the tenant alone, so one
    /// data key can serve all of a tenant's secrets.
    pub fn key_context(&self) -> Self {
        let tenant = self.0.get("tenant").cloned().unwrap_or_default();
        Self(BTreeMap::from([("purpose", "tenant-secrets".to_owned()), ("tenant", tenant)]))
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// A canonical byte form: `k=v` pairs in key order, `;`-separated.
    pub fn canonical(&self) -> Vec<u8> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";").into_bytes()
    }
}

/// A data key as the key service returns it: in the clear for immediate use, and wrapped.
pub struct DataKey {
    pub plaintext: DataKeyBytes,
    pub wrapped: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The ciphertext is damaged or belongs to another context (another tenant or object).
    #[error("the secret does not decrypt in this context")]
    DecryptFailed,
    #[error("master key file: {0}")]
    MasterKey(String),
    #[error("the key service is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Generates and unwraps data keys (KMS `GenerateDataKey`/`Decrypt`, or a local master key).
#[async_trait]
pub trait KeyService: Send + Sync + std::fmt::Debug {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, CryptoError>;

    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKeyBytes, CryptoError>;
}

/// The key service of a function that holds no secrets (it never seals or opens one): every
/// call is refused, so such a function needs no KMS permission and no key id.
#[derive(Debug, Default)]
pub struct NoKeys;

#[derive(Debug, thiserror::Error)]
#[error("this function holds no keys")]
struct NoKeysError;

#[async_trait]
impl KeyService for NoKeys {
    async fn generate_data_key(&self, _context: &EncryptionContext) -> Result<DataKey, CryptoError> {
        Err(CryptoError::Unavailable(Box::new(NoKeysError)))
    }

    async fn decrypt_data_key(
        &self,
        _wrapped: &[u8],
        _context: &EncryptionContext,
    ) -> Result<DataKeyBytes, CryptoError> {
        Err(CryptoError::Unavailable(Box::new(NoKeysError)))
    }
}

/// A sealed secret as stored: nothing in it is readable without the key service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    #[serde(with = "serde_bytes_b64")]
    pub wrapped_key: Vec<u8>,
    #[serde(with = "serde_bytes_b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "serde_bytes_b64")]
    pub ciphertext: Vec<u8>,
    #[serde(default)]
    pub key_scope: KeyScope,
}

/// What the wrapped data key of a sealed secret is bound to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyScope {
    /// The secret's full context (a data key per secret: secrets sealed before tenant keys).
    #[default]
    Secret,
    /// [`EncryptionContext::key_context`].
    Tenant,
}

mod serde_bytes_b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn aes_seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = Aes256Gcm::new(key.into());
    // Encryption with a valid key and nonce only fails for inputs over 64 GiB.
    let ciphertext = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
    (nonce.to_vec(), ciphertext)
}

pub(crate) fn aes_open(
    key: &[u8; 32],
    nonce: &[u8],
    ciphertext: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if nonce.len() != 12 {
        return Err(CryptoError::DecryptFailed);
    }
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::DecryptFailed)
}

/// How long an unwrapped data key is kept, and a data key used to seal.
pub const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
/// Secrets sealed under one data key at most (random 96-bit nonces stay far from collisions).
pub const MAX_SEALS_PER_KEY: u32 = 10_000;
const CACHE_MAX: usize = 50_000;

/// Seals and opens secrets, keeping data keys for a while (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Envelope {
    keys: Arc<dyn KeyService>,
    cache: Arc<Mutex<DataKeyCache>>,
    sealing: Arc<Mutex<SealingKeys>>,
}

/// Unwrapped data keys by a hash of (wrapped key, key context), with when they were unwrapped.
type DataKeyCache = HashMap<[u8; 32], (Arc<DataKeyBytes>, Instant)>;

/// The data key used to seal, per key context: the key, wrapped, since when, how many sealed.
type SealingKeys = HashMap<Vec<u8>, (Arc<DataKeyBytes>, Vec<u8>, Instant, u32)>;

fn cache_key(wrapped: &[u8], key_context: &EncryptionContext) -> [u8; 32] {
    Sha256::new().chain_update(wrapped).chain_update([0]).chain_update(key_context.canonical()).finalize().into()
}

impl Envelope {
    pub fn new(keys: Arc<dyn KeyService>) -> Self {
        Self { keys, cache: Arc::default(), sealing: Arc::default() }
    }

    pub async fn seal(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<SealedSecret, CryptoError> {
        let (key, wrapped_key) = self.sealing_key(&context.key_context()).await?;
        let (nonce, ciphertext) = aes_seal(key.expose_secret(), plaintext, &context.canonical());
        Ok(SealedSecret { wrapped_key, nonce, ciphertext, key_scope: KeyScope::Tenant })
    }

    pub async fn open(
        &self,
        sealed: &SealedSecret,
        context: &EncryptionContext,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let key_context = match sealed.key_scope {
            KeyScope::Tenant => context.key_context(),
            KeyScope::Secret => context.clone(),
        };
        let key = self.data_key(&sealed.wrapped_key, &key_context).await?;
        aes_open(key.expose_secret(), &sealed.nonce, &sealed.ciphertext, &context.canonical())
    }

    async fn sealing_key(&self, key_context: &EncryptionContext) -> Result<(Arc<DataKeyBytes>, Vec<u8>), CryptoError> {
        let id = key_context.canonical();
        let now = Instant::now();
        {
            let mut sealing = self.sealing.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((key, wrapped, since, sealed)) = sealing.get_mut(&id)
                && now.duration_since(*since) < CACHE_TTL
                && *sealed < MAX_SEALS_PER_KEY
            {
                *sealed += 1;
                return Ok((Arc::clone(key), wrapped.clone()));
            }
        }
        let fresh = self.keys.generate_data_key(key_context).await?;
        let key = Arc::new(fresh.plaintext);
        self.remember(cache_key(&fresh.wrapped, key_context), &key, now);
        let mut sealing = self.sealing.lock().unwrap_or_else(|e| e.into_inner());
        if sealing.len() >= CACHE_MAX {
            sealing.clear();
        }
        sealing.insert(id, (Arc::clone(&key), fresh.wrapped.clone(), now, 1));
        Ok((key, fresh.wrapped))
    }

    async fn data_key(
        &self,
        wrapped: &[u8],
        key_context: &EncryptionContext,
    ) -> Result<Arc<DataKeyBytes>, CryptoError> {
        let cache_key = cache_key(wrapped, key_context);
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((key, at)) = cache.get(&cache_key)
                && now.duration_since(*at) < CACHE_TTL
            {
                return Ok(Arc::clone(key));
            }
        }
        let key = Arc::new(self.keys.decrypt_data_key(wrapped, key_context).await?);
        self.remember(cache_key, &key, now);
        Ok(key)
    }

    fn remember(&self, cache_key: [u8; 32], key: &Arc<DataKeyBytes>, now: Instant) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, at)| now.duration_since(*at) < CACHE_TTL);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(cache_key, (Arc::clone(key), now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trips_and_binds_the_additional_data() {
        let key = [7u8; 32];
        let (nonce, ct) = aes_seal(&key, b"hunter2", b"tenant=a");
        assert_eq!(aes_open(&key, &nonce, &ct, b"tenant=a").map(|p| p.to_vec()).ok(), Some(b"hunter2".to_vec()));
        assert!(matches!(aes_open(&key, &nonce, &ct, b"tenant=b"), Err(CryptoError::DecryptFailed)));
        assert!(matches!(aes_open(&[8u8; 32], &nonce, &ct, b"tenant=a"), Err(CryptoError::DecryptFailed)));
        assert!(matches!(aes_open(&key, &nonce[..4], &ct, b"tenant=a"), Err(CryptoError::DecryptFailed)));
    }

    #[tokio::test]
    async fn a_secret_sealed_with_its_own_data_key_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(LocalKeys::open_or_create(&dir.path().join("master.key")).unwrap());
        let ctx = EncryptionContext::pbx_credential(&TenantId::generate(), &InstanceId::generate());
        let key = keys.generate_data_key(&ctx).await.unwrap();
        let (nonce, ciphertext) = aes_seal(key.plaintext.expose_secret(), b"pw", &ctx.canonical());
        let legacy: SealedSecret = serde_json::from_value(
            serde_json::to_value(SealedSecret {
                wrapped_key: key.wrapped,
                nonce,
                ciphertext,
                key_scope: KeyScope::Secret,
            })
            .map(|mut v| {
                v.as_object_mut().map(|o| o.remove("key_scope"));
                v
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(legacy.key_scope, KeyScope::Secret, "stored before key scopes existed");
        assert_eq!(Envelope::new(keys).open(&legacy, &ctx).await.unwrap().as_slice(), b"pw");
    }

    #[test]
    fn contexts_are_canonical_and_name_tenant_and_instance() {
        let t = TenantId::generate();
        let i = InstanceId::generate();
        let text = String::from_utf8(EncryptionContext::pbx_credential(&t, &i).canonical()).unwrap_or_default();
        assert_eq!(text, format!("instance={i};purpose=pbx-credential;tenant={t}"));
    }
}
