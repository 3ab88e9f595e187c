//! A 3CX v18 console API (`v18_only`): cookie login and the flat SystemStatus; all else 404 HTML.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::Utc;

use super::{cookie, read_body, respond};
use crate::model::View;
use crate::pbx::{Endpoint, FaultState, LoginOutcome, Pbx};
use crate::time;
use crate::token;

const SESSION_COOKIE: &str = ".AspNetCore.Cookies";

pub(crate) async fn handle(pbx: &Pbx, state: &FaultState, endpoint: Endpoint, request: Request) -> Response {
    match endpoint {
        Endpoint::V18Login => login(pbx, state, request).await,
        Endpoint::V18SystemStatus => system_status(pbx, state, &request),
        _ => respond::html_not_found(),
    }
}

/// `POST /api/login` with `{"Username","Password"}` (keys bound case-insensitively): plain text
/// `AuthSuccess` and a session cookie, or `401` with another text.
async fn login(pbx: &Pbx, state: &FaultState, request: Request) -> Response {
    if request.method() != Method::POST {
        return respond::method_not_allowed("POST");
    }
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let fields = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => return respond::text(StatusCode::BAD_REQUEST, "Bad request\n"),
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    let correct = pbx
        .spec
        .admin
        .as_ref()
        .is_some_and(|admin| admin.username == field("Username") && admin.password == field("Password"));
    if !correct || state.faults.wrong_password {
        pbx.count_login(LoginOutcome::Refused);
        return respond::text(StatusCode::UNAUTHORIZED, "Incorrect login or password.");
    }
    let now_ms = time::unix_ms(Utc::now());
    let session = token::session_id();
    let lifetime_ms = u64::try_from(state.faults.token_lifetime.as_millis()).unwrap_or(u64::MAX);
    pbx.sessions().add_cookie(&session, now_ms.saturating_add(lifetime_ms), now_ms);
    pbx.count_login(LoginOutcome::Issued);
    let mut response = respond::text(StatusCode::OK, "AuthSuccess");
    let cookie = format!("{SESSION_COOKIE}={session}; path=/; samesite=lax; httponly");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `GET /api/SystemStatus` with the session cookie: the v18 flat JSON, or `401`.
fn system_status(pbx: &Pbx, state: &FaultState, request: &Request) -> Response {
    if request.method() != Method::GET {
        return respond::method_not_allowed("GET");
    }
    let now = Utc::now();
    let now_ms = time::unix_ms(now);
    let session = cookie(request.headers(), SESSION_COOKIE);
    if !session.is_some_and(|session| pbx.sessions().cookie_valid(&session, now_ms)) {
        pbx.count_unauthorized();
        return respond::unauthorized(false);
    }
    let body = pbx.cached(Endpoint::V18SystemStatus, "", state.generation, now_ms, || {
        serde_json::to_vec(&View::new(pbx, &state.faults, now).v18_system_status()).map(Bytes::from)
    });
    match body {
        Ok(body) => respond::json(StatusCode::OK, body),
        Err(error) => {
            tracing::error!(pbx = %pbx.spec.name, %error, "could not serialise a document");
            respond::internal()
        }
    }
}
