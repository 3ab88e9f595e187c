//! Browser sessions. The session id is 256 random bits that only the browser holds (in its
//! cookie); the store keeps only the id's SHA-256, so a leaked table cannot be replayed.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{TenantId, UserId};

/// Random bytes in a session id and in a CSRF token.
const TOKEN_BYTES: usize = 32;
/// Length of [`TOKEN_BYTES`] in unpadded base64url.
const TOKEN_CHARS: usize = 43;

fn random_token() -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A session id as the browser holds it: 256 random bits, unpadded base64url. `Debug` hides it.
#[derive(Clone)]
pub struct SessionToken(SecretString);

impl SessionToken {
    pub fn generate() -> Self {
        Self(SecretString::from(random_token()))
    }

    /// Accepts only what [`Self::generate`] makes (43 base64url characters); anything else is
    /// no session.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == TOKEN_CHARS && URL_SAFE_NO_PAD.decode(raw).is_ok_and(|b| b.len() == TOKEN_BYTES);
        ok.then(|| Self(SecretString::from(raw.to_owned())))
    }

    /// The value to put in the cookie; nowhere else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What the store keys the session by.
    pub fn hash(&self) -> SessionHash {
        SessionHash(hex::encode(Sha256::digest(self.0.expose_secret().as_bytes())))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// The SHA-256 of a session id, in lowercase hex: the only form of the id that is stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionHash(String);

impl SessionHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new CSRF token: 256 random bits, unpadded base64url.
pub fn generate_csrf_token() -> String {
    random_token()
}

/// A signed-in browser: whose it is, its CSRF token and when it ends. Ends when idle for
/// longer than the idle limit, at `ends_at` (absolute), on logout, on a password change and
/// when its user is removed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// Sent back in `X-CSRF-Token` with every unsafe request.
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    /// Refreshed at most every few minutes, not on every request.
    pub last_seen_at: DateTime<Utc>,
    /// The absolute end; also the item's TTL.
    pub ends_at: DateTime<Utc>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("tenant_id", &self.tenant_id)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("ends_at", &self.ends_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_hash_stably() {
        let token = SessionToken::generate();
        let again = SessionToken::parse(token.expose()).unwrap_or_else(|| panic!("did not parse"));
        assert_eq!(token.hash(), again.hash());
        assert_eq!(token.hash().as_str().len(), 64);
        assert_ne!(token.hash(), SessionToken::generate().hash());
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn anything_but_a_generated_token_is_refused() {
        for bad in ["", "abc", &"a".repeat(42), &"a".repeat(44), &format!("{}=", "a".repeat(42)), &"*".repeat(43)] {
            assert!(SessionToken::parse(bad).is_none(), "{bad:?} parsed");
        }
    }
}
