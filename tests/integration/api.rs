//! The HTTP API through its router, in process (no socket): accounts and sessions, CSRF, roles,
//! tenant isolation on every documented route, instances, metrics, backups, the audit log and
//! the CSV export. Embedded store, bcrypt cost 4, a manual clock.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};
use sikurd::api::PollNow;
use sikurd::clock::Clock;
use sikurd::config::{ApiConfig, Deployment};
use sikurd::domain::{
    Actor, AuditOutcome, BackupOutcome, BackupRecord, InstanceId, InstanceStatus, MetricSnapshot, PollOutcome, TenantId,
};
use sikurd::events::InProcessBus;
use sikurd::pbx::{PbxClient, PbxClientConfig};
use sikurd::polling::{Poller, Recorder};
use sikurd_tests::api::{ApiFixture, PASSWORD, Req, Res, Session, test_config};
use sikurd_tests::embedded_store;

const COOKIE_PATTERN_PREFIX: &str = "__Secure-sikurd_session=";

fn tenant_of(session: &Session) -> TenantId {
    TenantId::parse(&session.tenant_id).unwrap()
}

fn instance_id(raw: &str) -> InstanceId {
    InstanceId::parse(raw).unwrap()
}

#[track_caller]
pub(crate) fn assert_session_cookie(res: &Res, max_age: i64) -> String {
    let cookie = res.set_cookie().expect("a Set-Cookie header");
    let value = cookie.strip_prefix(COOKIE_PATTERN_PREFIX).expect("the session cookie's name");
    let (id, attributes) = value.split_once(';').expect("attributes");
    assert_eq!(id.len(), 43, "a 256-bit id in unpadded base64url: {cookie}");
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{cookie}");
    assert_eq!(attributes, format!(" HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age={max_age}"));
    id.to_owned()
}

mod accounts {
    use super::*;

