//! Sessions, CSRF and passwords: who is calling, on behalf of which tenant.
//!
//! A session is a random 256-bit id in the cookie `__Secure-sikurd_session`
//! (`HttpOnly; Secure; SameSite=Lax; Path=/`); the store keeps only its SHA-256. Every unsafe
//! method (POST, PUT, PATCH, DELETE) on a signed-in route also needs `X-CSRF-Token` equal to the
//! session's token. Sign-up and login carry no session yet: they accept only
//! `Content-Type: application/json`, which a cross-site form cannot send without a CORS
//! preflight that this API never grants.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use tokio::task::spawn_blocking;

use super::ApiState;
use super::error::ApiError;
use crate::domain::{
    Actor, PasswordHash, Role, Session, SessionHash, SessionToken, Tenant, TenantId, User, generate_csrf_token,
};

/// The session cookie's name. The `__Secure-` prefix makes browsers refuse it unless `Secure`.
pub const SESSION_COOKIE: &str = "__Secure-sikurd_session";
/// The header that carries the session's CSRF token on unsafe methods.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session's last-seen time is written at most this often.
pub const TOUCH_EVERY: Duration = Duration::minutes(5);
/// Shortest and longest password accepted (bcrypt reads at most 72 bytes).
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_BYTES: usize = 72;

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &SessionToken, max_age: Duration) -> Result<HeaderValue, ApiError> {
    let value = format!(
        "{SESSION_COOKIE}={}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={}",
        token.expose(),
        max_age.num_seconds().max(0)
    );
    HeaderValue::from_str(&value).map_err(ApiError::internal)
}

/// `Set-Cookie` that makes the browser drop the session cookie.
pub fn cleared_session_cookie() -> HeaderValue {
    HeaderValue::from_static("__Secure-sikurd_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0")
}

/// Adds a `Set-Cookie` header.
pub fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

/// The session token in the request's cookies, if there is one of the right form.
pub fn session_token(headers: &HeaderMap) -> Option<SessionToken> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .and_then(|(_, value)| SessionToken::parse(value.trim()))
}

/// Equal byte strings, compared in time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// The signed-in caller of a request: the session, its user and tenant. Extracting it refuses
/// a missing, unknown, idle, expired or revoked session (401) and, on unsafe methods, a missing
/// or wrong CSRF token (403). Everything a handler reads or writes is scoped by
/// [`Caller::tenant_id`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub user: User,
    pub session: Session,
    pub session_hash: SessionHash,
}

impl Caller {
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant.id
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Refuses (403) unless the caller's role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.user.role.allows(needed) { Ok(()) } else { Err(ApiError::Forbidden("your role does not allow this")) }
    }

    pub fn actor(&self) -> Actor {
        Actor::User { id: self.user.id.clone(), email: self.user.email.clone() }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let hash = token.hash();
        let store = state.store();
        let session = store.sessions.get_across_tenants(&hash).await?.ok_or(ApiError::Unauthenticated)?;
        let now = state.now();
        if now >= session.ends_at || now - session.last_seen_at > state.config().session_idle {
            store.sessions.revoke(&hash).await?;
            return Err(ApiError::Unauthenticated);
        }
        if is_unsafe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).map(HeaderValue::as_bytes).unwrap_or_default();
            if !same_bytes(sent, session.csrf_token.as_bytes()) {
                tracing::warn!(tenant = %session.tenant_id, user = %session.user_id, "CSRF token missing or wrong");
                return Err(ApiError::CsrfFailed);
            }
        }
        let (user, tenant) = tokio::try_join!(
            store.users.get(&session.tenant_id, &session.user_id),
            store.tenants.get(&session.tenant_id),
        )?;
        let (Some(user), Some(tenant)) = (user, tenant.filter(|t| !t.is_locked())) else {
            store.sessions.revoke(&hash).await?;
            return Err(ApiError::Unauthenticated);
        };
        if now - session.last_seen_at >= TOUCH_EVERY {
            store.sessions.touch(&hash, &session, now).await?;
        }
        Ok(Self { tenant, user, session, session_hash: hash })
    }
}

/// Starts a session for `user`: stores it and returns the token for the cookie.
pub async fn start_session(state: &ApiState, user: &User) -> Result<(SessionToken, Session), ApiError> {
    let now = state.now();
    let token = SessionToken::generate();
    let session = Session {
        tenant_id: user.tenant_id.clone(),
        user_id: user.id.clone(),
        csrf_token: generate_csrf_token(),
        created_at: now,
        last_seen_at: now,
        ends_at: now + state.config().session_absolute,
    };
    state.store().sessions.create(&token.hash(), &session).await?;
    Ok((token, session))
}

/// Checks a new password's length: at least 12 characters, at most 72 bytes.
pub fn check_new_password(password: &SecretString) -> Result<(), ApiError> {
    let p = password.expose_secret();
    if p.chars().count() < PASSWORD_MIN_CHARS || p.len() > PASSWORD_MAX_BYTES {
        return Err(ApiError::Invalid(format!(
            "invalid password: must be at least {PASSWORD_MIN_CHARS} characters and at most {PASSWORD_MAX_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Hashes a password with bcrypt at the configured cost, off the async threads.
pub async fn hash_password(state: &ApiState, password: SecretString) -> Result<PasswordHash, ApiError> {
    check_new_password(&password)?;
    let cost = state.config().bcrypt_cost;
    let hash = spawn_blocking(move || bcrypt::hash(password.expose_secret(), cost))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(PasswordHash::from_bcrypt(hash)?)
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub async fn verify_password(password: SecretString, hash: String) -> Result<bool, ApiError> {
    spawn_blocking(move || bcrypt::verify(password.expose_secret(), &hash).unwrap_or(false))
        .await
        .map_err(ApiError::internal)
}

/// Spends the time a password check would on an account that does not exist, so that an
/// unknown address and a wrong password take about as long.
pub async fn verify_against_nothing(state: &ApiState, password: SecretString) -> Result<(), ApiError> {
    let hash = state.dummy_hash().await?;
    verify_password(password, hash).await.map(|_| ())
}

/// When the oldest of `count` failures (counted by the throttle) leaves the window, in seconds
/// from `now`.
pub fn retry_after(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> u64 {
    until.map_or(60, |t| u64::try_from((t - now).num_seconds()).unwrap_or(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_has_exactly_the_promised_attributes() {
        let token = SessionToken::generate();
        let cookie = session_cookie(&token, Duration::hours(12)).unwrap_or_else(|e| panic!("{e}"));
        let expected = format!(
            "__Secure-sikurd_session={}; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=43200",
            token.expose()
        );
        assert_eq!(cookie.to_str().ok(), Some(expected.as_str()));
    }

    #[test]
    fn the_session_token_is_found_among_other_cookies() {
        let token = SessionToken::generate();
        let mut headers = HeaderMap::new();
        let cookies = format!("theme=dark; {SESSION_COOKIE}={}; other=1", token.expose());
        headers.insert(COOKIE, HeaderValue::from_str(&cookies).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(session_token(&headers).map(|t| t.hash()), Some(token.hash()));
        headers.insert(COOKIE, HeaderValue::from_static("__Secure-sikurd_session=not-a-token"));
        assert!(session_token(&headers).is_none());
    }

    #[test]
    fn csrf_comparison_needs_equal_bytes() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"ab"));
        assert!(!same_bytes(b"", b"a"));
    }
}
