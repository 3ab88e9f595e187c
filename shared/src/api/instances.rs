//! The fleet: monitored 3CX instances of the caller's tenant.
//!
//! Everyone reads; technicians also poll now; admins and owners add, edit, delete and restore.
//! Credentials are write-only: a response says only whether they are set and of which kind.
//! A delete is soft: the instance stops being polled and can be restored for 30 days.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use futures_util::{StreamExt, TryStreamExt, stream};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::audit::{PageParams, record};
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params, SourceIp};
use super::views::{cursor, page_size};
use crate::config::Deployment;
use crate::domain::{
    BackupOutcome, BackupRecord, CredentialKind, GroupName, Instance, InstanceId, InstanceName, InstanceStatus,
    MetricSnapshot, PbxAddress, PbxCredentials, RESTORE_WINDOW_DAYS, Role, Scheme,
};
use crate::pbx::is_public;
use crate::polling::PollTarget;

/// Latest-snapshot reads in flight for one page of the fleet list.
const SNAPSHOT_READS: usize = 16;

#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceView {
    pub product_code: Option<String>,
    pub active: Option<bool>,
    pub expires_at: Option<DateTime<Utc>>,
    pub maintenance_expires_at: Option<DateTime<Utc>>,
    pub max_sim_calls: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TrunkView {
    pub name: String,
    pub online: bool,
}

/// A monitored 3CX. Never carries its credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    /// `ins_…`
    pub id: String,
    pub name: String,
    /// The 3CX web address, e.g. `https://pbx.example.com:5001`.
    pub url: String,
    pub group: Option<String>,
    pub status: InstanceStatus,
    /// Why the last poll failed; absent when it succeeded.
    pub status_reason: Option<String>,
    pub version: Option<String>,
    pub licence: Option<LicenceView>,
    pub trunks: Vec<TrunkView>,
    /// Whether credentials are stored (they are never returned).
    pub credentials_set: bool,
    pub credential_kind: Option<CredentialKind>,
    pub created_at: DateTime<Utc>,
    /// Set when soft-deleted; restorable for 30 days after.
    pub deleted_at: Option<DateTime<Utc>>,
    pub last_snapshot: Option<MetricSnapshot>,
}

fn view(instance: Instance, last: Option<MetricSnapshot>) -> InstanceView {
    InstanceView {
        id: instance.id.to_string(),
        name: instance.name.to_string(),
        url: instance.address.base_url(),
        group: instance.group.map(|g| g.to_string()),
        status: instance.status,
        status_reason: instance.status_reason,
        version: instance.version.map(|v| v.as_str().to_owned()),
        licence: instance.licence.map(|l| LicenceView {
            product_code: l.product_code,
            active: l.active,
            expires_at: l.expires_at,
            maintenance_expires_at: l.maintenance_expires_at,
            max_sim_calls: l.max_sim_calls,
        }),
        trunks: instance.trunks.into_iter().map(|t| TrunkView { name: t.name, online: t.online }).collect(),
        credentials_set: instance.credential_kind.is_some(),
        credential_kind: instance.credential_kind,
        created_at: instance.created_at,
        deleted_at: instance.deleted_at,
        last_snapshot: last,
    }
}

async fn view_with_snapshot(state: &ApiState, instance: Instance) -> Result<InstanceView, ApiError> {
    let last = state.latest_snapshot(&instance.tenant_id, &instance.id).await?;
    Ok(view(instance, last))
}

/// 3CX credentials; write-only.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialsInput {
    /// An administrator's user name (or extension) and password.
    Admin {
        username: String,
        #[schema(value_type = String, format = Password)]
        password: SecretString,
    },
    /// An API client (3CX Admin > Integrations > API).
    ClientCredentials {
        client_id: String,
        #[schema(value_type = String, format = Password)]
        client_secret: SecretString,
    },
}

