//! `GET /xapi/v1/...` with a bearer token.

use std::convert::Infallible;
use std::iter;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::Utc;
use futures_util::stream;

use super::auth::bearer;
use super::respond;
use crate::model::{BackupDoc, View};
use crate::odata::{self, Query};
use crate::pbx::{Endpoint, FaultState, Pbx};
use crate::time;

/// Size of the padding a `huge_body` SystemStatus carries: 320 chunks of 64 KiB (20 MiB).
static PADDING_CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
const PADDING_CHUNKS: usize = 320;

enum DocumentError {
    NotFound,
    BadQuery(String),
    Json(serde_json::Error),
}

/// Answers one XAPI endpoint: `401` without a live token of this PBX, `400` for malformed query
/// options, otherwise the document (subject to `garbage_json` and `huge_body`).
pub(crate) fn handle(pbx: &Pbx, state: &FaultState, endpoint: Endpoint, request: &Request) -> Response {
    if request.method() != Method::GET {
        return respond::method_not_allowed("GET");
    }
    let now = Utc::now();
    let now_ms = time::unix_ms(now);
    match bearer(request.headers()) {
        None => {
            pbx.count_unauthorized();
            return respond::unauthorized(false);
        }
        Some(token) if !pbx.sessions().access_valid(token, now_ms) => {
            pbx.count_unauthorized();
            return respond::unauthorized(true);
        }
        Some(_) => {}
    }
    let raw_query = request.uri().query().unwrap_or("");
    let faults = &state.faults;
    let body = pbx.cached(endpoint, raw_query, state.generation, now_ms, || {
        let query = Query::parse(raw_query).map_err(DocumentError::BadQuery)?;
        document(&View::new(pbx, faults, now), endpoint, &query)
    });
    match body {
        Err(DocumentError::NotFound) => respond::odata_not_found(),
        Err(DocumentError::BadQuery(message)) => respond::odata_error(StatusCode::BAD_REQUEST, &message),
        Err(DocumentError::Json(error)) => {
            tracing::error!(pbx = %pbx.spec.name, %error, "could not serialise a document");
            respond::internal()
        }
        Ok(body) if faults.garbage_json => respond::odata(body.slice(..body.len() / 2)),
        Ok(body) if faults.huge_body && endpoint == Endpoint::SystemStatus => respond::odata(padded(body)),
        Ok(body) => respond::odata(body),
    }
}

fn document(view: &View<'_>, endpoint: Endpoint, query: &Query) -> Result<Bytes, DocumentError> {
    let body = match endpoint {
        Endpoint::SystemStatus => to_bytes(&view.system_status()),
        Endpoint::Trunks => odata::collection(&view.context("Trunks"), view.trunks(), query),
        Endpoint::Services => odata::collection(&view.context("Services"), view.services(), query),
        Endpoint::Backups => odata::collection(&view.context("Backups"), ordered_backups(view, query)?, query),
        Endpoint::BackupSettings => to_bytes(&view.backup_settings()),
        Endpoint::Defs => to_bytes(&view.defs()),
        Endpoint::ActiveCalls => odata::collection(&view.context("ActiveCalls"), view.active_calls(), query),
        Endpoint::Users => odata::collection(&view.context("Users"), view.users(), query),
        Endpoint::LicenseStatus => to_bytes(&view.license_status()),
        Endpoint::AdminLogin
        | Endpoint::ConnectToken
        | Endpoint::V18Login
        | Endpoint::V18SystemStatus
        | Endpoint::Other => return Err(DocumentError::NotFound),
    };
    body.map_err(DocumentError::Json)
}

/// The backups in `$orderby` order (`CreationTime`, `FileName` or `Size`), newest first without one.
fn ordered_backups(view: &View<'_>, query: &Query) -> Result<Vec<BackupDoc>, DocumentError> {
    let mut backups = view.backups();
    if let Some(order) = &query.order {
        let field = order.field.as_str();
        if field.eq_ignore_ascii_case("Size") {
            backups.sort_by_key(|backup| std::cmp::Reverse(backup.size));
        } else if !field.eq_ignore_ascii_case("CreationTime") && !field.eq_ignore_ascii_case("FileName") {
            return Err(DocumentError::BadQuery(format!(
                "Could not find a property named '{field}' on type 'Pbx.Backup'."
            )));
        }
        if !order.descending {
            backups.reverse();
        }
    }
    Ok(backups.iter().map(BackupDoc::from).collect())
}

fn to_bytes<T: serde::Serialize>(value: &T) -> serde_json::Result<Bytes> {
    serde_json::to_vec(value).map(Bytes::from)
}

/// The document with a ~20 MiB `Padding` field in front, streamed in 64 KiB chunks.
fn padded(body: Bytes) -> Body {
    let rest = if body.first() == Some(&b'{') { body.slice(1..) } else { body };
    let chunks = iter::once(Bytes::from_static(b"{\"Padding\":\""))
        .chain(iter::repeat_n(Bytes::from_static(&PADDING_CHUNK), PADDING_CHUNKS))
        .chain(iter::once(Bytes::from_static(b"\",")))
        .chain(iter::once(rest));
    Body::from_stream(stream::iter(chunks.map(Ok::<_, Infallible>)))
}
