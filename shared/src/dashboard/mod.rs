//! The browser dashboard: a page and its scripts and styles, embedded in the binary and served by
//! the API's router on the same origin (no build step, no CDN, works offline).
//!
//! `GET /` answers the page; `GET /assets/{file}` the assets it names. The page names each asset
//! with `?v=<version>`, a hash of every embedded asset computed once per process; an asset asked
//! for with the current version may be cached for good, any other request is revalidated. The
//! dashboard speaks only the public JSON API, like any browser client (session cookie, CSRF
//! header). These routes are not API and are not in the OpenAPI document.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::api::{ApiError, ApiState};

/// Stands for the version in the embedded sources; replaced when they are served.
const VERSION_MARK: &str = "@VERSION@";

/// The page, revalidated on every load so that it always names the current assets.
const INDEX_HTML: &str = include_str!("assets/index.html");

/// Every asset by its file name, with its content type.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("assets/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("assets/api.js")),
    ("dom.js", "text/javascript; charset=utf-8", include_str!("assets/dom.js")),
    ("format.js", "text/javascript; charset=utf-8", include_str!("assets/format.js")),
    ("charts.js", "text/javascript; charset=utf-8", include_str!("assets/charts.js")),
    ("signin.js", "text/javascript; charset=utf-8", include_str!("assets/signin.js")),
    ("fleet.js", "text/javascript; charset=utf-8", include_str!("assets/fleet.js")),
    ("instance.js", "text/javascript; charset=utf-8", include_str!("assets/instance.js")),
    ("alerts.js", "text/javascript; charset=utf-8", include_str!("assets/alerts.js")),
    ("instance-form.js", "text/javascript; charset=utf-8", include_str!("assets/instance-form.js")),
    ("users.js", "text/javascript; charset=utf-8", include_str!("assets/users.js")),
    ("audit.js", "text/javascript; charset=utf-8", include_str!("assets/audit.js")),
    ("settings.js", "text/javascript; charset=utf-8", include_str!("assets/settings.js")),
    ("reports.js", "text/javascript; charset=utf-8", include_str!("assets/reports.js")),
    ("deletion.js", "text/javascript; charset=utf-8", include_str!("assets/deletion.js")),
    ("icon.svg", "image/svg+xml", include_str!("assets/icon.svg")),
];

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The embedded files as served: the version filled in.
struct Bundle {
    version: String,
    index: String,
    assets: Vec<(&'static str, &'static str, String)>,
}

static BUNDLE: LazyLock<Bundle> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    hash.update(INDEX_HTML);
    for (name, _, body) in ASSETS {
        hash.update(name);
        hash.update(body);
    }
    let version = hex::encode(&hash.finalize()[..8]);
    Bundle {
        index: INDEX_HTML.replace(VERSION_MARK, &version),
        assets: ASSETS.iter().map(|(name, kind, body)| (*name, *kind, body.replace(VERSION_MARK, &version))).collect(),
        version,
    }
});

/// The version the page names its assets with: a hash of every embedded file.
pub fn version() -> &'static str {
    &BUNDLE.version
}

/// The names of every asset served under `/assets/`.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(name, _, _)| *name)
}

/// The dashboard's routes, to merge into the API's router (outside its OpenAPI document).
pub fn routes() -> Router<ApiState> {
    Router::new().route("/", get(index)).route("/assets/{file}", get(asset))
}

async fn index() -> Response {
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], BUNDLE.index.clone()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    response
}

#[derive(Debug, Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

async fn asset(Path(file): Path<String>, Query(query): Query<AssetQuery>) -> Response {
    let Some((_, kind, body)) = BUNDLE.assets.iter().find(|(name, _, _)| *name == file) else {
        return ApiError::NotFound.into_response();
    };
    let cache = if query.v.as_deref() == Some(version()) { IMMUTABLE } else { NO_CACHE };
    let mut response = ([(header::CONTENT_TYPE, *kind)], body.clone()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_file_has_its_version_filled_in() {
        assert_eq!(version().len(), 16);
        assert!(!BUNDLE.index.contains(VERSION_MARK));
        for (name, _, body) in &BUNDLE.assets {
            assert!(!body.contains(VERSION_MARK), "{name}");
        }
    }

    #[test]
    fn the_page_names_every_script_module_it_loads_with_the_version() {
        for (name, _, body) in &BUNDLE.assets {
            if !name.ends_with(".js") {
                continue;
            }
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                assert!(line.contains(&format!(".js?v={}'", version())), "{name}: {line}");
            }
        }
    }
}
