use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox};

use super::{CryptoError, DataKey, DataKeyBytes, EncryptionContext, KeyService, aes_open, aes_seal};

/// Wraps data keys with a 256-bit master key kept in a file (mode 0600), created on first start.
/// The local stand-in for KMS.
pub struct LocalKeys {
    master: SecretBox<[u8; 32]>,
    path: PathBuf,
}

impl std::fmt::Debug for LocalKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeys").field("path", &self.path).finish_non_exhaustive()
    }
}

const WRAP_AAD: &[u8] = b"sikurd-local-wrap:";

impl LocalKeys {
    /// Reads the master key file, or creates it (32 random bytes, mode 0600) if it is missing.
    /// Refuses a file of the wrong size or one readable by group or others.
    pub fn open_or_create(path: &Path) -> Result<Self, CryptoError> {
        let err = |what: &str, e: std::io::Error| CryptoError::MasterKey(format!("{what} {}: {e}", path.display()));
        let mut master = Box::new([0u8; 32]);
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(mut file) => {
                rand::rng().fill_bytes(master.as_mut_slice());
                file.write_all(master.as_slice()).and_then(|()| file.sync_all()).map_err(|e| err("cannot write", e))?;
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let mut file = OpenOptions::new().read(true).open(path).map_err(|e| err("cannot open", e))?;
                let mode = file.metadata().map_err(|e| err("cannot stat", e))?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(CryptoError::MasterKey(format!(
                        "{} is readable by other users (mode {:o}); chmod 600 it",
                        path.display(),
                        mode & 0o777
                    )));
                }
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(|e| err("cannot read", e))?;
                if bytes.len() != 32 {
                    return Err(CryptoError::MasterKey(format!("{} must hold exactly 32 bytes", path.display())));
                }
                master.copy_from_slice(&bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
            }
            Err(e) => return Err(err("cannot create", e)),
        }
        Ok(Self { master: SecretBox::new(master), path: path.to_owned() })
    }

    fn aad(context: &EncryptionContext) -> Vec<u8> {
        [WRAP_AAD, &context.canonical()].concat()
    }
}

#[async_trait]
impl KeyService for LocalKeys {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, CryptoError> {
        let mut key = Box::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut_slice());
        let (nonce, wrapped) = aes_seal(self.master.expose_secret(), key.as_slice(), &Self::aad(context));
        Ok(DataKey { plaintext: SecretBox::new(key), wrapped: [nonce, wrapped].concat() })
    }

    async fn decrypt_data_key(&self, wrapped: &[u8], context: &EncryptionContext) -> Result<DataKeyBytes, CryptoError> {
        if wrapped.len() < 12 {
            return Err(CryptoError::DecryptFailed);
        }
        let (nonce, ct) = wrapped.split_at(12);
        let plain = aes_open(self.master.expose_secret(), nonce, ct, &Self::aad(context))?;
        let key: [u8; 32] = plain.as_slice().try_into().map_err(|_| CryptoError::DecryptFailed)?;
        Ok(SecretBox::new(Box::new(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InstanceId, TenantId};

    #[tokio::test]
    async fn the_master_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let first = LocalKeys::open_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let ctx = EncryptionContext::pbx_credential(&TenantId::generate(), &InstanceId::generate());
        let key = first.generate_data_key(&ctx).await.unwrap();
        let again = LocalKeys::open_or_create(&path).unwrap();
        let unwrapped = again.decrypt_data_key(&key.wrapped, &ctx).await.unwrap();
        assert_eq!(unwrapped.expose_secret(), key.plaintext.expose_secret());
    }

    #[test]
    fn a_master_key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, [1u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(LocalKeys::open_or_create(&path), Err(CryptoError::MasterKey(_))));
    }

    #[test]
    fn a_master_key_file_of_the_wrong_size_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, [1u8; 16]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(LocalKeys::open_or_create(&path), Err(CryptoError::MasterKey(_))));
    }
}
