//! The control API under `/_sim/` (any host): list, add and remove PBXs, set faults, read stats.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::SimError;
use crate::fleet::fleet_specs;
use crate::spec::{AdminCredentials, ClientCredentials, Faults, PbxSpec, TrunkSpec};

/// Largest fleet one request may create.
const MAX_FLEET: usize = 100_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/pbxs", get(list).post(add))
        .route("/pbxs/{name}", get(describe).delete(remove))
        .route("/pbxs/{name}/faults", get(faults).put(set_faults))
        .route("/pbxs/{name}/stats", get(stats))
        .route("/fleet", post(add_fleet))
        .route("/ca.pem", get(ca_pem))
}

/// `POST /_sim/pbxs`: a PBX spec; omitted (or null) fields take the values of [`PbxSpec::healthy`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddPbx {
    name: String,
    version: Option<String>,
    fqdn: Option<String>,
    admin: Option<AdminCredentials>,
    client: Option<ClientCredentials>,
    utc_offset_minutes: Option<i32>,
    trunks: Option<Vec<TrunkSpec>>,
    max_sim_calls: Option<u32>,
    calls_active: Option<u32>,
    extensions_total: Option<u32>,
    extensions_registered: Option<u32>,
    backups_scheduled: Option<bool>,
    faults: Option<Faults>,
}

impl From<AddPbx> for PbxSpec {
    fn from(add: AddPbx) -> Self {
        let defaults = PbxSpec::healthy(add.name);
        PbxSpec {
            version: add.version.unwrap_or(defaults.version),
            fqdn: add.fqdn.unwrap_or(defaults.fqdn),
            admin: add.admin.or(defaults.admin),
            client: add.client.or(defaults.client),
            utc_offset_minutes: add.utc_offset_minutes.unwrap_or(defaults.utc_offset_minutes),
            trunks: add.trunks.unwrap_or(defaults.trunks),
            max_sim_calls: add.max_sim_calls.unwrap_or(defaults.max_sim_calls),
            calls_active: add.calls_active.unwrap_or(defaults.calls_active),
            extensions_total: add.extensions_total.unwrap_or(defaults.extensions_total),
            extensions_registered: add.extensions_registered.unwrap_or(defaults.extensions_registered),
            backups_scheduled: add.backups_scheduled.unwrap_or(defaults.backups_scheduled),
            faults: add.faults.unwrap_or(defaults.faults),
            name: defaults.name,
        }
    }
}

/// `POST /_sim/fleet`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddFleet {
    prefix: String,
    count: usize,
    #[serde(default)]
    faulty_fraction: f64,
    latency_ms: Option<(u64, u64)>,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn unknown(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, &format!("no PBX named '{name}'"))
}

fn refused(error_: &SimError) -> Response {
    error(StatusCode::BAD_REQUEST, &error_.to_string())
}

async fn list(State(state): State<AppState>) -> Response {
    Json(json!({ "pbxs": state.registry.names() })).into_response()
}

async fn add(State(state): State<AppState>, Json(add): Json<AddPbx>) -> Response {
    let spec = PbxSpec::from(add);
    let name = spec.name.clone();
    match state.registry.insert(vec![spec]) {
        Ok(()) => {
            let body = json!({ "name": name, "base_url": state.site.base_url_for(&name) });
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(error) => refused(&error),
    }
}

async fn describe(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.registry.get(&name) {
        Some(pbx) => Json(pbx.current_spec()).into_response(),
        None => unknown(&name),
    }
}

async fn remove(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    if state.registry.remove(&name) { StatusCode::NO_CONTENT.into_response() } else { unknown(&name) }
}

async fn faults(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.registry.get(&name) {
        Some(pbx) => Json(pbx.faults().faults.clone()).into_response(),
        None => unknown(&name),
    }
}

async fn set_faults(State(state): State<AppState>, Path(name): Path<String>, Json(faults): Json<Faults>) -> Response {
    match state.registry.get(&name) {
        Some(pbx) => {
            pbx.set_faults(faults);
            StatusCode::NO_CONTENT.into_response()
        }
        None => unknown(&name),
    }
}

async fn stats(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.registry.get(&name) {
        Some(pbx) => Json(pbx.stats()).into_response(),
        None => unknown(&name),
    }
}

async fn add_fleet(State(state): State<AppState>, Json(fleet): Json<AddFleet>) -> Response {
    if fleet.count > MAX_FLEET {
        return error(StatusCode::BAD_REQUEST, &format!("at most {MAX_FLEET} PBXs per request"));
    }
    let specs = match fleet_specs(&fleet.prefix, fleet.count, fleet.faulty_fraction, fleet.latency_ms) {
        Ok(specs) => specs,
        Err(error) => return refused(&error),
    };
    let names: Vec<String> = specs.iter().map(|spec| spec.name.clone()).collect();
    match state.registry.insert(specs) {
        Ok(()) => (StatusCode::CREATED, Json(json!({ "names": names }))).into_response(),
        Err(error) => refused(&error),
    }
}

async fn ca_pem(State(state): State<AppState>) -> Response {
    match &state.site.ca_pem {
        Some(pem) => ([(axum::http::header::CONTENT_TYPE, "application/x-pem-file")], pem.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "the simulator serves plain HTTP and has no CA"),
    }
}
