//! Sign-up, login, logout and the current session.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ApiState;
use super::audit::{outcome_of, record_outcome};
use super::auth::{
    Caller, cleared_session_cookie, hash_password, retry_after, session_cookie, session_token, set_cookie,
    start_session, verify_against_nothing, verify_password,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, SourceIp};
use super::views::{SessionView, TenantView, UserView};
use crate::domain::{Actor, AuditOutcome, Email, PersonName, Plan, Role, Session, Tenant, TenantName, User, UserId};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// The MSP's name, 1 to 100 characters.
    pub tenant_name: String,
    /// The owner's name, 1 to 100 characters.
    pub name: String,
    pub email: String,
    /// At least 12 characters, at most 72 bytes.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

fn session_view(user: &User, tenant: &Tenant, session: &Session) -> SessionView {
    SessionView {
        user: UserView::from(user),
        tenant: TenantView::from(tenant),
        role: user.role,
        csrf_token: session.csrf_token.clone(),
    }
}

async fn signed_in(state: &ApiState, status: StatusCode, user: &User, tenant: &Tenant) -> Result<Response, ApiError> {
    let (token, session) = start_session(state, user).await?;
    let mut response = (status, Json(session_view(user, tenant, &session))).into_response();
    set_cookie(response.headers_mut(), session_cookie(&token, state.config().session_absolute)?);
    Ok(response)
}

