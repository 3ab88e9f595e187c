//! v20 logins: the web client's `GetAccessToken` and OAuth `/connect/token`.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::{read_body, respond};
use crate::pbx::{LoginOutcome, Pbx};
use crate::spec::{ExpiresInUnit, Faults};
use crate::time;
use crate::token::{self, REFRESH_LIFETIME};

const REFRESH_COOKIE: &str = "RefreshTokenCookie";

#[derive(Serialize)]
struct TokenBody<'a> {
    token_type: &'static str,
    expires_in: u64,
    access_token: &'a str,
    refresh_token: Option<&'a str>,
}

/// `expires_in` as the PBX reports it: whole seconds (rounded down, so never later than the
/// truth) or whole minutes (rounded up, as a 20.0.8 PBX would have said "60").
fn expires_in(faults: &Faults) -> u64 {
    let seconds = faults.token_lifetime.as_secs();
    match faults.expires_in_unit {
        ExpiresInUnit::Seconds => seconds,
        ExpiresInUnit::Minutes => faults.token_lifetime.as_millis().div_ceil(60_000).try_into().unwrap_or(u64::MAX),
    }
}

/// `POST /webclient/api/Login/GetAccessToken` with `{"Username","Password","SecurityCode"}`
/// (keys bound case-insensitively): always `200`, `Status` telling the outcome.
pub(crate) async fn admin_login(pbx: &Pbx, faults: &Faults, request: Request) -> Response {
    if request.method() != Method::POST {
        return respond::method_not_allowed("POST");
    }
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(fields) = serde_json::from_slice::<serde_json::Value>(&body).ok().and_then(|value| match value {
        serde_json::Value::Object(fields) => Some(fields),
        _ => None,
    }) else {
        let problem = json!({
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            "title": "One or more validation errors occurred.",
            "status": 400,
        });
        return respond::json(StatusCode::BAD_REQUEST, problem.to_string());
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    let username = field("Username");
    let correct =
        pbx.spec.admin.as_ref().is_some_and(|admin| admin.username == username && admin.password == field("Password"));
    if !correct || faults.wrong_password {
        pbx.count_login(LoginOutcome::Refused);
        let refused = json!({ "Status": "AuthFailed", "Token": null, "TwoFactorAuth": null });
        return respond::json(StatusCode::OK, refused.to_string());
    }
    if faults.two_factor_required {
        pbx.count_login(LoginOutcome::Refused);
        let challenge = json!({ "Status": "TwoFactorRequired", "Token": null, "TwoFactorAuth": { "Enabled": true } });
        return respond::json(StatusCode::OK, challenge.to_string());
    }
    let now_ms = time::unix_ms(Utc::now());
    let access = token::mint(&pbx.issuer, username, "access", now_ms, faults.token_lifetime);
    let refresh = token::mint(&pbx.issuer, username, "refresh", now_ms, REFRESH_LIFETIME);
    {
        let mut sessions = pbx.sessions();
        sessions.add_access(&access, now_ms);
        sessions.add_refresh(&refresh);
    }
    pbx.count_login(LoginOutcome::Issued);
    let token = TokenBody {
        token_type: "Bearer",
        expires_in: expires_in(faults),
        access_token: &access.token,
        refresh_token: Some(&refresh.token),
    };
    let body = json!({ "Status": "AuthSuccess", "Token": token, "TwoFactorAuth": null });
    let mut response = respond::json(StatusCode::OK, body.to_string());
    let cookie = format!("{REFRESH_COOKIE}={}; path=/; samesite=strict; httponly", refresh.token);
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// `POST /connect/token` with a urlencoded form: `grant_type=client_credentials` (`client_id`,
/// `client_secret`) or `grant_type=refresh_token` (`refresh_token`, or the `RefreshTokenCookie`
/// cookie set by the web-client login).
pub(crate) async fn connect_token(pbx: &Pbx, faults: &Faults, request: Request) -> Response {
    if request.method() != Method::POST {
        return respond::method_not_allowed("POST");
    }
    let cookie = super::cookie(request.headers(), REFRESH_COOKIE);
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    match field("grant_type") {
        Some("client_credentials") => client_credentials(pbx, faults, field("client_id"), field("client_secret")),
        Some("refresh_token") => refresh(pbx, faults, field("refresh_token").map(str::to_owned).or(cookie)),
        Some(_) => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
}

fn client_credentials(pbx: &Pbx, faults: &Faults, client_id: Option<&str>, secret: Option<&str>) -> Response {
    let correct = pbx.spec.client.as_ref().is_some_and(|client| {
        client_id == Some(client.client_id.as_str()) && secret == Some(client.client_secret.as_str())
    });
    if !correct || faults.wrong_password {
        pbx.count_login(LoginOutcome::Refused);
        let body = json!({
            "error": "unauthorized",
            "error_description": "The request requires valid user authentication.",
        });
        return respond::json(StatusCode::UNAUTHORIZED, body.to_string());
    }
    let now_ms = time::unix_ms(Utc::now());
    let access = token::mint(&pbx.issuer, client_id.unwrap_or_default(), "access", now_ms, faults.token_lifetime);
    pbx.sessions().add_access(&access, now_ms);
    pbx.count_login(LoginOutcome::Issued);
    token_response(faults, &access.token, None)
}

fn refresh(pbx: &Pbx, faults: &Faults, refresh_token: Option<String>) -> Response {
    let now_ms = time::unix_ms(Utc::now());
    let Some(refresh_token) = refresh_token.filter(|token| pbx.sessions().refresh_valid(token, now_ms)) else {
        pbx.count_login(LoginOutcome::Refused);
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let subject = pbx.spec.admin.as_ref().map_or("admin", |admin| admin.username.as_str());
    let access = token::mint(&pbx.issuer, subject, "access", now_ms, faults.token_lifetime);
    pbx.sessions().add_access(&access, now_ms);
    pbx.count_login(LoginOutcome::Refreshed);
    token_response(faults, &access.token, Some(&refresh_token))
}

fn token_response(faults: &Faults, access_token: &str, refresh_token: Option<&str>) -> Response {
    let body = TokenBody { token_type: "Bearer", expires_in: expires_in(faults), access_token, refresh_token };
    match serde_json::to_vec(&body) {
        Ok(body) => respond::json(StatusCode::OK, Bytes::from(body)),
        Err(_) => respond::internal(),
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    respond::json(status, json!({ "error": error }).to_string())
}

/// Whether the request carries a token in `Authorization: Bearer <token>`, and which.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expires_in_counts_whole_seconds_or_rounded_up_minutes() {
        let mut faults = Faults::default();
        assert_eq!(expires_in(&faults), 3600);
        faults.expires_in_unit = ExpiresInUnit::Minutes;
        assert_eq!(expires_in(&faults), 60);
        faults.token_lifetime = Duration::from_millis(1_500);
        assert_eq!(expires_in(&faults), 1);
        faults.expires_in_unit = ExpiresInUnit::Seconds;
        assert_eq!(expires_in(&faults), 1);
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
    }
}
