//! Team management within the caller's tenant.
//!
//! Everyone reads the team. Admins add, edit and remove users up to admin; only the owner
//! edits the owner, and the owner is never removed. Making another user owner (owners only)
//! transfers ownership: the current owner becomes an admin in the same transaction. Anyone
//! edits their own name, e-mail address and password (the last two need `current_password`).
//! A password change or removal ends all of that user's sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::audit::{PageParams, record};
use super::auth::{Caller, cleared_session_cookie, hash_password, set_cookie, verify_password};
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params, SourceIp};
use super::views::{UserView, cursor, page_size};
use crate::domain::{Email, PersonName, Role, User, UserId};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<UserView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub name: String,
    pub email: String,
    /// `admin`, `technician` or `viewer` (a tenant has one owner).
    pub role: Role,
    /// At least 12 characters, at most 72 bytes.
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

/// Only the fields present change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchRequest {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `owner` (by the owner, alone in the request) transfers ownership.
    pub role: Option<Role>,
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
    /// Needed to change one's own e-mail address or password.
    #[schema(value_type = Option<String>, format = Password)]
    pub current_password: Option<SecretString>,
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|_| ApiError::NotFound)
}

/// The tenant's users in creation order.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageParams),
    responses((status = 200, body = UserPage), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    Params(params): Params<PageParams>,
) -> Result<Json<UserPage>, ApiError> {
    let limit = page_size(params.limit)?;
    let page = state.store().users.list(caller.tenant_id(), limit, cursor(params.cursor)).await?;
    Ok(Json(UserPage {
        items: page.items.iter().map(UserView::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

async fn create_user(
    state: &ApiState,
    caller: &Caller,
    body: Result<NewUserRequest, ApiError>,
) -> Result<User, ApiError> {
    caller.require(Role::Admin)?;
    let body = body?;
    if body.role == Role::Owner {
        caller.require(Role::Owner)?;
        return Err(ApiError::Invalid(
            "invalid role: a tenant has one owner; make an existing user owner to transfer ownership".into(),
        ));
    }
    let name = PersonName::parse(&body.name)?;
    let email = Email::parse(&body.email)?;
    let password_hash = hash_password(state, body.password).await?;
    let user = User {
        id: UserId::generate(),
        tenant_id: caller.tenant_id().clone(),
        name,
        email,
        password_hash,
        role: body.role,
        created_at: state.now(),
    };
    state.store().users.create(caller.tenant_id(), &user).await?;
    Ok(user)
}

/// Adds a user to the caller's tenant (admins and owners).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserRequest,
    responses((status = 201, body = UserView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Body(body): Body<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let result = create_user(&state, &caller, body).await;
    let target = result.as_ref().ok().map(|u| u.id.to_string());
    record(&state, &caller, source, "user.create", target, &result).await;
    Ok((StatusCode::CREATED, Json(UserView::from(&result?))))
}

async fn check_current_password(current: Option<SecretString>, user: &User) -> Result<(), ApiError> {
    let Some(current) = current else {
        return Err(ApiError::Invalid(
            "invalid current_password: needed to change your e-mail address or password".into(),
        ));
    };
    if verify_password(current, user.password_hash.as_str().to_owned()).await? {
        Ok(())
    } else {
        Err(ApiError::Invalid("invalid current_password: it does not match".into()))
    }
}

/// What an update did, for the response.
struct Updated {
    user: User,
    sessions_ended: bool,
}

async fn update_user(
    state: &ApiState,
    caller: &Caller,
    raw_id: &str,
    body: Result<UserPatchRequest, ApiError>,
    action: &mut &'static str,
) -> Result<Updated, ApiError> {
    let id = user_id(raw_id)?;
    let is_self = id == caller.user.id;
    if !is_self {
        caller.require(Role::Admin)?;
    }
    let store = state.store();
    let target = store.users.get(caller.tenant_id(), &id).await?.ok_or(ApiError::NotFound)?;
    if target.role == Role::Owner && !is_self {
        caller.require(Role::Owner)?;
    }
    let body = body?;

    if body.role == Some(Role::Owner) && target.role != Role::Owner {
        *action = "user.transfer_ownership";
        caller.require(Role::Owner)?;
        if body.name.is_some() || body.email.is_some() || body.password.is_some() {
            return Err(ApiError::Invalid("invalid role: transfer ownership in a request of its own".into()));
        }
        store.users.transfer_ownership(caller.tenant_id(), &caller.user, &target).await?;
        return Ok(Updated { user: User { role: Role::Owner, ..target }, sessions_ended: false });
    }

    let mut next = target.clone();
    if let Some(role) = body.role.filter(|r| *r != target.role) {
        if is_self {
            return Err(ApiError::Forbidden("you cannot change your own role"));
        }
        next.role = role;
    }
    if let Some(name) = &body.name {
        next.name = PersonName::parse(name)?;
    }
    if let Some(email) = &body.email {
        next.email = Email::parse(email)?;
    }
    let new_password = body.password;
    if is_self && (next.email != target.email || new_password.is_some()) {
        check_current_password(body.current_password, &target).await?;
    }
    if let Some(password) = new_password.clone() {
        next.password_hash = hash_password(state, password).await?;
    }
    if next != target {
        store.users.update(caller.tenant_id(), &target, &next).await?;
    }
    let sessions_ended = new_password.is_some();
    if sessions_ended {
        store.sessions.revoke_all_of_user(caller.tenant_id(), &next.id).await?;
    }
    Ok(Updated { user: next, sessions_ended })
}

/// Edits a user. A new password ends all of that user's sessions (for one's own password,
/// this one too: the response clears the cookie).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserPatchRequest,
    params(("id" = String, Path, description = "`usr_…`")),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<UserPatchRequest>,
) -> Result<Response, ApiError> {
    let mut action = "user.update";
    let result = update_user(&state, &caller, &id, body, &mut action).await;
    record(&state, &caller, source, action, UserId::parse(&id).ok().map(|i| i.to_string()), &result).await;
    let updated = result?;
    let mut response = Json(UserView::from(&updated.user)).into_response();
    if updated.sessions_ended && updated.user.id == caller.user.id {
        set_cookie(response.headers_mut(), cleared_session_cookie());
    }
    Ok(response)
}

async fn delete_user(state: &ApiState, caller: &Caller, raw_id: &str) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    let id = user_id(raw_id)?;
    let store = state.store();
    let target = store.users.get(caller.tenant_id(), &id).await?.ok_or(ApiError::NotFound)?;
    if target.id == caller.user.id {
        return Err(ApiError::Forbidden("you cannot remove yourself"));
    }
    if target.role == Role::Owner {
        return Err(ApiError::Forbidden("the owner cannot be removed; transfer ownership first"));
    }
    store.users.delete(caller.tenant_id(), &target).await?;
    store.sessions.revoke_all_of_user(caller.tenant_id(), &target.id).await?;
    Ok(())
}

/// Removes a user (admins and owners; never the owner, never oneself), frees their e-mail
/// address and ends their sessions.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "`usr_…`")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<ApiState>,
    source: SourceIp,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let result = delete_user(&state, &caller, &id).await;
    record(&state, &caller, source, "user.delete", UserId::parse(&id).ok().map(|i| i.to_string()), &result).await;
    result.map(|()| StatusCode::NO_CONTENT)
}
