//! Response shapes shared by the PBX endpoints.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use crate::odata;

const JSON: &str = "application/json; charset=utf-8";
const ODATA_JSON: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";
const HTML: &str = "text/html";
const TEXT: &str = "text/plain; charset=utf-8";

const NGINX_404: &str = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const NGINX_503: &str = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Plain JSON (login and token answers), marked not cacheable as 3CX does.
pub(crate) fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = with_type(status, JSON, body);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// A `200` OData document.
pub(crate) fn odata(body: impl Into<Body>) -> Response {
    let mut response = with_type(StatusCode::OK, ODATA_JSON, body);
    response.headers_mut().insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// An OData error body with `status`.
pub(crate) fn odata_error(status: StatusCode, message: &str) -> Response {
    let mut response = with_type(status, JSON, odata::error(message));
    response.headers_mut().insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// `404` for a path the PBX does not serve.
pub(crate) fn odata_not_found() -> Response {
    odata_error(StatusCode::NOT_FOUND, "WARNINGS.XAPI.NOT_FOUND")
}

/// `404` as nginx writes it (a v18 PBX asked for a v20 path).
pub(crate) fn html_not_found() -> Response {
    with_type(StatusCode::NOT_FOUND, HTML, NGINX_404)
}

/// `503` as nginx writes it.
pub(crate) fn unavailable() -> Response {
    with_type(StatusCode::SERVICE_UNAVAILABLE, HTML, NGINX_503)
}

/// `404` for a host whose first label names no PBX.
pub(crate) fn unknown_pbx() -> Response {
    with_type(StatusCode::NOT_FOUND, TEXT, "no PBX answers at this host\n")
}

/// Plain text with `status`.
pub(crate) fn text(status: StatusCode, body: &'static str) -> Response {
    with_type(status, TEXT, body)
}

/// `405` naming the one allowed method.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut response = with_type(StatusCode::METHOD_NOT_ALLOWED, TEXT, Bytes::new());
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// `401` with an empty body; `invalid_token` when a token was presented but is unknown or expired.
pub(crate) fn unauthorized(token_presented: bool) -> Response {
    let challenge = if token_presented { r#"Bearer error="invalid_token""# } else { "Bearer" };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// `413` for a request body over the limit.
pub(crate) fn too_large() -> Response {
    text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n")
}

/// `500` for a failure of the simulator itself.
pub(crate) fn internal() -> Response {
    text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
}
