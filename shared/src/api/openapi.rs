//! The OpenAPI document's frame (title, security schemes, tags) and the routes that serve it
//! and liveness. The paths come from the handlers' `#[utoipa::path]` attributes.

use std::sync::OnceLock;

use axum::Json;
use serde::Serialize;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::auth::SESSION_COOKIE;

#[derive(OpenApi)]
#[openapi(
    info(title = "Sikurd API", version = "1", description = "Monitoring of 3CX fleets. Sign in with POST /api/v1/auth/login; the session cookie then authenticates every request, and every POST, PATCH, PUT and DELETE also needs the header X-CSRF-Token with the session's csrf_token. Errors: {\"error\": {\"code\", \"message\"}}."),
    modifiers(&SessionSecurity),
    security(("session" = [])),
    tags((name = "accounts"), (name = "users"), (name = "instances"), (name = "audit"), (name = "export"), (name = "reports"), (name = "meta"))
)]
struct ApiDoc;

struct SessionSecurity;

impl Modify for SessionSecurity {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "Set by login and sign-up: HttpOnly; Secure; SameSite=Lax; Path=/",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's csrf_token; required on POST, PATCH, PUT and DELETE",
            ))),
        );
    }
}

/// Adds the answers any operation may give before its handler runs, in the error shape:
/// 400 (a query or body that cannot be read), and for operations with a body 413 (over the size
/// limit) and 415 (not `application/json`).
pub fn document_transport_errors(document: &mut Document) {
    let error = |description: &str| {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
        RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
    };
    for item in document.paths.paths.values_mut() {
        let operations =
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete, &mut item.head];
        for operation in operations.into_iter().flatten() {
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            responses.entry("400".into()).or_insert_with(|| error("The request could not be read"));
            if has_body {
                responses.entry("413".into()).or_insert_with(|| error("The body is larger than the limit"));
                responses.entry("415".into()).or_insert_with(|| error("The body is not application/json"));
            }
        }
    }
}

/// The document before the paths are added.
pub fn base() -> Document {
    ApiDoc::openapi()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness: answers without touching any store.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// This API's OpenAPI 3.1 document, generated from the handlers.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub async fn document() -> Json<&'static Document> {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    Json(DOCUMENT.get_or_init(super::openapi_document))
}
