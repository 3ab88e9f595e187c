//! The `api` binary under the Lambda Runtime API emulator, against moto: API Gateway HTTP API
//! (payload 2.0) requests from `events/` in, responses and audit entries out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};

const LIMIT: Duration = Duration::from_secs(60);

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_requests_get_the_api_s_answers_and_the_caller_s_address_is_audited() {
    let cloud = CloudResources::create().await;
    let binary = Path::new(env!("CARGO_BIN_EXE_api"));
    let mut function = LambdaFunction::start(binary, "api", &cloud.environment(&[])).await;

    let health = function.invoke(sample_event("api-healthz.json"), LIMIT).await.response();
    assert_eq!(health["statusCode"], 200, "{health}");

    let unauthenticated =
        function.invoke(sample_event("api-list-instances-unauthenticated.json"), LIMIT).await.response();
    assert_eq!(unauthenticated["statusCode"], 401, "{unauthenticated}");
    assert_eq!(body(&unauthenticated)["error"]["code"], "unauthenticated", "{unauthenticated}");

    let signup = function.invoke(sample_event("api-signup.json"), LIMIT).await.response();
    assert_eq!(signup["statusCode"], 201, "{signup}");
    let login = function.invoke(sample_event("api-login.json"), LIMIT).await.response();
    assert_eq!(login["statusCode"], 200, "{login}");
    let cookies = login["cookies"].as_array().cloned().unwrap_or_default();
    let session = cookies.iter().filter_map(Value::as_str).find(|c| c.starts_with("__Secure-sikurd_session="));
    let session = session.unwrap_or_else(|| panic!("no session cookie in {login}"));
    assert!(session.contains("HttpOnly") && session.contains("Secure") && session.contains("SameSite=Lax"));

    let mut me = sample_event("api-healthz.json");
    me["rawPath"] = json!("/api/v1/me");
    me["requestContext"]["http"]["path"] = json!("/api/v1/me");
    me["cookies"] = json!([session.split(';').next().unwrap()]);
    let me = function.invoke(me, LIMIT).await.response();
    assert_eq!(me["statusCode"], 200, "{me}");
    let me = body(&me);
    assert_eq!(me["user"]["email"], "eve@events.example");

    let tenant = sikurd::domain::TenantId::parse(me["tenant"]["id"].as_str().unwrap()).unwrap();
    let audit = cloud.store.audit.newest_first(&tenant, 50, None).await.unwrap().items;
    let login_entry = audit.iter().find(|e| e.action == "auth.login").unwrap_or_else(|| panic!("{audit:?}"));
    let source_ip = sample_event("api-login.json")["requestContext"]["http"]["sourceIp"].clone();
    assert_eq!(login_entry.source_ip.map(|ip| ip.to_string()), source_ip.as_str().map(str::to_owned));
}
