//! Access tokens, cached per instance until shortly before they expire.
//!
//! 3CX reports `expires_in` in minutes up to 20.0.8 and in seconds since 20.0.9, with the same
//! value 60 for both. The token is a JWT, so its own `exp` claim decides when it can be read;
//! only without one is `expires_in` used, read as seconds (the shorter reading).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;

use crate::domain::InstanceId;

/// Renew this long before expiry (or a tenth of the lifetime, if shorter).
const RENEW_MARGIN: Duration = Duration::from_secs(30);
/// Lifetime assumed when the 3CX says nothing usable.
const FALLBACK_LIFETIME: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub(crate) struct CachedToken {
    pub token: SecretString,
    /// Renew once this instant has passed.
    pub renew_at: Instant,
    /// Which credentials the token was obtained with.
    pub credentials: [u8; 32],
}

/// The lifetime of a fresh token: the JWT's `exp` if it has one in the future, else `expires_in`
/// seconds.
pub(crate) fn lifetime(access_token: &str, expires_in: Option<i64>) -> Duration {
    let from_jwt = access_token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|claims| claims.get("exp").and_then(serde_json::Value::as_i64))
        .and_then(|exp| {
            // `exp` is in whole seconds: count from now in milliseconds and give up the second
            // it may have been rounded by.
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis();
            let exp_ms = u128::try_from(exp).ok()?.checked_mul(1000)?;
            let left = exp_ms.checked_sub(now_ms)?.checked_sub(1000)?;
            Some(Duration::from_millis(u64::try_from(left).ok()?))
        });
    from_jwt
        .or_else(|| expires_in.and_then(|s| u64::try_from(s).ok()).filter(|s| *s > 0).map(Duration::from_secs))
        .unwrap_or(FALLBACK_LIFETIME)
}

pub(crate) fn renew_at(now: Instant, lifetime: Duration) -> Instant {
    now + lifetime.saturating_sub(RENEW_MARGIN.min(lifetime / 10))
}

#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<InstanceId, CachedToken>>,
}

impl TokenCache {
    pub fn get(&self, instance: &InstanceId, credentials: &[u8; 32], now: Instant) -> Option<SecretString> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(instance).filter(|t| &t.credentials == credentials && now < t.renew_at).map(|t| t.token.clone())
    }

    pub fn put(&self, instance: &InstanceId, token: CachedToken) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).insert(instance.clone(), token);
    }

    pub fn forget(&self, instance: &InstanceId) {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner()).remove(instance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(exp: u64) -> String {
        let payload = URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp},\"sub\":\"x\"}}"));
        format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln")
    }

    fn now_secs() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn the_jwt_expiry_wins_over_an_ambiguous_expires_in() {
        let minutes = lifetime(&jwt(now_secs() + 3600), Some(60));
        assert!(minutes > Duration::from_secs(3500), "{minutes:?}");
        let seconds = lifetime(&jwt(now_secs() + 60), Some(60));
        assert!(seconds <= Duration::from_secs(60));
    }

    #[test]
    fn without_a_jwt_expires_in_is_read_as_seconds() {
        assert_eq!(lifetime("opaque", Some(60)), Duration::from_secs(60));
        assert_eq!(lifetime("opaque", Some(3600)), Duration::from_secs(3600));
        assert_eq!(lifetime("opaque", None), FALLBACK_LIFETIME);
        assert_eq!(lifetime("a.!!!.c", Some(-5)), FALLBACK_LIFETIME);
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        let now = Instant::now();
        assert_eq!(renew_at(now, Duration::from_secs(3600)), now + Duration::from_secs(3570));
        assert_eq!(renew_at(now, Duration::from_secs(60)), now + Duration::from_secs(54));
    }
}
