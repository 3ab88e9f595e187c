use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use secrecy::SecretBox;

use super::{CryptoError, DataKey, DataKeyBytes, EncryptionContext, KeyService};

/// Data keys from AWS KMS: `GenerateDataKey` (AES_256) and `Decrypt`, both with the encryption
/// context, which KMS binds into the wrapped key.
#[derive(Debug, Clone)]
pub struct KmsKeys {
    client: Client,
    key_id: String,
}

impl KmsKeys {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }
}

fn to_key(bytes: &[u8]) -> Result<DataKeyBytes, CryptoError> {
    let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::DecryptFailed)?;
    Ok(SecretBox::new(Box::new(key)))
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> CryptoError {
    CryptoError::Unavailable(Box::new(e))
}

/// A deployment secret handed to a function encrypted (the SendGrid API key): the base64 of a
/// KMS ciphertext made with the encryption context `{"purpose": purpose}`, e.g.
/// `aws kms encrypt --key-id <key> --plaintext fileb://key.txt --encryption-context purpose=<purpose>`.
pub async fn decrypt_deployment_secret(
    client: &Client,
    ciphertext_base64: &str,
    purpose: &str,
) -> Result<secrecy::SecretString, CryptoError> {
    use base64::Engine;
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(ciphertext_base64.trim())
        .map_err(|_| CryptoError::DecryptFailed)?;
    let out = client
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .encryption_context("purpose", purpose)
        .send()
        .await
        .map_err(unavailable)?;
    let plaintext = zeroize::Zeroizing::new(out.plaintext.map(|b| b.into_inner()).unwrap_or_default());
    let text = std::str::from_utf8(&plaintext).map_err(|_| CryptoError::DecryptFailed)?;
    Ok(secrecy::SecretString::from(text.trim().to_owned()))
}

#[async_trait]
impl KeyService for KmsKeys {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, CryptoError> {
        let mut request = self.client.generate_data_key().key_id(&self.key_id).key_spec(DataKeySpec::Aes256);
        for (k, v) in context.pairs() {
            request = request.encryption_context(k, v);
        }
        let out = request.send().await.map_err(unavailable)?;
        let (Some(plain), Some(wrapped)) = (out.plaintext, out.ciphertext_blob) else {
            return Err(CryptoError::Unavailable("KMS returned no data key".into()));
        };
        Ok(DataKey { plaintext: to_key(plain.as_ref())?, wrapped: wrapped.into_inner() })
    }

    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKeyBytes, CryptoError> {
        let mut request = self.client.decrypt().key_id(&self.key_id).ciphertext_blob(Blob::new(wrapped));
        for (k, v) in context.pairs() {
            request = request.encryption_context(k, v);
        }
        match request.send().await {
            Ok(out) => to_key(out.plaintext.as_ref().map(|b| b.as_ref()).unwrap_or_default()),
            Err(e) => {
                // KMS answers InvalidCiphertext/IncorrectKey for a wrong context; moto answers
                // AccessDenied. All mean: this wrapped key is not for this context.
                let refused = e.as_service_error().is_some_and(|s| {
                    s.is_invalid_ciphertext_exception()
                        || s.is_incorrect_key_exception()
                        || s.meta().code() == Some("AccessDeniedException")
                });
                if refused { Err(CryptoError::DecryptFailed) } else { Err(unavailable(e)) }
            }
        }
    }
}
