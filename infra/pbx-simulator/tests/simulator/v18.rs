use serde_json::{Value, json};
use sikurd_pbx_sim::Faults;

use super::Harness;

#[tokio::test]
async fn a_v18_pbx_answers_every_v20_endpoint_with_an_html_404() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { v18_only: true, ..Faults::default() });
    let login = h.admin_login("pbx-0001").await;
    assert_eq!(login.status(), 404);
    assert!(login.headers().get("x-3cx-version").is_none());
    assert!(login.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(login.text().await.unwrap().contains("<html>"));
    assert_eq!(h.client_credentials("pbx-0001", "sikurd", "secret-pbx-0001").await.status(), 404);
    let defs = h.http.get(h.url("pbx-0001", "/xapi/v1/Defs?$select=Id")).send().await.unwrap();
    assert_eq!(defs.status(), 404);
    assert!(defs.headers().get("x-3cx-version").is_none());
}

#[tokio::test]
async fn a_v18_pbx_logs_in_with_a_cookie_and_serves_the_flat_status() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { v18_only: true, ..Faults::default() });
    let unauthenticated = h.http.get(h.url("pbx-0001", "/api/SystemStatus")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let refused = h
        .http
        .post(h.url("pbx-0001", "/api/login"))
        .json(&json!({ "username": "admin", "password": "guess" }))
        .send()
        .await
        .unwrap();
    assert_ne!(refused.text().await.unwrap(), "AuthSuccess");
    let login = h
        .http
        .post(h.url("pbx-0001", "/api/login"))
        .json(&json!({ "Username": "admin", "Password": "pw-pbx-0001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(login.text().await.unwrap(), "AuthSuccess");
    let status = h.http.get(h.url("pbx-0001", "/api/SystemStatus")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(status.status(), 200);
    assert!(status.headers().get("x-3cx-version").is_none());
    let status: Value = status.json().await.unwrap();
    assert!(status["Version"].as_str().unwrap().starts_with("18.0."));
    assert!(status["CpuUsage"].is_u64());
    assert!(status["CpuUsageHistory"].is_array());
    assert!(status.get("@odata.context").is_none());
    assert_eq!(status["TrunksTotal"], 2);
    let stats = h.sim.stats("pbx-0001").unwrap();
    assert_eq!((stats.logins, stats.failed_logins), (1, 1));
    assert_eq!(stats.requests_to("/api/SystemStatus"), 2);
}

#[tokio::test]
async fn a_v20_pbx_has_no_v18_console_api() {
    let h = Harness::start(&["pbx-0001"]).await;
    let login = h
        .http
        .post(h.url("pbx-0001", "/api/login"))
        .json(&json!({ "Username": "admin", "Password": "pw-pbx-0001" }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 404);
}
