//! The key-service contract: every case runs against the local master key and against KMS (moto).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use secrecy::ExposeSecret;
use sikurd::crypto::{CryptoError, DataKey, DataKeyBytes, EncryptionContext, Envelope, KeyService, KmsKeys, LocalKeys};
use sikurd::domain::{InstanceId, TenantId};
use sikurd_tests::moto;

struct Keys {
    service: Arc<dyn KeyService>,
    _dir: Option<tempfile::TempDir>,
}

fn local() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let service = LocalKeys::open_or_create(&dir.path().join("master.key")).unwrap();
    Keys { service: Arc::new(service), _dir: Some(dir) }
}

async fn kms() -> Keys {
    let key_id = moto().fresh_kms_key().await;
    Keys { service: Arc::new(KmsKeys::new(moto().kms().await, key_id)), _dir: None }
}

fn context() -> EncryptionContext {
    EncryptionContext::pbx_credential(&TenantId::generate(), &InstanceId::generate())
}

/// Counts the calls that reach the wrapped key service.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn KeyService>,
    generated: AtomicUsize,
    decrypts: AtomicUsize,
}

impl Counting {
    fn over(inner: Arc<dyn KeyService>) -> Arc<Self> {
        Arc::new(Self { inner, generated: AtomicUsize::new(0), decrypts: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl KeyService for Counting {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, CryptoError> {
        self.generated.fetch_add(1, Ordering::Relaxed);
        self.inner.generate_data_key(context).await
    }

    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKeyBytes, CryptoError> {
        self.decrypts.fetch_add(1, Ordering::Relaxed);
        self.inner.decrypt_data_key(wrapped, context).await
    }
}

mod cases {
    use super::*;

    pub async fn a_data_key_unwraps_to_itself_in_its_own_context(keys: Keys) {
        let ctx = context();
        let key = keys.service.generate_data_key(&ctx).await.unwrap();
        assert_ne!(key.wrapped.as_slice(), key.plaintext.expose_secret().as_slice());
        let back = keys.service.decrypt_data_key(&key.wrapped, &ctx).await.unwrap();
        assert_eq!(back.expose_secret(), key.plaintext.expose_secret());
    }

    pub async fn a_data_key_does_not_unwrap_in_another_context(keys: Keys) {
        let tenant = TenantId::generate();
        let instance = InstanceId::generate();
        let key = keys.service.generate_data_key(&EncryptionContext::pbx_credential(&tenant, &instance)).await.unwrap();
        for other in [
            EncryptionContext::pbx_credential(&tenant, &InstanceId::generate()),
            EncryptionContext::pbx_credential(&TenantId::generate(), &instance),
        ] {
            let err = keys.service.decrypt_data_key(&key.wrapped, &other).await.err();
            assert!(matches!(err, Some(CryptoError::DecryptFailed)), "{err:?}");
        }
    }

    pub async fn a_damaged_wrapped_key_does_not_unwrap(keys: Keys) {
        let ctx = context();
        let mut wrapped = keys.service.generate_data_key(&ctx).await.unwrap().wrapped;
        let last = wrapped.len() - 1;
        wrapped[last] ^= 0x01;
        assert!(keys.service.decrypt_data_key(&wrapped, &ctx).await.is_err());
        assert!(keys.service.decrypt_data_key(&[], &ctx).await.is_err());
    }

    pub async fn sealed_secrets_open_only_in_their_context(keys: Keys) {
        let envelope = Envelope::new(keys.service.clone());
        let ctx = context();
        let sealed = envelope.seal(b"admin password", &ctx).await.unwrap();
        assert!(!sealed.ciphertext.windows(5).any(|w| w == b"admin"));
        assert_eq!(envelope.open(&sealed, &ctx).await.unwrap().as_slice(), b"admin password");
        assert!(matches!(envelope.open(&sealed, &context()).await, Err(CryptoError::DecryptFailed)));
        let tenant = ctx.pairs().find(|(k, _)| *k == "tenant").map(|(_, v)| TenantId::parse(v).unwrap()).unwrap();
        let sibling = EncryptionContext::pbx_credential(&tenant, &InstanceId::generate());
        let cold = Envelope::new(keys.service.clone());
        assert!(
            matches!(cold.open(&sealed, &sibling).await, Err(CryptoError::DecryptFailed)),
            "another instance of the same tenant (same data key) cannot open it"
        );
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 0x80;
        assert!(matches!(envelope.open(&tampered, &ctx).await, Err(CryptoError::DecryptFailed)));
    }

    pub async fn opening_a_secret_again_reuses_its_unwrapped_data_key(keys: Keys) {
        let ctx = context();
        let sealed = Envelope::new(keys.service.clone()).seal(b"pw", &ctx).await.unwrap();
        let counting = Counting::over(keys.service.clone());
        let envelope = Envelope::new(counting.clone());
        for _ in 0..10 {
            envelope.open(&sealed, &ctx).await.unwrap();
        }
        assert_eq!(counting.decrypts.load(Ordering::Relaxed), 1);
        assert!(envelope.open(&sealed, &context()).await.is_err(), "a cached key is not reused in another context");
    }

    /// A poller opens the credentials of many instances: the key service is called once per
    /// tenant, not once per instance.
    pub async fn a_tenant_s_secrets_share_one_data_key(keys: Keys) {
        let sealing = Counting::over(keys.service.clone());
        let envelope = Envelope::new(sealing.clone());
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let mut sealed = Vec::new();
        for tenant in [&a, &b] {
            for _ in 0..20 {
                let ctx = EncryptionContext::pbx_credential(tenant, &InstanceId::generate());
                sealed.push((envelope.seal(b"pw", &ctx).await.unwrap(), ctx));
            }
        }
        assert_eq!(sealing.generated.load(Ordering::Relaxed), 2, "one data key per tenant");
        for (secret, ctx) in &sealed {
            assert_eq!(envelope.open(secret, ctx).await.unwrap().as_slice(), b"pw");
        }
        assert_eq!(sealing.decrypts.load(Ordering::Relaxed), 0, "the sealing process keeps its keys");

        let cold = Counting::over(keys.service.clone());
        let poller = Envelope::new(cold.clone());
        for (secret, ctx) in &sealed {
            assert_eq!(poller.open(secret, ctx).await.unwrap().as_slice(), b"pw");
        }
        assert_eq!(cold.decrypts.load(Ordering::Relaxed), 2, "a cold process unwraps one key per tenant");
    }
}

macro_rules! for_each_key_service {
    ($($case:ident),* $(,)?) => {
        mod local {
            $( #[tokio::test] async fn $case() { super::cases::$case(super::local()).await } )*
        }
        mod kms {
            $( #[tokio::test] async fn $case() { super::cases::$case(super::kms().await).await } )*
        }
    };
}

for_each_key_service!(
    a_data_key_unwraps_to_itself_in_its_own_context,
    a_data_key_does_not_unwrap_in_another_context,
    a_damaged_wrapped_key_does_not_unwrap,
    sealed_secrets_open_only_in_their_context,
    opening_a_secret_again_reuses_its_unwrapped_data_key,
    a_tenant_s_secrets_share_one_data_key,
);
