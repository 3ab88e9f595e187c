//! The HTTP application: the control API under `/_sim/`, and every other request routed to the
//! PBX named by the first label of its host.

mod auth;
mod control;
mod respond;
mod v18;
mod xapi;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::Response;
use bytes::Bytes;
use percent_encoding::percent_decode_str;
use rand::Rng as _;

use crate::pbx::{Endpoint, FaultState, Pbx};
use crate::registry::Registry;
use crate::spec::Faults;

/// Largest request body read (logins and token requests are tiny).
const BODY_LIMIT: usize = 64 * 1024;

static X_3CX_VERSION: HeaderName = HeaderName::from_static("x-3cx-version");

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub registry: Arc<Registry>,
    pub site: Arc<Site>,
}

/// Where the simulator listens, for the URLs it reports.
pub(crate) struct Site {
    pub scheme: &'static str,
    pub port: u16,
    pub ca_pem: Option<String>,
}

impl Site {
    pub(crate) fn base_url_for(&self, name: &str) -> String {
        format!("{}://{name}.localhost:{}", self.scheme, self.port)
    }
}

pub(crate) fn app(state: AppState) -> Router {
    Router::new().nest("/_sim", control::routes()).fallback(pbx_request).with_state(state)
}

async fn pbx_request(State(state): State<AppState>, request: Request) -> Response {
    let Some(pbx) = pbx_name(&request).and_then(|name| state.registry.get(&name)) else {
        return respond::unknown_pbx();
    };
    let endpoint = Endpoint::classify(&percent_decode_str(request.uri().path()).decode_utf8_lossy());
    pbx.count_request(endpoint);
    let faults = pbx.faults();
    if faults.faults.hang {
        std::future::pending::<()>().await;
    }
    delay(&faults.faults).await;
    let v20 = !faults.faults.v18_only;
    let mut response = if faults.faults.server_error {
        respond::unavailable()
    } else if v20 {
        v20_request(&pbx, &faults, endpoint, request).await
    } else {
        v18::handle(&pbx, &faults, endpoint, request).await
    };
    if v20 {
        response.headers_mut().insert(X_3CX_VERSION.clone(), pbx.version_header.clone());
    }
    response
}

async fn v20_request(pbx: &Pbx, faults: &FaultState, endpoint: Endpoint, request: Request) -> Response {
    match endpoint {
        Endpoint::AdminLogin => auth::admin_login(pbx, &faults.faults, request).await,
        Endpoint::ConnectToken => auth::connect_token(pbx, &faults.faults, request).await,
        endpoint if endpoint.is_xapi() => xapi::handle(pbx, faults, endpoint, &request),
        _ => respond::odata_not_found(),
    }
}

/// The PBX a request is for: the first DNS label of its `Host` (or URI authority), lowercased.
fn pbx_name(request: &Request) -> Option<String> {
    let host = match request.headers().get(header::HOST) {
        Some(host) => host.to_str().ok()?,
        None => request.uri().host()?,
    };
    let label = host.split([':', '.']).next().filter(|label| !label.is_empty())?;
    Some(label.to_ascii_lowercase())
}

/// Sleeps for the fault's fixed and random delays.
async fn delay(faults: &Faults) {
    let mut wait = faults.slow.unwrap_or_default();
    if let Some((a, b)) = faults.latency {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        wait += Duration::from_millis(rand::rng().random_range(low..=high));
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

/// The request body, or the response refusing it.
async fn read_body(request: Request) -> Result<Bytes, Response> {
    axum::body::to_bytes(request.into_body(), BODY_LIMIT).await.map_err(|_| respond::too_large())
}

/// The value of cookie `name`, from any `Cookie` header.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::HeaderValue;

    use super::*;

    fn request_to(host: &str) -> Request {
        Request::builder().uri("/xapi/v1/SystemStatus").header(header::HOST, host).body(Body::empty()).unwrap()
    }

    #[test]
    fn the_pbx_is_the_first_label_of_the_host() {
        assert_eq!(pbx_name(&request_to("pbx-0042.localhost:8443")).as_deref(), Some("pbx-0042"));
        assert_eq!(pbx_name(&request_to("PBX-0042.localhost")).as_deref(), Some("pbx-0042"));
        assert_eq!(pbx_name(&request_to("pbx-0042")).as_deref(), Some("pbx-0042"));
        assert_eq!(pbx_name(&request_to("127.0.0.1:80")).as_deref(), Some("127"));
    }

    #[test]
    fn cookies_are_found_among_several() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; RefreshTokenCookie=xyz"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, "RefreshTokenCookie").as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