/// Creates a tenant and its owner, and signs the owner in. Refused (403 `signup_disabled`)
/// when sign-up is turned off; a taken e-mail address is a 409. Sign-ups from one source
/// address count against the per-address login limit (429 beyond it).
#[utoipa::path(post, path = "/api/v1/signup", tag = "accounts", request_body = SignupRequest, security(()),
    responses((status = 201, body = SessionView, description = "Signed in; sets the session cookie"),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn signup(
    State(state): State<ApiState>,
    source: SourceIp,
    Body(body): Body<SignupRequest>,
) -> Result<Response, ApiError> {
    if !state.config().signup_enabled {
        return Err(ApiError::SignupDisabled);
    }
    let body = body?;
    if let Some(subject) = source.0.map(|ip| format!("signup:{ip}")) {
        let (window, now) = (state.config().login_throttle_window, state.now());
        let (attempts, until) = state.store().login_throttle.recent_failures(&subject, window, now).await?;
        if attempts >= state.config().login_max_failures_per_address {
            return Err(ApiError::TooManyAttempts { retry_after_secs: retry_after(until, now) });
        }
        if let Err(e) = state.store().login_throttle.record_failure(&subject, window, now).await {
            tracing::error!(error = %e, "counting a sign-up failed");
        }
    }
    let tenant_name = TenantName::parse(&body.tenant_name)?;
    let name = PersonName::parse(&body.name)?;
    let email = Email::parse(&body.email)?;
    let password_hash = hash_password(&state, body.password).await?;
    let now = state.now();
    let tenant = Tenant::new(tenant_name, Plan::Trial, now);
    let owner = User {
        id: UserId::generate(),
        tenant_id: tenant.id.clone(),
        name,
        email,
        password_hash,
        role: Role::Owner,
        created_at: now,
    };
    state.store().tenants.create_with_owner(&tenant, &owner).await?;
    let result = signed_in(&state, StatusCode::CREATED, &owner, &tenant).await;
    let actor = Actor::User { id: owner.id.clone(), email: owner.email.clone() };
    record_outcome(
        &state,
        &tenant.id,
        actor,
        "tenant.signup",
        Some(tenant.id.to_string()),
        source,
        outcome_of(&result),
    )
    .await;
    result
}

/// What the throttle counts failures under: never the address itself (keys hold its hash).
fn account_subject(raw_email: &str) -> String {
    format!("email:{}", raw_email.trim().to_lowercase())
}

fn address_subject(source: SourceIp) -> Option<String> {
    source.0.map(|ip| format!("ip:{ip}"))
}

/// A short, stable tag for an address that is not an account, for logs.
fn email_tag(raw_email: &str) -> String {
    hex::encode(&Sha256::digest(raw_email.trim().to_lowercase().as_bytes())[..6])
}

/// Signs in. An unknown address and a wrong password get the same 401 `invalid_credentials`
/// after about the same time; after too many failures for the address or from the source
/// address within the window, 429 `too_many_attempts` with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest, security(()),
    responses((status = 200, body = SessionView, description = "Signed in; sets the session cookie"),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<ApiState>,
    source: SourceIp,
    headers: HeaderMap,
    Body(body): Body<LoginRequest>,
) -> Result<Response, ApiError> {
    let body = body?;
    let store = state.store();
    let config = state.config();
    let now = state.now();
    let window = config.login_throttle_window;
    let account = account_subject(&body.email);
    let address = address_subject(source);

    let user = match Email::parse(&body.email) {
        Ok(email) => store.tenants.find_user_by_email_across_tenants(&email).await?,
        Err(_) => None,
    };
    let (account_failures, account_until) = store.login_throttle.recent_failures(&account, window, now).await?;
    let (address_failures, address_until) = match &address {
        Some(subject) => store.login_throttle.recent_failures(subject, window, now).await?,
        None => (0, None),
    };
    let throttled = if account_failures >= config.login_max_failures_per_account {
        Some(retry_after(account_until, now))
    } else if address_failures >= config.login_max_failures_per_address {
        Some(retry_after(address_until, now))
    } else {
        None
    };
    if let Some(retry_after_secs) = throttled {
        let error = ApiError::TooManyAttempts { retry_after_secs };
        match &user {
            Some(u) => {
                let outcome = AuditOutcome::Failed { reason: error.code().to_owned() };
                let actor = Actor::User { id: u.id.clone(), email: u.email.clone() };
                record_outcome(&state, &u.tenant_id, actor, "auth.login", Some(u.id.to_string()), source, outcome)
                    .await;
            }
            None => tracing::warn!(email = %email_tag(&body.email), ip = ?source.0, "login throttled"),
        }
        return Err(error);
    }

    let verified = match &user {
        Some(u) => verify_password(body.password, u.password_hash.as_str().to_owned()).await?,
        None => {
            verify_against_nothing(&state, body.password).await?;
            false
        }
    };
    let tenant = match &user {
        Some(u) if verified => store.tenants.get(&u.tenant_id).await?.filter(|t| !t.is_locked()),
        _ => None,
    };
    let (Some(user), Some(tenant)) = (user.clone(), tenant) else {
        for subject in std::iter::once(&account).chain(address.as_ref()) {
            if let Err(e) = store.login_throttle.record_failure(subject, window, now).await {
                tracing::error!(error = %e, "counting a failed login failed");
            }
        }
        match &user {
            Some(u) => {
                let outcome = AuditOutcome::Failed { reason: ApiError::InvalidCredentials.code().to_owned() };
                let actor = Actor::User { id: u.id.clone(), email: u.email.clone() };
                record_outcome(&state, &u.tenant_id, actor, "auth.login", Some(u.id.to_string()), source, outcome)
                    .await;
            }
            None => tracing::info!(email = %email_tag(&body.email), ip = ?source.0, "login for an unknown address"),
        }
        return Err(ApiError::InvalidCredentials);
    };

    if let Err(e) = store.login_throttle.clear(&account).await {
        tracing::error!(error = %e, "clearing the login throttle failed");
    }
    if let Some(previous) = session_token(&headers) {
        store.sessions.revoke(&previous.hash()).await?;
    }
    let result = signed_in(&state, StatusCode::OK, &user, &tenant).await;
    let actor = Actor::User { id: user.id.clone(), email: user.email.clone() };
    record_outcome(&state, &tenant.id, actor, "auth.login", Some(user.id.to_string()), source, outcome_of(&result))
        .await;
    result
}

/// Ends the session on the server and clears the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts",
    responses((status = 204, description = "Signed out; clears the session cookie"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn logout(State(state): State<ApiState>, source: SourceIp, caller: Caller) -> Result<Response, ApiError> {
    let result = state.store().sessions.revoke(&caller.session_hash).await.map_err(ApiError::from);
    super::audit::record(&state, &caller, source, "auth.logout", Some(caller.user.id.to_string()), &result).await;
    result?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(response.headers_mut(), cleared_session_cookie());
    Ok(response)
}

/// The signed-in user, their tenant and role, and the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn me(caller: Caller) -> Json<SessionView> {
    Json(session_view(&caller.user, &caller.tenant, &caller.session))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmDeletionRequest {
    /// The token of the link in the e-mail sent to the account's owner.
    pub token: String,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DeletionConfirmed {
    /// `locked`: no session works and no login is accepted from now on.
    pub status: &'static str,
    /// Everything of the account is deleted within this many days (by default at the next run
    /// of the deletion job).
    pub deleted_within_days: u32,
}

/// Confirms a tenant's deletion with the single-use token from the e-mail support had sent to
/// its owner (public: the token is the proof). The tenant is locked at once: every session
/// ends, logins are refused, polling stops; its data is hard-deleted within 7 days. An unknown,
/// used or expired token is 422.
#[utoipa::path(post, path = "/api/v1/tenant-deletion/confirm", tag = "accounts", request_body = ConfirmDeletionRequest,
    security(()), responses((status = 200, body = DeletionConfirmed), (status = 422, body = ErrorBody)))]
pub async fn confirm_deletion(
    State(state): State<ApiState>,
    Body(body): Body<ConfirmDeletionRequest>,
) -> Result<Response, ApiError> {
    let body = body?;
    match crate::lifecycle::confirm_deletion(state.store(), state.now(), &body.token).await {
        Ok(tenant) => {
            tracing::info!(tenant = %tenant, "tenant deletion confirmed");
            if let Some(events) = state.events() {
                let event = crate::events::Event::new(
                    crate::events::DetailType::TENANT_DELETION_CONFIRMED,
                    serde_json::json!({ "tenant_id": tenant }),
                );
                // Not fatal: the tenant is locked, and the nightly run carries the deletion out.
                if let Err(e) = events.publish(vec![event]).await {
                    tracing::warn!(tenant = %tenant, error = %e, "the confirmed deletion was not announced");
                }
            }
            let mut response = Json(DeletionConfirmed { status: "locked", deleted_within_days: 7 }).into_response();
            set_cookie(response.headers_mut(), cleared_session_cookie());
            Ok(response)
        }
        Err(crate::lifecycle::DeletionError::InvalidToken) => {
            Err(ApiError::Invalid("the confirmation link is not valid (used, expired or unknown)".into()))
        }
        Err(crate::lifecycle::DeletionError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::internal(e)),
    }
}
