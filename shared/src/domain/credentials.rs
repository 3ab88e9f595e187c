//! The credentials Sikurd logs in to a 3CX with. Secrets live only in `secrecy` types; the one
//! way to get their bytes out is [`PbxCredentials::to_plaintext`], used by envelope encryption.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::ValueError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An administrator's user name (extension) and password: v20 `Login/GetAccessToken`.
    Admin,
    /// An API client id and secret: v20 `/connect/token` client credentials.
    ClientCredentials,
}

#[derive(Clone)]
pub enum PbxCredentials {
    Admin { username: String, password: SecretString },
    ClientCredentials { client_id: String, client_secret: SecretString },
}

/// The plaintext form that is encrypted; never stored or logged as is.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PlainOut<'a> {
    Admin { username: &'a str, password: &'a str },
    ClientCredentials { client_id: &'a str, client_secret: &'a str },
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PlainIn {
    Admin { username: String, password: SecretString },
    ClientCredentials { client_id: String, client_secret: SecretString },
}

fn check_identity(what: &'static str, raw: &str) -> Result<String, ValueError> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 128 || s.chars().any(char::is_control) {
        return Err(ValueError::new(what, "must be 1 to 128 printable characters"));
    }
    Ok(s.to_owned())
}

fn check_secret(what: &'static str, secret: &SecretString) -> Result<(), ValueError> {
    let s = secret.expose_secret();
    if s.is_empty() || s.len() > 1024 {
        return Err(ValueError::new(what, "must be 1 to 1024 bytes"));
    }
    Ok(())
}

impl PbxCredentials {
    pub fn admin(username: &str, password: SecretString) -> Result<Self, ValueError> {
        check_secret("password", &password)?;
        Ok(Self::Admin { username: check_identity("username", username)?, password })
    }

    pub fn client_credentials(client_id: &str, client_secret: SecretString) -> Result<Self, ValueError> {
        check_secret("client secret", &client_secret)?;
        Ok(Self::ClientCredentials { client_id: check_identity("client id", client_id)?, client_secret })
    }

    pub fn kind(&self) -> CredentialKind {
        match self {
            Self::Admin { .. } => CredentialKind::Admin,
            Self::ClientCredentials { .. } => CredentialKind::ClientCredentials,
        }
    }

    /// The bytes to encrypt; wiped from memory when dropped.
    pub fn to_plaintext(&self) -> Zeroizing<Vec<u8>> {
        let plain = match self {
            Self::Admin { username, password } => PlainOut::Admin { username, password: password.expose_secret() },
            Self::ClientCredentials { client_id, client_secret } => {
                PlainOut::ClientCredentials { client_id, client_secret: client_secret.expose_secret() }
            }
        };
        // Serializing string fields into a Vec cannot fail.
        Zeroizing::new(serde_json::to_vec(&plain).unwrap_or_default())
    }

    /// Reads what [`Self::to_plaintext`] wrote.
    pub fn from_plaintext(bytes: &[u8]) -> Result<Self, ValueError> {
        let plain: PlainIn = serde_json::from_slice(bytes)
            .map_err(|_| ValueError::new("credentials", "decrypted bytes are not credentials"))?;
        match plain {
            PlainIn::Admin { username, password } => Self::admin(&username, password),
            PlainIn::ClientCredentials { client_id, client_secret } => {
                Self::client_credentials(&client_id, client_secret)
            }
        }
    }
}

impl fmt::Debug for PbxCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Admin { username, .. } => f.debug_struct("Admin").field("username", username).finish_non_exhaustive(),
            Self::ClientCredentials { client_id, .. } => {
                f.debug_struct("ClientCredentials").field("client_id", client_id).finish_non_exhaustive()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_round_trips_and_debug_hides_the_secret() {
        let creds = PbxCredentials::admin("100", SecretString::from("s3cret-pw")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{creds:?}").contains("s3cret-pw"));
        let back = PbxCredentials::from_plaintext(&creds.to_plaintext()).unwrap_or_else(|e| panic!("{e}"));
        match back {
            PbxCredentials::Admin { username, password } => {
                assert_eq!(username, "100");
                assert_eq!(password.expose_secret(), "s3cret-pw");
            }
            other => panic!("wrong kind {other:?}"),
        }
    }

    #[test]
    fn empty_secrets_and_identities_are_rejected() {
        assert!(PbxCredentials::admin("", SecretString::from("pw")).is_err());
        assert!(PbxCredentials::client_credentials("api", SecretString::from("")).is_err());
        assert!(PbxCredentials::from_plaintext(b"{\"kind\":\"root\"}").is_err());
    }
}
