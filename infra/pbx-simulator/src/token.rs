//! JWT-shaped tokens and the sessions a PBX has issued.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// `base64url({"alg":"ES256","typ":"JWT"})`.
const HEADER: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9";

/// How long refresh tokens live, as 3CX's do (about 60 days).
pub(crate) const REFRESH_LIFETIME: Duration = Duration::from_secs(60 * 24 * 60 * 60);

/// Live access tokens kept per PBX before the oldest are dropped.
const MAX_ACCESS: usize = 1024;
/// Refresh tokens kept per PBX; older ones stop working.
const MAX_REFRESH: usize = 16;

/// A minted token and the instant (Unix milliseconds) it stops working.
pub(crate) struct Minted {
    pub token: String,
    pub expires_ms: u64,
}

/// Mints `base64url(header).base64url(payload).base64url(random signature)` whose payload holds
/// `iss`, `sub`, `iat`, `nbf`, `exp` (Unix seconds, never later than the true expiry) and a
/// random `jti`.
pub(crate) fn mint(issuer: &str, subject: &str, use_: &str, now_ms: u64, lifetime: Duration) -> Minted {
    let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
    let expires_ms = now_ms.saturating_add(lifetime_ms);
    let mut rng = rand::rng();
    let mut jti = [0u8; 16];
    rng.fill_bytes(&mut jti);
    let mut signature = [0u8; 64];
    rng.fill_bytes(&mut signature);
    let payload = serde_json::json!({
        "iss": issuer,
        "sub": subject,
        "token_use": use_,
        "iat": now_ms / 1000,
        "nbf": now_ms / 1000,
        "exp": expires_ms / 1000,
        "jti": URL_SAFE_NO_PAD.encode(jti),
    });
    let token =
        format!("{HEADER}.{}.{}", URL_SAFE_NO_PAD.encode(payload.to_string()), URL_SAFE_NO_PAD.encode(signature));
    Minted { token, expires_ms }
}

/// A random opaque session id (v18 cookie).
pub(crate) fn session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The tokens and v18 sessions one PBX has issued and still honours.
#[derive(Default)]
pub(crate) struct Sessions {
    access: HashMap<Box<str>, u64>,
    refresh: VecDeque<(Box<str>, u64)>,
    cookies: HashMap<Box<str>, u64>,
}

impl Sessions {
    pub(crate) fn add_access(&mut self, minted: &Minted, now_ms: u64) {
        insert_bounded(&mut self.access, &minted.token, minted.expires_ms, now_ms);
    }

    pub(crate) fn access_valid(&self, token: &str, now_ms: u64) -> bool {
        self.access.get(token).is_some_and(|expires| *expires > now_ms)
    }

    pub(crate) fn add_refresh(&mut self, minted: &Minted) {
        if self.refresh.len() >= MAX_REFRESH {
            self.refresh.pop_front();
        }
        self.refresh.push_back((minted.token.as_str().into(), minted.expires_ms));
    }

    pub(crate) fn refresh_valid(&self, token: &str, now_ms: u64) -> bool {
        self.refresh.iter().any(|(known, expires)| &**known == token && *expires > now_ms)
    }

    pub(crate) fn add_cookie(&mut self, id: &str, expires_ms: u64, now_ms: u64) {
        insert_bounded(&mut self.cookies, id, expires_ms, now_ms);
    }

    pub(crate) fn cookie_valid(&self, id: &str, now_ms: u64) -> bool {
        self.cookies.get(id).is_some_and(|expires| *expires > now_ms)
    }
}

fn insert_bounded(map: &mut HashMap<Box<str>, u64>, key: &str, expires_ms: u64, now_ms: u64) {
    if map.len() >= MAX_ACCESS {
        map.retain(|_, expires| *expires > now_ms);
    }
    if map.len() >= MAX_ACCESS
        && let Some(oldest) = map.iter().min_by_key(|(_, expires)| **expires).map(|(key, _)| key.clone())
    {
        map.remove(&oldest);
    }
    map.insert(key.into(), expires_ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_jwt_shaped_with_a_truthful_exp() {
        let minted = mint("https://pbx.example", "admin", "access", 1_700_000_000_500, Duration::from_millis(1_700));
        let parts: Vec<&str> = minted.token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[0]).unwrap(), br#"{"alg":"ES256","typ":"JWT"}"#);
        let payload: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["sub"], "admin");
        assert_eq!(payload["exp"], 1_700_000_002);
        assert_eq!(minted.expires_ms, 1_700_000_002_200);
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    }

    #[test]
    fn access_tokens_expire_and_unknown_ones_never_work() {
        let mut sessions = Sessions::default();
        let minted = mint("i", "s", "access", 1_000, Duration::from_millis(500));
        sessions.add_access(&minted, 1_000);
        assert!(sessions.access_valid(&minted.token, 1_499));
        assert!(!sessions.access_valid(&minted.token, 1_500));
        assert!(!sessions.access_valid("forged", 1_000));
    }

    #[test]
    fn the_access_store_stays_bounded() {
        let mut sessions = Sessions::default();
        for i in 0..(MAX_ACCESS as u64 + 10) {
            let minted = Minted { token: format!("t{i}"), expires_ms: 10_000 + i };
            sessions.add_access(&minted, 0);
        }
        assert_eq!(sessions.access.len(), MAX_ACCESS);
        assert!(sessions.access_valid(&format!("t{}", MAX_ACCESS + 9), 0));
        assert!(!sessions.access_valid("t0", 0));
    }
}
