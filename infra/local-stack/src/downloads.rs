//! Downloads of the local blob store's presigned links (`LocalDirBlobs`): what S3 serves in the
//! cloud. `GET /blobs/{key}?expires=<unix s>&signature=<hex>`; anything not signed by this
//! store, expired or missing is 404, with no hint which.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sikurd::blobs::{BlobKey, Blobs, LocalDirBlobs};

#[derive(Deserialize)]
struct Signed {
    expires: i64,
    signature: String,
}

/// The download route, to merge into the local stack's router.
pub fn routes(blobs: Arc<LocalDirBlobs>) -> Router {
    Router::new().route("/blobs/{*key}", get(download)).with_state(blobs)
}

async fn download(
    State(blobs): State<Arc<LocalDirBlobs>>,
    Path(key): Path<String>,
    query: Result<Query<Signed>, QueryRejection>,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such download").into_response();
    let (Ok(key), Ok(Query(signed))) = (BlobKey::parse(key), query) else { return not_found() };
    if !blobs.verify_presigned(&key, signed.expires, &signed.signature, chrono::Utc::now().timestamp()) {
        return not_found();
    }
    match blobs.get(&key).await {
        Ok(Some(body)) => {
            let name = key.segments().last().unwrap_or("download").to_owned();
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                ],
                Body::from(body),
            )
                .into_response()
        }
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "reading a download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the download could not be read").into_response()
        }
    }
}