impl CredentialsInput {
    fn parse(self) -> Result<PbxCredentials, ApiError> {
        Ok(match self {
            Self::Admin { username, password } => PbxCredentials::admin(&username, password)?,
            Self::ClientCredentials { client_id, client_secret } => {
                PbxCredentials::client_credentials(&client_id, client_secret)?
            }
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInstanceRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// The 3CX web address: `https://host[:port]` (plain `http://` and private addresses only
    /// in the local stack).
    pub url: String,
    /// A fleet group (usually the MSP's customer), 1 to 64 characters.
    pub group: Option<String>,
    pub credentials: CredentialsInput,
}

/// `null` and absent differ: `"group": null` clears the group, no `group` keeps it.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstancePatchRequest {
    pub name: Option<String>,
    pub url: Option<String>,
    /// A group, or `null` to clear it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub group: Option<Option<String>>,
    /// Replaces the stored credentials.
    pub credentials: Option<CredentialsInput>,
}

/// A web address the deployment may poll: in the cloud `https://` to a public host only.
fn parse_url(state: &ApiState, raw: &str) -> Result<PbxAddress, ApiError> {
    let address = PbxAddress::parse_url(raw)?;
    if state.config().deployment == Deployment::Cloud {
        if address.scheme != Scheme::Https {
            return Err(ApiError::Invalid("invalid url: must start with https://".into()));
        }
        let host = address.host.as_str();
        let private_ip = host.parse().is_ok_and(|ip| !is_public(ip));
        if private_ip || host == "localhost" || host.ends_with(".localhost") {
            return Err(ApiError::Invalid("invalid url: must be a public address".into()));
        }
    }
    Ok(address)
}

fn group(raw: Option<&str>) -> Result<Option<GroupName>, ApiError> {
    Ok(raw.map(GroupName::parse).transpose()?)
}

fn instance_id(raw: &str) -> Result<InstanceId, ApiError> {
    InstanceId::parse(raw).map_err(|_| ApiError::NotFound)
}

fn audit_target(raw: &str) -> Option<String> {
    InstanceId::parse(raw).ok().map(|i| i.to_string())
}

/// The instance if the caller's tenant has it, active or still restorable.
pub(crate) async fn visible_instance(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<Instance, ApiError> {
    let id = instance_id(raw_id)?;
    let now = state.now();
    state
        .store()
        .instances
        .get(caller.tenant_id(), &id)
        .await?
        .filter(|i| i.is_restorable_or_active(now))
        .ok_or(ApiError::NotFound)
}

async fn active_instance(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<Instance, ApiError> {
    Some(visible_instance(state, caller, raw_id).await?).filter(Instance::is_active).ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstanceListParams {
    /// Only this group (exact, case-insensitive).
    pub group: Option<String>,
    /// Only this status.
    pub status: Option<InstanceStatus>,
    /// Search in name and host (case-insensitive substring).
    pub q: Option<String>,
    /// `true` lists the soft-deleted instances that can still be restored instead.
    pub deleted: Option<bool>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstancePage {
    pub items: Vec<InstanceView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Position in the fleet list: the last item's sort key (lowercased name, id).
#[derive(Serialize, Deserialize)]
struct FleetCursor(String, String);

fn sort_key(i: &Instance) -> (String, String) {
    (i.name.as_str().to_lowercase(), i.id.to_string())
}

fn decode_fleet_cursor(raw: &str) -> Result<(String, String), ApiError> {
    let bad =
        || ApiError::BadRequest { code: "invalid_cursor", message: "the cursor does not continue this list".into() };
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let FleetCursor(name, id) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((name, id))
}

fn encode_fleet_cursor(key: (String, String)) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&FleetCursor(key.0, key.1)).unwrap_or_default())
}

/// The fleet: the tenant's instances with their status and latest snapshot, sorted by name,
/// filtered by group, status and a search in name and host.
#[utoipa::path(get, path = "/api/v1/instances", tag = "instances", params(InstanceListParams),
    responses((status = 200, body = InstancePage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Params(params): Params<InstanceListParams>,
) -> Result<Json<InstancePage>, ApiError> {
    let limit = usize::try_from(page_size(params.limit)?).unwrap_or(50);
    let after = params.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_fleet_cursor).transpose()?;
    let now = state.now();
    let deleted = params.deleted.unwrap_or(false);
    let group = params.group.map(|g| g.trim().to_lowercase());
    let q = params.q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
    let all = state.fleet(caller.tenant_id()).await?;
    let mut fleet: Vec<&Instance> = all
        .iter()
        .filter(|i| if deleted { !i.is_active() && i.is_restorable_or_active(now) } else { i.is_active() })
        .filter(|i| group.as_ref().is_none_or(|g| i.group.as_ref().is_some_and(|ig| ig.as_str().to_lowercase() == *g)))
        .filter(|i| params.status.is_none_or(|s| i.status == s))
        .filter(|i| {
            q.as_ref().is_none_or(|q| {
                i.name.as_str().to_lowercase().contains(q.as_str()) || i.address.host.as_str().contains(q.as_str())
            })
        })
        .filter(|i| after.as_ref().is_none_or(|a| sort_key(i) > *a))
        .collect();
    fleet.sort_by_cached_key(|i| sort_key(i));
    let more = fleet.len() > limit;
    fleet.truncate(limit);
    let next_cursor = if more { fleet.last().map(|i| encode_fleet_cursor(sort_key(i))) } else { None };
    let items = stream::iter(fleet.into_iter().cloned())
        .map(|i| view_with_snapshot(&state, i))
        .buffered(SNAPSHOT_READS)
        .try_collect()
        .await?;
    Ok(Json(InstancePage { items, next_cursor }))
}

async fn create_instance(
    state: &ApiState,
    caller: &Caller,
    body: Result<NewInstanceRequest, ApiError>,
) -> Result<Instance, ApiError> {
    caller.require(Role::Admin)?;
    let body = body?;
    let name = InstanceName::parse(&body.name)?;
    let address = parse_url(state, &body.url)?;
    let group = group(body.group.as_deref())?;
    let credentials = body.credentials.parse()?;
    let mut instance = Instance::new(caller.tenant_id().clone(), name, address, group, state.now());
    instance.credential_kind = Some(credentials.kind());
    let store = state.store();
    store.credentials.put(caller.tenant_id(), &instance.id, &credentials).await?;
    store.instances.create(&instance).await?;
    Ok(instance)
}

/// Adds a 3CX to the fleet (admins and owners); it is polled from the next minute on.
#[utoipa::path(post, path = "/api/v1/instances", tag = "instances", request_body = NewInstanceRequest,
    responses((status = 201, body = InstanceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Body(body): Body<NewInstanceRequest>,
) -> Result<(StatusCode, Json<InstanceView>), ApiError> {
    let result = create_instance(&state, &caller, body).await;
    record(&state, &caller, source, "instance.create", result.as_ref().ok().map(|i| i.id.to_string()), &result).await;
    Ok((StatusCode::CREATED, Json(view(result?, None))))
}

/// One instance, with its latest snapshot; soft-deleted ones too while restorable.
#[utoipa::path(get, path = "/api/v1/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "`ins_…`")),
    responses((status = 200, body = InstanceView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InstanceView>, ApiError> {
    let instance = visible_instance(&state, &caller, &id).await?;
    Ok(Json(view_with_snapshot(&state, instance).await?))
}

async fn update_instance(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<InstancePatchRequest, ApiError>,
) -> Result<Instance, ApiError> {
    caller.require(Role::Admin)?;
    let previous = active_instance(state, caller, raw_id).await?;
    let body = body?;
    let name = body.name.as_deref().map(InstanceName::parse).transpose()?;
    let address = body.url.as_deref().map(|url| parse_url(state, url)).transpose()?;
    let new_group = body.group.as_ref().map(|g| group(g.as_deref())).transpose()?;
    let credentials = body.credentials.map(CredentialsInput::parse).transpose()?;
    let store = state.store();
    if let Some(credentials) = &credentials {
        store.credentials.put(caller.tenant_id(), &previous.id, credentials).await?;
    }
    let apply = |instance: &mut Instance| {
        if let Some(name) = &name {
            instance.name = name.clone();
        }
        if let Some(address) = &address {
            instance.address = address.clone();
        }
        if let Some(g) = &new_group {
            instance.group = g.clone();
        }
        if let Some(credentials) = &credentials {
            instance.credential_kind = Some(credentials.kind());
        }
    };
    let mut next = previous.clone();
    apply(&mut next);
    if next != previous {
        next = store.instances.save_or_reapply(&next, apply).await?;
    }
    Ok(next)
}

/// Edits an instance (admins and owners). `credentials` replaces the stored ones.
#[utoipa::path(patch, path = "/api/v1/instances/{id}", tag = "instances", request_body = InstancePatchRequest,
    params(("id" = String, Path, description = "`ins_…`")),
    responses((status = 200, body = InstanceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<InstancePatchRequest>,
) -> Result<Json<InstanceView>, ApiError> {
    let result = update_instance(&state, &caller, &id, body).await;
    record(&state, &caller, source, "instance.update", audit_target(&id), &result).await;
    Ok(Json(view_with_snapshot(&state, result?).await?))
}

async fn delete_instance(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    let id = instance_id(raw_id)?;
    state.store().instances.soft_delete(caller.tenant_id(), &id, state.now()).await?;
    Ok(())
}

/// Soft-deletes an instance (admins and owners): polling stops; restorable for 30 days.
#[utoipa::path(delete, path = "/api/v1/instances/{id}", tag = "instances",
    params(("id" = String, Path, description = "`ins_…`")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let result = delete_instance(&state, &caller, &id).await;
    record(&state, &caller, source, "instance.delete", audit_target(&id), &result).await;
    result.map(|()| StatusCode::NO_CONTENT)
}

async fn restore_instance(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<Instance, ApiError> {
    caller.require(Role::Admin)?;
    let id = instance_id(raw_id)?;
    let window = Duration::days(RESTORE_WINDOW_DAYS);
    Ok(state.store().instances.restore(caller.tenant_id(), &id, window, state.now()).await?)
}

/// Undoes a delete made less than 30 days ago (admins and owners); 409 if not deleted.
#[utoipa::path(post, path = "/api/v1/instances/{id}/restore", tag = "instances",
    params(("id" = String, Path, description = "`ins_…`")),
    responses((status = 200, body = InstanceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn restore(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InstanceView>, ApiError> {
    let result = restore_instance(&state, &caller, &id).await;
    record(&state, &caller, source, "instance.restore", audit_target(&id), &result).await;
    Ok(Json(view_with_snapshot(&state, result?).await?))
}

/// What polling now found.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollResultView {
    pub status: InstanceStatus,
    pub previous_status: InstanceStatus,
    /// Why the poll failed; absent when it succeeded.
    pub reason: Option<String>,
    pub snapshot: MetricSnapshot,
}

async fn poll_instance(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<PollResultView, ApiError> {
    caller.require(Role::Technician)?;
    let instance = active_instance(state, caller, raw_id).await?;
    let target = PollTarget { tenant_id: instance.tenant_id, instance_id: instance.id };
    let polled = state.poller().poll_now(&target, state.now()).await?.ok_or(ApiError::NotFound)?;
    state.forget_latest(&polled.tenant_id, &polled.instance_id);
    Ok(PollResultView {
        status: polled.status,
        previous_status: polled.previous_status,
        reason: polled.reason,
        snapshot: polled.snapshot,
    })
}

/// Polls the instance now and records the result (technicians and up); answers with what the
/// poll found, a failed poll included.
#[utoipa::path(post, path = "/api/v1/instances/{id}/poll", tag = "instances",
    params(("id" = String, Path, description = "`ins_…`")),
    responses((status = 200, body = PollResultView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn poll(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<PollResultView>, ApiError> {
    let result = poll_instance(&state, &caller, &id).await;
    record(&state, &caller, source, "instance.poll", audit_target(&id), &result).await;
    result.map(Json)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupView {
    /// When the backup was made, or when a missed one was due.
    pub at: DateTime<Utc>,
    pub size_bytes: Option<u64>,
    /// `succeeded` or `failed`.
    pub result: &'static str,
    pub reason: Option<String>,
}

impl From<BackupRecord> for BackupView {
    fn from(b: BackupRecord) -> Self {
        let (result, reason) = match b.outcome {
            BackupOutcome::Succeeded => ("succeeded", None),
            BackupOutcome::Failed { reason } => ("failed", Some(reason)),
        };
        Self { at: b.at, size_bytes: b.size_bytes, result, reason }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupPage {
    pub items: Vec<BackupView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The instance's backup history, newest first.
#[utoipa::path(get, path = "/api/v1/instances/{id}/backups", tag = "instances",
    params(("id" = String, Path, description = "`ins_…`"), PageParams),
    responses((status = 200, body = BackupPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn backups(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(params): Params<PageParams>,
) -> Result<Json<BackupPage>, ApiError> {
    let instance = visible_instance(&state, &caller, &id).await?;
    let limit = page_size(params.limit)?;
    let page =
        state.store().backups.newest_first(caller.tenant_id(), &instance.id, limit, cursor(params.cursor)).await?;
    Ok(Json(BackupPage {
        items: page.items.into_iter().map(BackupView::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}