    #[tokio::test]
    async fn signup_creates_the_tenant_and_its_owner_and_signs_the_owner_in() {
        let api = ApiFixture::new();
        let res = api
            .send(Req::post("/api/v1/signup").json(json!({
                "tenant_name": "Acme MSP", "name": "Ana", "email": "Ana@Acme.example", "password": PASSWORD
            })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert_session_cookie(&res, 12 * 3600);
        assert_eq!(res.json["user"]["email"], "ana@acme.example");
        assert_eq!(res.json["role"], "owner");
        assert_eq!(res.json["tenant"]["name"], "Acme MSP");
        assert!(!res.text.contains(PASSWORD) && !res.text.contains("$2"), "no password or hash: {}", res.text);

        let owner = Session::from_login(&res);
        let me = api.send(owner.get("/api/v1/me")).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        assert_eq!(me.json["user"]["id"], owner.user_id.as_str());
        assert_eq!(me.json["csrf_token"], owner.csrf.as_str());
    }

    #[tokio::test]
    async fn signup_can_be_turned_off_by_configuration() {
        let api = ApiFixture::with_config(ApiConfig { signup_enabled: false, ..test_config(Deployment::Cloud) });
        let res = api
            .send(Req::post("/api/v1/signup").json(json!({
                "tenant_name": "Acme", "name": "Ana", "email": "ana@acme.example", "password": PASSWORD
            })))
            .await;
        res.assert_error(StatusCode::FORBIDDEN, "signup_disabled");
    }

    #[tokio::test]
    async fn sign_ups_from_one_source_address_are_throttled() {
        let config = ApiConfig { login_max_failures_per_address: 2, ..test_config(Deployment::Cloud) };
        let api = ApiFixture::with_config(config);
        let signup = |n: u32, ip: &str| {
            Req::post("/api/v1/signup").from_ip(ip).json(json!({
                "tenant_name": format!("MSP {n}"), "name": "Ana", "email": format!("ana{n}@acme.example"), "password": PASSWORD
            }))
        };
        for n in 0..2 {
            assert_eq!(api.send(signup(n, "198.51.100.7")).await.status, StatusCode::CREATED);
        }
        api.send(signup(2, "198.51.100.7")).await.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        assert_eq!(api.send(signup(3, "198.51.100.8")).await.status, StatusCode::CREATED);
    }

    #[tokio::test]
    async fn signup_with_an_address_in_use_is_a_conflict() {
        let api = ApiFixture::new();
        api.sign_up("First", "ana@acme.example").await;
        let res = api
            .send(Req::post("/api/v1/signup").json(json!({
                "tenant_name": "Second", "name": "Ana", "email": "ANA@acme.example", "password": PASSWORD
            })))
            .await;
        res.assert_error(StatusCode::CONFLICT, "conflict");
    }

    #[tokio::test]
    async fn bad_input_is_a_4xx_in_the_error_shape_never_a_500() {
        let api = ApiFixture::new();
        let good = json!({ "tenant_name": "Acme", "name": "Ana", "email": "ana@acme.example", "password": PASSWORD });
        let with = |field: &str, value: Value| {
            let mut body = good.clone();
            body[field] = value;
            body
        };
        let cases = vec![
            (
                Req::post("/api/v1/signup").json(with("email", json!("not-an-address"))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").json(with("password", json!("short"))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").json(with("tenant_name", json!("x".repeat(101)))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").json(with("name", json!(""))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").json(with("admin", json!(true))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").json(with("email", json!(5))),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").json(json!({ "email": "ana@acme.example" })),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (
                Req::post("/api/v1/signup").raw_body("application/json", "{\"tenant_name\":"),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                Req::post("/api/v1/signup").raw_body("application/json", "{\"tenant_name\" \"x\"}"),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                Req::post("/api/v1/signup").raw_body("text/plain", good.to_string()),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (Req::post("/api/v1/signup"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (
                Req::post("/api/v1/signup")
                    .raw_body("application/json", format!("{{\"name\":\"{}\"}}", "x".repeat(70_000))),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                Req::post("/api/v1/auth/login").json(json!({ "email": "a@b.example" })),
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
            ),
            (Req::get("/api/v1/nothing-here"), StatusCode::NOT_FOUND, "not_found"),
            (Req::new(Method::DELETE, "/api/v1/signup"), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            (Req::new(Method::PUT, "/healthz"), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ];
        for (request, status, code) in cases {
            api.send(request).await.assert_error(status, code);
        }
    }

    #[tokio::test]
    async fn login_answers_with_the_user_a_csrf_token_and_the_exact_session_cookie() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let res = api.log_in(" ANA@acme.example ", PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let id = assert_session_cookie(&res, 12 * 3600);
        assert_eq!(res.json["user"]["id"], owner.user_id.as_str());
        assert_eq!(res.json["csrf_token"].as_str().map(str::len), Some(43));
        assert_ne!(res.json["csrf_token"], owner.csrf.as_str(), "each session has its own CSRF token");

        let raw = api.stores.raw_contents().await;
        assert!(!raw.windows(id.len()).any(|w| w == id.as_bytes()), "the session id itself is never stored");
    }

    #[tokio::test]
    async fn an_unknown_address_and_a_wrong_password_get_the_same_answer() {
        let api = ApiFixture::new();
        api.sign_up("Acme", "ana@acme.example").await;
        let wrong_password = api.log_in("ana@acme.example", "not the password at all").await;
        let unknown = api.log_in("nobody@acme.example", "not the password at all").await;
        let malformed = api.log_in("not an address", "not the password at all").await;
        for res in [&wrong_password, &unknown, &malformed] {
            res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
            assert!(res.set_cookie().is_none());
        }
        assert_eq!(wrong_password.json, unknown.json);
        assert_eq!(wrong_password.json, malformed.json);
    }

    #[tokio::test]
    async fn repeated_failures_for_one_account_are_throttled_until_the_window_passes() {
        let api = ApiFixture::new();
        api.sign_up("Acme", "ana@acme.example").await;
        for i in 0..10 {
            let res = api
                .send(Req::post("/api/v1/auth/login").from_ip(&format!("198.51.100.{i}")).json(json!({
                    "email": "ana@acme.example", "password": "wrong password!"
                })))
                .await;
            res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        }
        let throttled = api.log_in("ana@acme.example", PASSWORD).await;
        throttled.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        let retry: i64 = throttled.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&retry), "{retry}");
        let unknown = api.log_in("ANA@acme.example", "wrong password!").await;
        unknown.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");

        api.clock().advance(Duration::minutes(15) + Duration::seconds(1));
        assert_eq!(api.log_in("ana@acme.example", PASSWORD).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn repeated_failures_from_one_address_are_throttled_for_every_account() {
        let config = ApiConfig { login_max_failures_per_address: 3, ..test_config(Deployment::Cloud) };
        let api = ApiFixture::with_config(config);
        api.sign_up("Acme", "ana@acme.example").await;
        let attempt = |email: &str, password: &str, ip: &str| {
            Req::post("/api/v1/auth/login").from_ip(ip).json(json!({ "email": email, "password": password }))
        };
        for i in 0..3 {
            let res = api.send(attempt(&format!("guess{i}@acme.example"), "wrong password!", "203.0.113.9")).await;
            res.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        }
        let res = api.send(attempt("ana@acme.example", PASSWORD, "203.0.113.9")).await;
        res.assert_error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
        let elsewhere = api.send(attempt("ana@acme.example", PASSWORD, "203.0.113.10")).await;
        assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.text);
    }

    #[tokio::test]
    async fn logout_ends_the_session_on_the_server_and_clears_the_cookie() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let res = api.send(owner.post("/api/v1/auth/logout")).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
        assert_eq!(
            res.set_cookie(),
            Some("__Secure-sikurd_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0")
        );
        api.send(owner.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        api.send(owner.post("/api/v1/auth/logout")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }

    #[tokio::test]
    async fn an_idle_session_ends_after_the_idle_limit() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        api.clock().advance(Duration::minutes(59));
        assert_eq!(api.send(owner.get("/api/v1/me")).await.status, StatusCode::OK);
        api.clock().advance(Duration::minutes(61));
        api.send(owner.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }

    #[tokio::test]
    async fn an_active_session_still_ends_at_its_absolute_expiry() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        for _ in 0..14 {
            api.clock().advance(Duration::minutes(50));
            assert_eq!(api.send(owner.get("/api/v1/me")).await.status, StatusCode::OK);
        }
        api.clock().advance(Duration::minutes(21));
        api.send(owner.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
    }

    #[tokio::test]
    async fn garbage_and_unknown_session_cookies_are_refused() {
        let api = ApiFixture::new();
        for cookie in [
            "__Secure-sikurd_session=",
            "__Secure-sikurd_session=garbage",
            "__Secure-sikurd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "sikurd_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            api.send(Req::get("/api/v1/me").cookie(cookie))
                .await
                .assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }

    #[tokio::test]
    async fn unsafe_methods_need_this_sessions_csrf_token() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let other = Session::from_login(&api.log_in("ana@acme.example", PASSWORD).await);
        let body = json!({ "name": "T", "email": "t@acme.example", "role": "viewer", "password": PASSWORD });
        let missing = owner.post("/api/v1/users").without("x-csrf-token").json(body.clone());
        api.send(missing).await.assert_error(StatusCode::FORBIDDEN, "csrf_failed");
        let wrong =
            owner.post("/api/v1/users").without("x-csrf-token").csrf("x".repeat(43).as_str()).json(body.clone());
        api.send(wrong).await.assert_error(StatusCode::FORBIDDEN, "csrf_failed");
        let another_sessions = owner.post("/api/v1/users").without("x-csrf-token").csrf(&other.csrf).json(body.clone());
        api.send(another_sessions).await.assert_error(StatusCode::FORBIDDEN, "csrf_failed");
        assert_eq!(api.send(owner.post("/api/v1/users").json(body)).await.status, StatusCode::CREATED);
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        for request in [
            Req::get("/healthz"),
            Req::get("/api/v1/openapi.json"),
            Req::get("/api/v1/me"),
            owner.get("/api/v1/me"),
            owner.get("/api/v1/export/instances.csv"),
            Req::get("/nowhere"),
            Req::post("/api/v1/auth/login").raw_body("application/json", "{"),
            Req::new(Method::PATCH, "/api/v1/me"),
        ] {
            let res = api.send(request).await;
            let h = |name: &str| res.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("<missing>").to_owned();
            assert!(
                h("content-security-policy").contains("frame-ancestors 'none'"),
                "{}",
                h("content-security-policy")
            );
            assert!(h("content-security-policy").contains("default-src 'self'"));
            assert!(h("strict-transport-security").starts_with("max-age="), "{}", h("strict-transport-security"));
            assert_eq!(h("x-content-type-options"), "nosniff");
            assert_eq!(h("x-frame-options"), "DENY");
            assert_eq!(h("cache-control"), "no-store");
            assert_eq!(h("referrer-policy"), "no-referrer");
        }
    }

    #[tokio::test]
    async fn health_and_the_openapi_document_need_no_session() {
        let api = ApiFixture::new();
        let health = api.send(Req::get("/healthz")).await;
        assert_eq!((health.status, health.json["status"].as_str()), (StatusCode::OK, Some("ok")));
        let doc = api.send(Req::get("/api/v1/openapi.json")).await;
        assert_eq!(doc.status, StatusCode::OK);
        assert!(doc.json["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        assert!(doc.json["components"]["securitySchemes"]["session"].is_object());
    }
}

mod users {
    use super::*;

    #[tokio::test]
    async fn every_role_reads_the_team_but_only_admins_and_owners_add_users() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let admin = api.add_user(&owner, "admin", "admin@acme.example").await;
        let tech = api.add_user(&admin, "technician", "tech@acme.example").await;
        let viewer = api.add_user(&admin, "viewer", "viewer@acme.example").await;

        for session in [&owner, &admin, &tech, &viewer] {
            let res = api.send(session.get("/api/v1/users")).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.text);
            assert_eq!(res.json["items"].as_array().map(Vec::len), Some(4));
            assert!(!res.text.contains("password") && !res.text.contains("$2"), "{}", res.text);
        }
        let body =
            |email: &str, role: &str| json!({ "name": "New", "email": email, "role": role, "password": PASSWORD });
        for session in [&tech, &viewer] {
            api.send(session.post("/api/v1/users").json(body("x@acme.example", "viewer")))
                .await
                .assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        api.send(admin.post("/api/v1/users").json(body("o@acme.example", "owner")))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(owner.post("/api/v1/users").json(body("o@acme.example", "owner")))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        api.send(owner.post("/api/v1/users").json(body("o@acme.example", "root")))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        api.send(admin.post("/api/v1/users").json(body("ana@acme.example", "viewer")))
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");

        let paged = api.send(owner.get("/api/v1/users?limit=3")).await;
        assert_eq!(paged.json["items"].as_array().map(Vec::len), Some(3));
        let cursor = paged.json["next_cursor"].as_str().unwrap();
        let rest = api.send(owner.get(&format!("/api/v1/users?limit=3&cursor={cursor}"))).await;
        assert_eq!(rest.json["items"].as_array().map(Vec::len), Some(1));
        api.send(owner.get("/api/v1/users?limit=0")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        api.send(owner.get("/api/v1/users?cursor=bogus")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");
        api.send(owner.get("/api/v1/users?sort=name")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    }

    #[tokio::test]
    async fn admins_manage_users_up_to_admin_but_never_the_owner() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let admin = api.add_user(&owner, "admin", "admin@acme.example").await;
        let other_admin = api.add_user(&owner, "admin", "admin2@acme.example").await;
        let tech = api.add_user(&admin, "technician", "tech@acme.example").await;
        let viewer = api.add_user(&admin, "viewer", "viewer@acme.example").await;
        let owner_url = format!("/api/v1/users/{}", owner.user_id);
        let viewer_url = format!("/api/v1/users/{}", viewer.user_id);

        let promoted = api.send(admin.patch(&viewer_url).json(json!({ "role": "admin" }))).await;
        assert_eq!((promoted.status, promoted.json["role"].as_str()), (StatusCode::OK, Some("admin")));
        api.send(admin.patch(&viewer_url).json(json!({ "role": "owner" })))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(admin.patch(&owner_url).json(json!({ "name": "Renamed" })))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(admin.delete(&owner_url)).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(owner.delete(&owner_url)).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(admin.patch(&format!("/api/v1/users/{}", admin.user_id)).json(json!({ "role": "viewer" })))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(tech.patch(&format!("/api/v1/users/{}", other_admin.user_id)).json(json!({ "name": "x" })))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(tech.delete(&format!("/api/v1/users/{}", other_admin.user_id)))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(admin.patch("/api/v1/users/usr_nonsense").json(json!({})))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");

        let removed = api.send(admin.delete(&format!("/api/v1/users/{}", other_admin.user_id))).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
        api.send(other_admin.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        api.send(admin.delete(&format!("/api/v1/users/{}", other_admin.user_id)))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        api.log_in("admin2@acme.example", PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        let again = api.add_user(&owner, "viewer", "admin2@acme.example").await;
        assert_ne!(again.user_id, other_admin.user_id, "a removed user's address is free again");
    }

    #[tokio::test]
    async fn making_another_user_owner_transfers_ownership() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let url = format!("/api/v1/users/{}", tech.user_id);
        api.send(owner.patch(&url).json(json!({ "role": "owner", "name": "x" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        let res = api.send(owner.patch(&url).json(json!({ "role": "owner" }))).await;
        assert_eq!((res.status, res.json["role"].as_str()), (StatusCode::OK, Some("owner")), "{}", res.text);

        let me = api.send(owner.get("/api/v1/me")).await;
        assert_eq!(me.json["role"], "admin", "the previous owner is now an admin");
        let team = api.send(tech.get("/api/v1/users")).await;
        let owners: Vec<_> = team.json["items"].as_array().unwrap().iter().filter(|u| u["role"] == "owner").collect();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0]["id"], tech.user_id.as_str());
        api.send(owner.delete(&url)).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }

    #[tokio::test]
    async fn changing_ones_own_address_or_password_needs_the_current_password() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let url = format!("/api/v1/users/{}", viewer.user_id);
        api.send(viewer.patch(&url).json(json!({ "email": "v2@acme.example" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        api.send(viewer.patch(&url).json(json!({ "email": "v2@acme.example", "current_password": "wrong password!" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        api.send(viewer.patch(&url).json(json!({ "email": "ana@acme.example", "current_password": PASSWORD })))
            .await
            .assert_error(StatusCode::CONFLICT, "conflict");
        let renamed = api
            .send(
                viewer
                    .patch(&url)
                    .json(json!({ "name": "Vic", "email": "v2@acme.example", "current_password": PASSWORD })),
            )
            .await;
        assert_eq!(
            (renamed.status, renamed.json["email"].as_str()),
            (StatusCode::OK, Some("v2@acme.example")),
            "{}",
            renamed.text
        );
        api.log_in("viewer@acme.example", PASSWORD).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        assert_eq!(api.log_in("v2@acme.example", PASSWORD).await.status, StatusCode::OK);
        api.sign_up("Other MSP", "viewer@acme.example").await;
    }

    #[tokio::test]
    async fn a_password_change_ends_every_session_of_that_user() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let tech_elsewhere = Session::from_login(&api.log_in("tech@acme.example", PASSWORD).await);
        let new_password = "a brand new passphrase";

        let reset = api
            .send(owner.patch(&format!("/api/v1/users/{}", tech.user_id)).json(json!({ "password": new_password })))
            .await;
        assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
        for session in [&tech, &tech_elsewhere] {
            api.send(session.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        assert_eq!(api.send(owner.get("/api/v1/me")).await.status, StatusCode::OK);
        let tech = Session::from_login(&api.log_in("tech@acme.example", new_password).await);

        let own = api
            .send(
                tech.patch(&format!("/api/v1/users/{}", tech.user_id))
                    .json(json!({ "password": PASSWORD, "current_password": new_password })),
            )
            .await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.text);
        assert!(own.set_cookie().is_some_and(|c| c.ends_with("Max-Age=0")), "the own cookie is cleared");
        api.send(tech.get("/api/v1/me")).await.assert_error(StatusCode::UNAUTHORIZED, "unauthenticated");
        api.send(owner.patch(&format!("/api/v1/users/{}", tech.user_id)).json(json!({ "password": "short" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
}

mod instances {
    use super::*;

    fn new_instance(name: &str, url: &str) -> Value {
        json!({ "name": name, "url": url, "credentials": { "kind": "client_credentials", "client_id": "sikurd-api", "client_secret": "s3cr3t-client-secret" } })
    }

    #[tokio::test]
    async fn an_admin_adds_an_instance_whose_credentials_are_never_returned() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let res = api
            .send(owner.post("/api/v1/instances").json(json!({
                "name": "Head office", "url": "https://PBX.example.com:5001", "group": "Contoso",
                "credentials": { "kind": "admin", "username": "admin-user-canary", "password": "pbx-password-canary" }
            })))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
        assert_eq!(res.json["url"], "https://pbx.example.com:5001");
        assert_eq!(res.json["group"], "Contoso");
        assert_eq!(res.json["status"], "never_polled");
        assert_eq!(
            (res.json["credentials_set"].as_bool(), res.json["credential_kind"].as_str()),
            (Some(true), Some("admin"))
        );
        let id = res.json["id"].as_str().unwrap().to_owned();

        let detail = api.send(owner.get(&format!("/api/v1/instances/{id}"))).await;
        let list = api.send(owner.get("/api/v1/instances")).await;
        let csv = api.send(owner.get("/api/v1/export/instances.csv")).await;
        for res in [&res, &detail, &list, &csv] {
            assert!(res.status.is_success(), "{}", res.text);
            for secret in ["admin-user-canary", "pbx-password-canary"] {
                assert!(!res.text.contains(secret), "{secret} leaked: {}", res.text);
            }
        }
        let stored = api.store().credentials.get(&tenant_of(&owner), &instance_id(&id)).await.unwrap();
        assert!(
            matches!(stored, Some(sikurd::domain::PbxCredentials::Admin { username, .. }) if username == "admin-user-canary")
        );
    }

    #[tokio::test]
    async fn instance_input_is_validated_with_https_only_in_the_cloud() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let mut bad = vec![
            new_instance("A", "http://pbx.example.com"),
            new_instance("A", "https://10.0.0.5:5001"),
            new_instance("A", "https://127.0.0.1"),
            new_instance("A", "https://pbx.localhost"),
            new_instance("A", "https://pbx.example.com:70000"),
            new_instance("A", "https://pbx.example.com:0"),
            new_instance("A", "https://pbx.example.com/path"),
            new_instance("A", "ftp://pbx.example.com"),
            new_instance("A", "not a url"),
            new_instance(&"n".repeat(101), "https://pbx.example.com"),
            new_instance("", "https://pbx.example.com"),
            json!({ "name": "A", "url": "https://pbx.example.com", "credentials": { "kind": "root", "token": "x" } }),
            json!({ "name": "A", "url": "https://pbx.example.com", "credentials": { "kind": "admin", "username": "", "password": "x" } }),
            json!({ "name": "A", "url": "https://pbx.example.com", "credentials": { "kind": "admin", "username": "1", "password": "x", "extra": 1 } }),
            json!({ "name": "A", "url": "https://pbx.example.com" }),
        ];
        let mut with_group = new_instance("A", "https://pbx.example.com");
        with_group["group"] = json!("g".repeat(65));
        bad.push(with_group);
        let mut unknown = new_instance("A", "https://pbx.example.com");
        unknown["deleted_at"] = json!(null);
        bad.push(unknown);
        for body in bad {
            let res = api.send(owner.post("/api/v1/instances").json(body.clone())).await;
            res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        }
        let list = api.send(owner.get("/api/v1/instances")).await;
        assert_eq!(list.json["items"], json!([]));

        let local = ApiFixture::with_config(test_config(Deployment::Local));
        let owner = local.sign_up("Acme", "ana@acme.example").await;
        let res = local.send(owner.post("/api/v1/instances").json(new_instance("Lab", "http://10.0.0.5:5000"))).await;
        assert_eq!(res.status, StatusCode::CREATED, "the local stack takes http and private hosts: {}", res.text);
    }

    #[tokio::test]
    async fn the_fleet_list_shows_every_write_at_once_even_from_the_poller() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let first = api.add_instance(&owner, "first", None).await;
        let statuses = |res: &Res| -> Vec<String> {
            res.json["items"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(statuses(&api.send(owner.get("/api/v1/instances")).await), ["never_polled"]);

        // A write that does not go through the API (the poller's) is seen by the next list.
        let tenant = tenant_of(&owner);
        let mut stored = api.store().instances.get(&tenant, &instance_id(&first)).await.unwrap().unwrap();
        stored.status = InstanceStatus::LoginFailing;
        api.store().instances.save(&stored).await.unwrap();
        assert_eq!(statuses(&api.send(owner.get("/api/v1/instances")).await), ["login_failing"]);

        api.add_instance(&owner, "second", None).await;
        assert_eq!(api.send(owner.get("/api/v1/instances")).await.json["items"].as_array().unwrap().len(), 2);
        let deleted = api.send(owner.delete(&format!("/api/v1/instances/{first}"))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(statuses(&api.send(owner.get("/api/v1/instances")).await), ["never_polled"]);
    }

    #[tokio::test]
    async fn concurrent_fleet_lists_after_a_change_share_one_read_of_the_fleet() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        for i in 0..20 {
            api.add_instance(&owner, &format!("pbx-{i:02}"), None).await;
        }
        assert_eq!(api.send(owner.get("/api/v1/instances?limit=5")).await.status, StatusCode::OK);
        let tenant = tenant_of(&owner);
        let first = api.send(owner.get("/api/v1/instances?limit=1")).await.json["items"][0]["id"].clone();
        let mut stored =
            api.store().instances.get(&tenant, &instance_id(first.as_str().unwrap())).await.unwrap().unwrap();
        stored.status = InstanceStatus::Unreachable;
        api.store().instances.save(&stored).await.unwrap();

        api.stores.counting.reset();
        let lists = (0..16).map(|_| api.send(owner.get("/api/v1/instances?limit=5")));
        let answers = futures_util::future::join_all(lists).await;
        assert!(answers.iter().all(|a| a.status == StatusCode::OK));
        assert!(answers.iter().all(|a| a.json["items"][0]["status"] == "unreachable"), "every list sees the change");
        assert_eq!(api.stores.counting.counts().queries, 1, "one read of the fleet (snapshots are kept)");
    }

    #[tokio::test]
    async fn the_fleet_list_shows_each_new_poll_slot_s_snapshot() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let id = api.add_instance(&owner, "pbx", None).await;
        let tenant = tenant_of(&owner);
        let calls = |res: &Res| res.json["items"][0]["last_snapshot"]["calls_active"].clone();
        for (minute, active) in [(0, 3), (1, 5), (2, 8)] {
            if minute > 0 {
                api.clock().advance(Duration::minutes(1));
            }
            let at = sikurd::polling::slot_of(api.clock().now());
            let mut snap = MetricSnapshot::failed(at, PollOutcome::Ok, 40);
            snap.calls_active = Some(active);
            api.store().metrics.record(&tenant, &instance_id(&id), &snap).await.unwrap();
            assert_eq!(calls(&api.send(owner.get("/api/v1/instances")).await), active);
            assert_eq!(calls(&api.send(owner.get("/api/v1/instances")).await), active, "read again from memory");
        }
    }

    #[tokio::test]
    async fn the_fleet_list_filters_searches_sorts_and_pages() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let mut ids = Vec::new();
        for (name, group) in [
            ("delta", Some("Contoso")),
            ("Alpha", Some("contoso")),
            ("charlie", None),
            ("Bravo", Some("Fabrikam")),
            ("echo", None),
        ] {
            ids.push(api.add_instance(&owner, name, group).await);
        }
        let tenant = tenant_of(&owner);
        let mut bravo = api.store().instances.get(&tenant, &instance_id(&ids[3])).await.unwrap().unwrap();
        bravo.status = InstanceStatus::Unreachable;
        api.store().instances.save(&bravo).await.unwrap();
        let now = api.clock().now();
        let mut snap = MetricSnapshot::failed(now, PollOutcome::Ok, 40);
        snap.calls_active = Some(7);
        api.store().metrics.record(&tenant, &instance_id(&ids[1]), &snap).await.unwrap();

        let names = |res: &Res| -> Vec<String> {
            res.json["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
        };
        let all = api.send(viewer.get("/api/v1/instances")).await;
        assert_eq!(names(&all), ["Alpha", "Bravo", "charlie", "delta", "echo"]);
        assert_eq!(all.json["items"][0]["last_snapshot"]["calls_active"], 7);
        assert_eq!(all.json["items"][1]["last_snapshot"], Value::Null);
        assert_eq!(names(&api.send(viewer.get("/api/v1/instances?group=CONTOSO")).await), ["Alpha", "delta"]);
        assert_eq!(names(&api.send(viewer.get("/api/v1/instances?status=unreachable")).await), ["Bravo"]);
        assert_eq!(names(&api.send(viewer.get("/api/v1/instances?q=HAR")).await), ["charlie"]);
        assert_eq!(names(&api.send(viewer.get("/api/v1/instances?q=pbx.example")).await).len(), 5);
        api.send(viewer.get("/api/v1/instances?status=sleeping"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        api.send(viewer.get("/api/v1/instances?cursor=%%%"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");
        api.send(viewer.get("/api/v1/instances?deleted=maybe"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        api.send(viewer.get("/api/v1/instances?cursor=bm9wZQ"))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let uri = match &cursor {
                Some(c) => format!("/api/v1/instances?limit=2&cursor={c}"),
                None => "/api/v1/instances?limit=2".to_owned(),
            };
            let page = api.send(viewer.get(&uri)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.text);
            seen.extend(names(&page));
            match page.json["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, ["Alpha", "Bravo", "charlie", "delta", "echo"]);
    }

    #[tokio::test]
    async fn an_edit_replaces_credentials_and_a_null_group_clears_the_group() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let id = api.add_instance(&owner, "Head office", Some("Contoso")).await;
        let url = format!("/api/v1/instances/{id}");
        let res = api.send(owner.patch(&url).json(json!({
            "name": "HQ", "url": "https://pbx2.example.com:5001", "group": null,
            "credentials": { "kind": "client_credentials", "client_id": "api", "client_secret": "replaced-secret-canary" }
        }))).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!((res.json["name"].as_str(), res.json["group"].as_str()), (Some("HQ"), None));
        assert_eq!(res.json["url"], "https://pbx2.example.com:5001");
        assert_eq!(res.json["credential_kind"], "client_credentials");
        assert!(!res.text.contains("replaced-secret-canary"));
        let kept = api.send(owner.patch(&url).json(json!({ "name": "HQ 2" }))).await;
        assert_eq!(
            (kept.json["url"].as_str(), kept.json["credential_kind"].as_str()),
            (Some("https://pbx2.example.com:5001"), Some("client_credentials"))
        );
        api.send(owner.patch(&url).json(json!({ "url": "http://pbx.example.com" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        api.send(owner.patch(&url).json(json!({ "group": "" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        api.send(owner.patch(&url).json(json!({ "status": "ok" })))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        let stored = api.store().credentials.get(&tenant_of(&owner), &instance_id(&id)).await.unwrap();
        assert!(matches!(stored, Some(sikurd::domain::PbxCredentials::ClientCredentials { .. })));
    }

    #[tokio::test]
    async fn a_deleted_instance_leaves_the_fleet_and_polling_and_can_be_restored_for_30_days() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let keep = api.add_instance(&owner, "Keep", None).await;
        let id = api.add_instance(&owner, "Gone", None).await;
        let url = format!("/api/v1/instances/{id}");
        assert_eq!(api.send(owner.delete(&url)).await.status, StatusCode::NO_CONTENT);
        api.send(owner.delete(&url)).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(owner.patch(&url).json(json!({ "name": "x" }))).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(owner.post(&format!("{url}/poll"))).await.assert_error(StatusCode::NOT_FOUND, "not_found");

        let active = api.send(owner.get("/api/v1/instances")).await;
        assert_eq!(active.json["items"].as_array().unwrap().len(), 1);
        assert_eq!(active.json["items"][0]["id"], keep.as_str());
        let deleted = api.send(owner.get("/api/v1/instances?deleted=true")).await;
        assert_eq!(deleted.json["items"][0]["id"], id.as_str());
        assert!(deleted.json["items"][0]["deleted_at"].is_string());
        assert!(api.send(owner.get(&url)).await.json["deleted_at"].is_string());
        let mut due = Vec::new();
        for shard in 0..sikurd::store::keys::POLL_SHARDS {
            let page = api.store().instances.due_for_polling_across_tenants(shard, 100, None).await.unwrap();
            due.extend(page.items.into_iter().map(|i| i.id.to_string()));
        }
        assert_eq!(due, std::slice::from_ref(&keep), "only the active instance is polled");

        let restored = api.send(owner.post(&format!("{url}/restore"))).await;
        assert_eq!(
            (restored.status, restored.json["deleted_at"].clone()),
            (StatusCode::OK, Value::Null),
            "{}",
            restored.text
        );
        api.send(owner.post(&format!("{url}/restore"))).await.assert_error(StatusCode::CONFLICT, "conflict");

        assert_eq!(api.send(owner.delete(&url)).await.status, StatusCode::NO_CONTENT);
        api.clock().advance(Duration::days(30));
        // A session does not last 30 days: sign in again.
        let owner = Session::from_login(&api.log_in("ana@acme.example", PASSWORD).await);
        api.send(owner.post(&format!("{url}/restore"))).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(owner.get(&url)).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        assert_eq!(api.send(owner.get("/api/v1/instances?deleted=true")).await.json["items"], json!([]));
    }

    #[tokio::test]
    async fn technicians_poll_now_and_get_the_outcome_but_viewers_cannot() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let id = api.add_instance(&owner, "Head office", None).await;
        let url = format!("/api/v1/instances/{id}/poll");
        api.send(viewer.post(&url)).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        let res = api.send(tech.post(&url)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(
            (res.json["status"].as_str(), res.json["previous_status"].as_str()),
            (Some("ok"), Some("never_polled"))
        );
        assert_eq!(res.json["snapshot"]["outcome"], "ok");
        let detail = api.send(viewer.get(&format!("/api/v1/instances/{id}"))).await;
        assert_eq!(detail.json["last_snapshot"]["calls_active"], 2);
        api.send(tech.post("/api/v1/instances/ins_01J00000000000000000000000/poll"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(tech.post("/api/v1/instances/garbage/poll")).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(tech.patch(&format!("/api/v1/instances/{id}")).json(json!({ "name": "x" })))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(tech.delete(&format!("/api/v1/instances/{id}")))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(tech.post(&format!("/api/v1/instances/{id}/restore")))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        api.send(tech.post("/api/v1/instances").json(new_instance("A", "https://pbx.example.com")))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
    }

    #[tokio::test]
    async fn poll_now_with_the_real_poller_records_an_unreachable_3cx() {
        let stores = embedded_store();
        let store = stores.store.clone();
        let clock: Arc<dyn Clock> = stores.tables.clock.clone();
        let client = Arc::new(PbxClient::new(PbxClientConfig::local()).unwrap());
        let recorder = Recorder::new(store.clone(), Arc::clone(&clock));
        let poller: Arc<dyn PollNow> =
            Arc::new(Poller::new(store.clone(), client, recorder, Arc::new(InProcessBus::new()), 4));
        let api = ApiFixture::assemble(stores, test_config(Deployment::Local), poller);
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let created = api
            .send(
                owner.post("/api/v1/instances").json(new_instance("Lab", &format!("https://127.0.0.1:{closed_port}"))),
            )
            .await;
        let id = created.json["id"].as_str().unwrap().to_owned();

        let res = api.send(owner.post(&format!("/api/v1/instances/{id}/poll"))).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(
            (res.json["status"].as_str(), res.json["snapshot"]["outcome"].as_str()),
            (Some("unreachable"), Some("unreachable"))
        );
        let detail = api.send(owner.get(&format!("/api/v1/instances/{id}"))).await;
        assert_eq!(detail.json["status"], "unreachable");
        assert_eq!(detail.json["last_snapshot"]["outcome"], "unreachable");
    }

    #[tokio::test]
    async fn metrics_come_downsampled_over_a_bounded_range() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let id = api.add_instance(&owner, "Head office", None).await;
        let tenant = tenant_of(&owner);
        let start = sikurd::polling::slot_of(api.clock().now() - Duration::hours(3));
        for minute in 0..180 {
            let mut snap = MetricSnapshot::failed(start + Duration::minutes(minute), PollOutcome::Ok, 10);
            snap.calls_active = Some(u32::try_from(minute % 10).unwrap());
            api.store().metrics.record(&tenant, &instance_id(&id), &snap).await.unwrap();
        }
        let url = format!("/api/v1/instances/{id}/metrics");
        let day = api.send(owner.get(&url)).await;
        assert_eq!(day.status, StatusCode::OK, "{}", day.text);
        assert_eq!(day.json["bucket_seconds"], 180);
        let points = day.json["points"].as_array().unwrap();
        assert!((60..=61).contains(&points.len()), "{} points", points.len());
        assert_eq!(points.iter().map(|p| p["samples"].as_u64().unwrap()).sum::<u64>(), 180);

        let from = (start + Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let to = (start + Duration::minutes(19)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let narrow = api.send(owner.get(&format!("{url}?from={from}&to={to}"))).await;
        assert_eq!(narrow.json["bucket_seconds"], 60);
        assert_eq!(narrow.json["points"].as_array().unwrap().len(), 10);

        let too_long = format!("{url}?from=2026-01-01T00:00:00Z&to=2026-04-02T00:00:00Z");
        api.send(owner.get(&too_long)).await.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        api.send(owner.get(&format!("{url}?from={to}&to={from}")))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        api.send(owner.get(&format!("{url}?from=yesterday")))
            .await
            .assert_error(StatusCode::BAD_REQUEST, "invalid_query");
        let ninety = format!("{url}?from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z");
        let res = api.send(owner.get(&ninety)).await;
        assert_eq!((res.status, res.json["bucket_seconds"].as_i64()), (StatusCode::OK, Some(15_600)));
    }

    #[tokio::test]
    async fn backups_read_newest_first_a_page_at_a_time() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let id = api.add_instance(&owner, "Head office", None).await;
        let tenant = tenant_of(&owner);
        let now = api.clock().now();
        for day in 0..3 {
            let outcome =
                if day == 1 { BackupOutcome::Failed { reason: "missed".into() } } else { BackupOutcome::Succeeded };
            let record = BackupRecord { at: now - Duration::days(day), size_bytes: Some(1000), outcome };
            api.store().backups.record(&tenant, &instance_id(&id), &format!("b{day}.zip"), &record).await.unwrap();
        }
        let url = format!("/api/v1/instances/{id}/backups");
        let first = api.send(owner.get(&format!("{url}?limit=2"))).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let results: Vec<_> =
            first.json["items"].as_array().unwrap().iter().map(|b| b["result"].as_str().unwrap()).collect();
        assert_eq!(results, ["succeeded", "failed"]);
        assert_eq!(first.json["items"][1]["reason"], "missed");
        let cursor = first.json["next_cursor"].as_str().unwrap();
        let rest = api.send(owner.get(&format!("{url}?limit=2&cursor={cursor}"))).await;
        assert_eq!(rest.json["items"].as_array().unwrap().len(), 1);
        assert_eq!(rest.json["next_cursor"], Value::Null);
    }

    #[tokio::test]
    async fn the_csv_export_lists_the_active_fleet_safely_for_spreadsheets() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        api.add_instance(&owner, "=HYPERLINK(\"http://evil\")", Some("Contoso")).await;
        api.add_instance(&owner, "Branch, north", None).await;
        let gone = api.add_instance(&owner, "Deleted one", None).await;
        api.send(owner.delete(&format!("/api/v1/instances/{gone}"))).await;

        let res = api.send(viewer.get("/api/v1/export/instances.csv")).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.headers["content-type"], "text/csv; charset=utf-8");
        assert!(
            res.headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"sikurd-instances-")
        );
        let lines: Vec<&str> = res.text.lines().collect();
        assert!(lines[0].starts_with("id,name,group,url,status"), "{}", lines[0]);
        assert_eq!(lines.len(), 3, "{}", res.text);
        assert!(lines[1].contains("'=HYPERLINK"), "{}", lines[1]);
        assert!(lines[2].contains("\"Branch, north\""), "{}", lines[2]);
        assert!(!res.text.contains("Deleted one") && !res.text.contains("pbx-secret-password"));
    }
}

mod audit {
    use super::*;

    fn entry_key(actor: &Actor, action: &str, target: Option<&str>, outcome: &AuditOutcome) -> String {
        let who = match actor {
            Actor::User { id, .. } => id.to_string(),
            other => format!("{other:?}"),
        };
        format!("{who} {action} {} {outcome:?}", target.unwrap_or("-"))
    }

    #[tokio::test]
    async fn each_kind_of_action_writes_exactly_one_matching_audit_entry() {
        let api = ApiFixture::new();
        let ip = "192.0.2.44";
        let res = api
            .send(Req::post("/api/v1/signup").from_ip(ip).json(json!({
                "tenant_name": "Acme", "name": "Ana", "email": "ana@acme.example", "password": PASSWORD
            })))
            .await;
        let owner = Session::from_login(&res);
        let o = owner.user_id.clone();
        let failed_login = api
            .send(
                Req::post("/api/v1/auth/login")
                    .from_ip(ip)
                    .json(json!({ "email": "ana@acme.example", "password": "wrong password!" })),
            )
            .await;
        failed_login.assert_error(StatusCode::UNAUTHORIZED, "invalid_credentials");
        let login = api
            .send(
                Req::post("/api/v1/auth/login")
                    .from_ip(ip)
                    .json(json!({ "email": "ana@acme.example", "password": PASSWORD })),
            )
            .await;
        let owner = Session::from_login(&login);

        let create_user = |email: &str, role: &str| {
            owner
                .post("/api/v1/users")
                .from_ip(ip)
                .json(json!({ "name": "U", "email": email, "role": role, "password": PASSWORD }))
        };
        let t1 = api.send(create_user("t1@acme.example", "technician")).await.json["id"].as_str().unwrap().to_owned();
        let t2 = api.send(create_user("t2@acme.example", "technician")).await.json["id"].as_str().unwrap().to_owned();
        let t2_session = Session::from_login(
            &api.send(
                Req::post("/api/v1/auth/login")
                    .from_ip(ip)
                    .json(json!({ "email": "t2@acme.example", "password": PASSWORD })),
            )
            .await,
        );
        assert_eq!(
            api.send(owner.patch(&format!("/api/v1/users/{t1}")).from_ip(ip).json(json!({ "name": "Tea" })))
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            api.send(owner.patch(&format!("/api/v1/users/{t1}")).from_ip(ip).json(json!({ "role": "owner" })))
                .await
                .status,
            StatusCode::OK
        );

        let created = api.send(owner.post("/api/v1/instances").from_ip(ip).json(json!({
            "name": "HQ", "url": "https://pbx.example.com", "credentials": { "kind": "admin", "username": "1", "password": "pw" }
        }))).await;
        let i = created.json["id"].as_str().unwrap().to_owned();
        let iurl = format!("/api/v1/instances/{i}");
        assert_eq!(api.send(owner.patch(&iurl).from_ip(ip).json(json!({ "group": "G" }))).await.status, StatusCode::OK);
        assert_eq!(api.send(owner.post(&format!("{iurl}/poll")).from_ip(ip)).await.status, StatusCode::OK);
        api.send(t2_session.delete(&iurl).from_ip(ip)).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert_eq!(api.send(owner.delete(&iurl).from_ip(ip)).await.status, StatusCode::NO_CONTENT);
        assert_eq!(api.send(owner.post(&format!("{iurl}/restore")).from_ip(ip)).await.status, StatusCode::OK);
        assert_eq!(api.send(owner.get("/api/v1/export/instances.csv").from_ip(ip)).await.status, StatusCode::OK);
        assert_eq!(
            api.send(owner.delete(&format!("/api/v1/users/{t2}")).from_ip(ip)).await.status,
            StatusCode::NO_CONTENT
        );
        // Reads are not audited.
        for uri in ["/api/v1/me", "/api/v1/users", "/api/v1/instances", "/api/v1/audit"] {
            assert_eq!(api.send(owner.get(uri).from_ip(ip)).await.status, StatusCode::OK, "{uri}");
        }
        assert_eq!(api.send(owner.post("/api/v1/auth/logout").from_ip(ip)).await.status, StatusCode::NO_CONTENT);

        let ok = AuditOutcome::Succeeded;
        let failed = |reason: &str| AuditOutcome::Failed { reason: reason.into() };
        let expected = [
            (o.as_str(), "tenant.signup", Some(owner.tenant_id.as_str()), ok.clone()),
            (o.as_str(), "auth.login", Some(o.as_str()), failed("invalid_credentials")),
            (o.as_str(), "auth.login", Some(o.as_str()), ok.clone()),
            (o.as_str(), "user.create", Some(t1.as_str()), ok.clone()),
            (o.as_str(), "user.create", Some(t2.as_str()), ok.clone()),
            (t2.as_str(), "auth.login", Some(t2.as_str()), ok.clone()),
            (o.as_str(), "user.update", Some(t1.as_str()), ok.clone()),
            (o.as_str(), "user.transfer_ownership", Some(t1.as_str()), ok.clone()),
            (o.as_str(), "instance.create", Some(i.as_str()), ok.clone()),
            (o.as_str(), "instance.update", Some(i.as_str()), ok.clone()),
            (o.as_str(), "instance.poll", Some(i.as_str()), ok.clone()),
            (t2.as_str(), "instance.delete", Some(i.as_str()), failed("forbidden")),
            (o.as_str(), "instance.delete", Some(i.as_str()), ok.clone()),
            (o.as_str(), "instance.restore", Some(i.as_str()), ok.clone()),
            (o.as_str(), "export.instances_csv", None, ok.clone()),
            (o.as_str(), "user.delete", Some(t2.as_str()), ok.clone()),
            (o.as_str(), "auth.logout", Some(o.as_str()), ok.clone()),
        ];
        let tenant = tenant_of(&owner);
        let entries = api.store().audit.newest_first(&tenant, 1000, None).await.unwrap().items;
        let found: Vec<String> =
            entries.iter().map(|e| entry_key(&e.actor, &e.action, e.target.as_deref(), &e.outcome)).collect();
        for (who, action, target, outcome) in &expected {
            let key = format!("{who} {action} {} {outcome:?}", target.unwrap_or("-"));
            assert_eq!(found.iter().filter(|f| **f == key).count(), 1, "{key} in {found:#?}");
        }
        assert_eq!(entries.len(), expected.len(), "no other entries: {found:#?}");
        for e in &entries {
            assert_eq!(e.source_ip, Some(ip.parse().unwrap()), "{e:?}");
            assert!(matches!(&e.actor, Actor::User { email, .. } if email.as_str().ends_with("@acme.example")));
        }
        assert_eq!(entries.last().map(|e| e.action.as_str()), Some("tenant.signup"), "newest first");
    }

    #[tokio::test]
    async fn admins_read_the_audit_log_newest_first_and_no_route_changes_it() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "ana@acme.example").await;
        let admin = api.add_user(&owner, "admin", "admin@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        for session in [&tech, &viewer] {
            api.send(session.get("/api/v1/audit")).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        let first = api.send(admin.get("/api/v1/audit?limit=2")).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.text);
        let actions: Vec<_> =
            first.json["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["auth.login", "user.create"]);
        assert_eq!(first.json["items"][0]["actor"]["email"], "viewer@acme.example");
        let mut total = 2;
        let mut cursor = first.json["next_cursor"].as_str().map(str::to_owned);
        while let Some(c) = cursor {
            let page = api.send(owner.get(&format!("/api/v1/audit?limit=2&cursor={c}"))).await;
            total += page.json["items"].as_array().unwrap().len();
            cursor = page.json["next_cursor"].as_str().map(str::to_owned);
        }
        assert_eq!(total, 7, "signup + 3 user.create + 3 auth.login");

        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let res = api.send(owner.req(method.clone(), "/api/v1/audit").json(json!({}))).await;
            res.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        }
        let doc = api.send(Req::get("/api/v1/openapi.json")).await;
        let audit_paths: Vec<_> =
            doc.json["paths"].as_object().unwrap().keys().filter(|p| p.contains("audit")).collect();
        assert_eq!(audit_paths, ["/api/v1/audit"]);
        let methods: BTreeSet<_> = doc.json["paths"]["/api/v1/audit"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(methods, BTreeSet::from(["get".to_owned()]));
    }
}

mod isolation {
    use sikurd::alerts::{Alert, AlertChange, AlertKind, AlertStatus, InstanceAlerts, OpenAlert, Severity};
    use sikurd::domain::AlertId;

    use super::*;

    const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

    struct Operation {
        method: Method,
        path: String,
        public: bool,
    }

    fn operations(doc: &Value) -> Vec<Operation> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS {
                let Some(op) = item.get(m) else { continue };
                let public = op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
                ops.push(Operation { method: m.to_uppercase().parse().unwrap(), path: path.clone(), public });
            }
        }
        // Logging out ends the session the other checks use: last.
        ops.sort_by_key(|o| o.path.ends_with("/logout"));
        ops
    }

    fn is_unsafe(m: &Method) -> bool {
        !matches!(*m, Method::GET | Method::HEAD)
    }

    /// A body the route would take from A, so that only the tenant can be why B is refused.
    fn body_for(op: &Operation, a_channel: &str) -> Value {
        match (op.method.as_str(), op.path.as_str()) {
            ("PATCH", "/api/v1/users/{id}" | "/api/v1/instances/{id}" | "/api/v1/channels/{id}") => {
                json!({ "name": "B was here" })
            }
            ("POST", "/api/v1/alerts/{id}/ack" | "/api/v1/alerts/{id}/resolve") => json!({ "reason": "B was here" }),
            ("PUT", "/api/v1/routes/{id}") => json!({ "name": "B was here", "channels": [a_channel] }),
            ("PUT", "/api/v1/maintenance-windows/{id}") => json!({
                "scope": "tenant",
                "reason": "B was here",
                "schedule": { "type": "weekly", "days": ["mon"], "start": "01:00", "duration_minutes": 60 }
            }),
            ("PUT", "/api/v1/rule-overrides/{id}") => json!({ "scope": "tenant" }),
            ("POST", "/api/v1/instances/{id}/mute") => json!({ "hours": 1 }),
            _ => json!({}),
        }
    }

    /// An open alert of A's instance, written as the evaluator would.
    async fn open_alert(api: &ApiFixture, tenant: &TenantId, instance: &InstanceId) -> AlertId {
        let now = api.clock().now();
        let detail = "trunk A-secret-trunk is offline".to_owned();
        let alert = Alert {
            id: AlertId::generate(),
            tenant_id: tenant.clone(),
            instance_id: instance.clone(),
            instance_name: "A-secret-instance-name".into(),
            group: Some("A-group".into()),
            kind: AlertKind::TrunkDown,
            subject: "A-secret-trunk".into(),
            severity: Severity::Critical,
            detail: detail.clone(),
            flapping: false,
            status: AlertStatus::Open,
            opened_at: now,
            acknowledged: None,
            resolved: None,
            silenced_until: None,
            history: vec![AlertChange::Opened { at: now, severity: Severity::Critical, detail }],
        };
        let mut state = InstanceAlerts { active: vec![alert.clone()], ..InstanceAlerts::default() };
        state.evaluation.open.push(OpenAlert {
            kind: alert.kind,
            subject: alert.subject.clone(),
            severity: alert.severity,
            opened_at: now,
            flapping: false,
        });
        api.store().alerts.commit(tenant, instance, 0, &state, std::slice::from_ref(&alert), Vec::new()).await.unwrap();
        alert.id
    }

    /// Creates one of A's alert settings through the API; its id.
    async fn create(api: &ApiFixture, owner: &Session, uri: &str, body: Value) -> String {
        let res = api.send(owner.post(uri).json(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{uri}: {}", res.text);
        res.json["id"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn every_documented_route_refuses_other_tenants_objects_and_unauthenticated_or_csrf_less_requests() {
        let api = ApiFixture::new();
        let a_owner = api.sign_up("Tenant A", "owner@a.example").await;
        let a_viewer = api.add_user(&a_owner, "viewer", "viewer@a.example").await;
        let a_instance = api.add_instance(&a_owner, "A-secret-instance-name", Some("A-group")).await;
        let tenant_a = tenant_of(&a_owner);
        let now = api.clock().now();
        api.store()
            .metrics
            .record(&tenant_a, &instance_id(&a_instance), &MetricSnapshot::failed(now, PollOutcome::Ok, 5))
            .await
            .unwrap();
        let backup = BackupRecord { at: now, size_bytes: Some(42), outcome: BackupOutcome::Succeeded };
        api.store().backups.record(&tenant_a, &instance_id(&a_instance), "a.zip", &backup).await.unwrap();
        let a_alert = open_alert(&api, &tenant_a, &instance_id(&a_instance)).await.to_string();
        let a_channel = create(
            &api,
            &a_owner,
            "/api/v1/channels",
            json!({ "name": "A-secret-channel", "type": "webhook", "url": "https://hooks.a.example/A-secret-hook" }),
        )
        .await;
        let a_route =
            create(&api, &a_owner, "/api/v1/routes", json!({ "name": "A-secret-route", "channels": [a_channel] }))
                .await;
        let a_window = create(
            &api,
            &a_owner,
            "/api/v1/maintenance-windows",
            json!({
                "scope": { "instance": a_instance },
                "reason": "A-secret-window",
                "schedule": { "type": "weekly", "days": ["sun"], "start": "03:00", "duration_minutes": 60 }
            }),
        )
        .await;
        let a_override = create(
            &api,
            &a_owner,
            "/api/v1/rule-overrides",
            json!({ "scope": { "group": "A-group" }, "thresholds": { "unreachable_polls": 7 } }),
        )
        .await;
        let b_owner = api.sign_up("Tenant B", "owner@b.example").await;
        let b_viewer = api.add_user(&b_owner, "viewer", "viewer@b.example").await;
        api.add_instance(&b_owner, "B instance", None).await;
        let a_markers = [
            a_owner.user_id.as_str(),
            a_viewer.user_id.as_str(),
            a_instance.as_str(),
            a_alert.as_str(),
            a_channel.as_str(),
            a_route.as_str(),
            a_window.as_str(),
            a_override.as_str(),
            tenant_a.as_str(),
            "A-secret-instance-name",
            "A-group",
            "A-secret-trunk",
            "A-secret-channel",
            "hooks.a.example",
            "A-secret-route",
            "A-secret-window",
            "@a.example",
        ];

        let doc = api.send(Req::get("/api/v1/openapi.json")).await.json;
        let ops = operations(&doc);
        let documented: BTreeSet<_> = ops.iter().map(|o| format!("{} {}", o.method, o.path)).collect();
        let promised = [
            "GET /healthz",
            "GET /api/v1/openapi.json",
            "POST /api/v1/signup",
            "POST /api/v1/auth/login",
            "POST /api/v1/auth/logout",
            "GET /api/v1/me",
            "GET /api/v1/users",
            "POST /api/v1/users",
            "PATCH /api/v1/users/{id}",
            "DELETE /api/v1/users/{id}",
            "GET /api/v1/instances",
            "POST /api/v1/instances",
            "GET /api/v1/instances/{id}",
            "PATCH /api/v1/instances/{id}",
            "DELETE /api/v1/instances/{id}",
            "POST /api/v1/instances/{id}/restore",
            "POST /api/v1/instances/{id}/poll",
            "GET /api/v1/instances/{id}/metrics",
            "GET /api/v1/instances/{id}/backups",
            "GET /api/v1/audit",
            "GET /api/v1/export/instances.csv",
            "GET /api/v1/alerts",
            "GET /api/v1/alerts/{id}",
            "POST /api/v1/alerts/{id}/ack",
            "POST /api/v1/alerts/{id}/resolve",
            "GET /api/v1/export/alerts.csv",
            "GET /api/v1/channels",
            "POST /api/v1/channels",
            "GET /api/v1/channels/{id}",
            "PATCH /api/v1/channels/{id}",
            "DELETE /api/v1/channels/{id}",
            "POST /api/v1/channels/{id}/test",
            "GET /api/v1/routes",
            "POST /api/v1/routes",
            "PUT /api/v1/routes/{id}",
            "DELETE /api/v1/routes/{id}",
            "GET /api/v1/maintenance-windows",
            "POST /api/v1/maintenance-windows",
            "PUT /api/v1/maintenance-windows/{id}",
            "DELETE /api/v1/maintenance-windows/{id}",
            "POST /api/v1/instances/{id}/mute",
            "GET /api/v1/rule-overrides",
            "POST /api/v1/rule-overrides",
            "PUT /api/v1/rule-overrides/{id}",
            "DELETE /api/v1/rule-overrides/{id}",
            "GET /api/v1/rules",
            "GET /api/v1/reports/availability",
            "GET /api/v1/export/reports.csv",
            "POST /api/v1/tenant-deletion/confirm",
        ];
        for route in promised {
            assert!(documented.contains(route), "{route} is not in the document: {documented:#?}");
        }
        let public: BTreeSet<_> = ops.iter().filter(|o| o.public).map(|o| format!("{} {}", o.method, o.path)).collect();
        assert_eq!(
            public,
            BTreeSet::from(
                [
                    "GET /healthz",
                    "GET /api/v1/openapi.json",
                    "POST /api/v1/signup",
                    "POST /api/v1/auth/login",
                    "POST /api/v1/tenant-deletion/confirm",
                ]
                .map(String::from)
            )
        );

        // Each `{id}` is an object of A of the kind the path names.
        let ids = [
            ("/api/v1/users/", &a_viewer.user_id),
            ("/api/v1/instances/", &a_instance),
            ("/api/v1/alerts/", &a_alert),
            ("/api/v1/channels/", &a_channel),
            ("/api/v1/routes/", &a_route),
            ("/api/v1/maintenance-windows/", &a_window),
            ("/api/v1/rule-overrides/", &a_override),
        ];
        let mut checked = 0;
        for op in &ops {
            let uri = match ids.iter().find(|(prefix, _)| op.path.starts_with(prefix)) {
                Some((_, id)) => op.path.replace("{id}", id),
                None => {
                    assert!(!op.path.contains("{id}"), "{}: no object of A for its id", op.path);
                    op.path.clone()
                }
            };
            let label = format!("{} {}", op.method, op.path);
            let with_body = |r: Req| if is_unsafe(&op.method) { r.json(body_for(op, &a_channel)) } else { r };
            if op.public {
                let res = api.send(with_body(Req::new(op.method.clone(), &uri))).await;
                assert!(res.status.as_u16() < 500, "{label}: {}", res.text);
                continue;
            }

            let anonymous = api.send(with_body(Req::new(op.method.clone(), &uri))).await;
            assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{label} without a session: {}", anonymous.text);
            assert_eq!(anonymous.code(), "unauthenticated", "{label}");
            if is_unsafe(&op.method) {
                let no_csrf = api.send(with_body(b_owner.req(op.method.clone(), &uri).without("x-csrf-token"))).await;
                no_csrf.assert_error(StatusCode::FORBIDDEN, "csrf_failed");
                let foreign_csrf = api
                    .send(with_body(b_owner.req(op.method.clone(), &uri).without("x-csrf-token").csrf(&a_owner.csrf)))
                    .await;
                foreign_csrf.assert_error(StatusCode::FORBIDDEN, "csrf_failed");
            }

            for (who, session) in [("B's owner", &b_owner), ("B's viewer", &b_viewer)] {
                let res = api.send(with_body(session.req(op.method.clone(), &uri))).await;
                assert_ne!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{label}: documented but not routed");
                assert!(res.status.as_u16() < 500, "{label} as {who}: {}", res.text);
                if op.path.contains("{id}") {
                    let allowed = if who == "B's owner" {
                        vec![StatusCode::NOT_FOUND]
                    } else {
                        vec![StatusCode::NOT_FOUND, StatusCode::FORBIDDEN]
                    };
                    assert!(
                        allowed.contains(&res.status),
                        "{label} as {who} on A's object: {} {}",
                        res.status,
                        res.text
                    );
                } else {
                    assert_ne!(res.status, StatusCode::NOT_FOUND, "{label}: documented but not routed");
                }
                let mut shown = res.json.clone();
                if op.path == "/api/v1/audit" {
                    // B's log keeps the ids B itself sent, as targets of its refused requests.
                    for entry in shown["items"].as_array_mut().into_iter().flatten() {
                        if entry["result"] == "failed" {
                            entry["target"] = Value::Null;
                        }
                    }
                }
                let shown = if shown.is_null() { res.text.clone() } else { shown.to_string() };
                for marker in a_markers {
                    assert!(!shown.contains(marker), "{label} as {who} shows A's {marker}: {}", res.text);
                }
            }
            checked += 1;
        }
        assert_eq!(checked, ops.iter().filter(|o| !o.public).count());
        assert!(checked >= 40, "{checked} signed-in operations checked");

        let a_view = api.send(a_owner.get(&format!("/api/v1/instances/{a_instance}"))).await;
        assert_eq!(
            (a_view.status, a_view.json["deleted_at"].clone()),
            (StatusCode::OK, Value::Null),
            "A's instance is untouched"
        );
        assert_eq!(a_view.json["name"], "A-secret-instance-name");
        let a_team = api.send(a_owner.get("/api/v1/users")).await;
        assert_eq!(a_team.json["items"].as_array().unwrap().len(), 2, "A's users are untouched");
        assert_eq!(api.send(a_viewer.get("/api/v1/me")).await.status, StatusCode::OK, "A's sessions are untouched");
        let a_alert_view = api.send(a_owner.get(&format!("/api/v1/alerts/{a_alert}"))).await;
        assert_eq!(a_alert_view.json["status"], "open", "A's alert is untouched: {}", a_alert_view.text);
        let a_channel_view = api.send(a_owner.get(&format!("/api/v1/channels/{a_channel}"))).await;
        assert_eq!(a_channel_view.json["name"], "A-secret-channel", "A's channel is untouched");
        for (uri, id, field, value) in [
            ("/api/v1/routes", &a_route, "name", json!("A-secret-route")),
            ("/api/v1/maintenance-windows", &a_window, "reason", json!("A-secret-window")),
            ("/api/v1/rule-overrides", &a_override, "thresholds", json!({ "unreachable_polls": 7 })),
        ] {
            let listed = api.send(a_owner.get(uri)).await;
            assert_eq!(listed.json["items"].as_array().map(Vec::len), Some(1), "{uri}: {}", listed.text);
            let item = &listed.json["items"][0];
            assert_eq!((&item["id"], &item[field]), (&json!(id), &value), "{uri} of A is untouched");
        }
        let audit = api.send(a_owner.get("/api/v1/audit?limit=200")).await;
        assert!(!audit.text.contains("b.example"), "nothing of B reached A's audit log: {}", audit.text);
    }
}
