use std::time::Duration;

use serde_json::Value;
use sikurd_pbx_sim::{ExpiresInUnit, Faults};

use super::{Harness, jwt_payload, unix_now};

#[tokio::test]
async fn admin_login_returns_a_bearer_jwt_whose_exp_is_the_true_expiry() {
    let h = Harness::start(&["pbx-0001"]).await;
    let response = h.admin_login("pbx-0001").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["set-cookie"].to_str().unwrap().starts_with("RefreshTokenCookie="));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Status"], "AuthSuccess");
    assert_eq!(body["TwoFactorAuth"], Value::Null);
    assert_eq!(body["Token"]["token_type"], "Bearer");
    assert_eq!(body["Token"]["expires_in"], 3600);
    let access = jwt_payload(body["Token"]["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], "admin");
    let exp = access["exp"].as_i64().unwrap();
    assert!((exp - (unix_now() + 3600)).abs() <= 2, "exp {exp}");
    assert!(jwt_payload(body["Token"]["refresh_token"].as_str().unwrap())["exp"].as_i64().unwrap() > exp);
    assert_eq!(h.sim.stats("pbx-0001").unwrap().logins, 1);
}

#[tokio::test]
async fn a_wrong_password_gets_auth_failed_and_no_token() {
    let h = Harness::start(&["pbx-0001"]).await;
    let response = h.login_as("pbx-0001", "admin", "guess").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "Status": "AuthFailed", "Token": null, "TwoFactorAuth": null }));
    let stats = h.sim.stats("pbx-0001").unwrap();
    assert_eq!((stats.logins, stats.failed_logins), (0, 1));
}

#[tokio::test]
async fn the_wrong_password_fault_refuses_even_the_right_password() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { wrong_password: true, ..Faults::default() });
    let body: Value = h.admin_login("pbx-0001").await.json().await.unwrap();
    assert_eq!(body["Status"], "AuthFailed");
    let response = h.client_credentials("pbx-0001", "sikurd", "secret-pbx-0001").await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn two_factor_required_answers_without_a_token() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { two_factor_required: true, ..Faults::default() });
    let body: Value = h.admin_login("pbx-0001").await.json().await.unwrap();
    assert_eq!(body["Status"], "TwoFactorRequired");
    assert_eq!(body["Token"], Value::Null);
    assert_eq!(body["TwoFactorAuth"]["Enabled"], true);
    let body: Value = h.login_as("pbx-0001", "admin", "guess").await.json().await.unwrap();
    assert_eq!(body["Status"], "AuthFailed", "the password is checked before the second factor");
}

#[tokio::test]
async fn client_credentials_get_a_token_without_a_refresh_token() {
    let h = Harness::start(&["pbx-0001"]).await;
    let response = h.client_credentials("pbx-0001", "sikurd", "secret-pbx-0001").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["refresh_token"], Value::Null);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(token)["sub"], "sikurd");
    assert_eq!(h.get("pbx-0001", "/xapi/v1/SystemStatus", token).await.status(), 200);
    assert_eq!(h.sim.stats("pbx-0001").unwrap().logins, 1);
}

#[tokio::test]
async fn a_bad_client_secret_gets_401_with_the_oauth_error() {
    let h = Harness::start(&["pbx-0001"]).await;
    let response = h.client_credentials("pbx-0001", "sikurd", "nope").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(body["error_description"], "The request requires valid user authentication.");
    assert_eq!(h.sim.stats("pbx-0001").unwrap().failed_logins, 1);
}

#[tokio::test]
async fn an_expired_token_gets_401_and_a_new_login_works() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { token_lifetime: Duration::from_secs(1), ..Faults::default() });
    let body: Value = h.admin_login("pbx-0001").await.json().await.unwrap();
    assert_eq!(body["Token"]["expires_in"], 1);
    let token = body["Token"]["access_token"].as_str().unwrap().to_owned();
    assert!(jwt_payload(&token)["exp"].as_i64().unwrap() <= unix_now() + 1);
    assert_eq!(h.get("pbx-0001", "/xapi/v1/SystemStatus", &token).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let expired = h.get("pbx-0001", "/xapi/v1/SystemStatus", &token).await;
    assert_eq!(expired.status(), 401);
    assert!(expired.text().await.unwrap().is_empty());
    let fresh = h.token("pbx-0001").await;
    assert_eq!(h.get("pbx-0001", "/xapi/v1/SystemStatus", &fresh).await.status(), 200);
    let stats = h.sim.stats("pbx-0001").unwrap();
    assert_eq!((stats.logins, stats.unauthorized), (2, 1));
}

#[tokio::test]
async fn expires_in_can_be_reported_in_minutes_while_exp_stays_true() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { expires_in_unit: ExpiresInUnit::Minutes, ..Faults::default() });
    let body: Value = h.admin_login("pbx-0001").await.json().await.unwrap();
    assert_eq!(body["Token"]["expires_in"], 60);
    let exp = jwt_payload(body["Token"]["access_token"].as_str().unwrap())["exp"].as_i64().unwrap();
    assert!((exp - (unix_now() + 3600)).abs() <= 2);
    let body: Value = h.client_credentials("pbx-0001", "sikurd", "secret-pbx-0001").await.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
}

#[tokio::test]
async fn a_refresh_token_from_the_login_gets_a_new_access_token() {
    let h = Harness::start(&["pbx-0001"]).await;
    let body: Value = h.admin_login("pbx-0001").await.json().await.unwrap();
    let refresh = body["Token"]["refresh_token"].as_str().unwrap();
    let response = h
        .http
        .post(h.url("pbx-0001", "/connect/token"))
        .form(&[("client_id", "Webclient"), ("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let renewed: Value = response.json().await.unwrap();
    let token = renewed["access_token"].as_str().unwrap();
    assert_eq!(h.get("pbx-0001", "/xapi/v1/Trunks", token).await.status(), 200);
    let bogus = h
        .http
        .post(h.url("pbx-0001", "/connect/token"))
        .form(&[("client_id", "Webclient"), ("grant_type", "refresh_token"), ("refresh_token", "bogus")])
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), 400);
    assert_eq!(h.sim.stats("pbx-0001").unwrap().token_refreshes, 1);
}

#[tokio::test]
async fn xapi_refuses_a_missing_forged_or_foreign_token() {
    let h = Harness::start(&["pbx-0001", "pbx-0002"]).await;
    let missing = h.http.get(h.url("pbx-0001", "/xapi/v1/SystemStatus")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_eq!(h.get("pbx-0001", "/xapi/v1/SystemStatus", "eyJ.forged.token").await.status(), 401);
    let foreign = h.token("pbx-0002").await;
    assert_eq!(h.get("pbx-0001", "/xapi/v1/SystemStatus", &foreign).await.status(), 401);
    assert_eq!(h.sim.stats("pbx-0001").unwrap().unauthorized, 3);
}

#[tokio::test]
async fn malformed_login_requests_get_client_errors() {
    let h = Harness::start(&["pbx-0001"]).await;
    let not_json =
        h.http.post(h.url("pbx-0001", "/webclient/api/Login/GetAccessToken")).body("{").send().await.unwrap();
    assert_eq!(not_json.status(), 400);
    let wrong_method = h.http.get(h.url("pbx-0001", "/connect/token")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    let no_grant = h.http.post(h.url("pbx-0001", "/connect/token")).form(&[("client_id", "x")]).send().await.unwrap();
    assert_eq!(no_grant.status(), 400);
    let huge = h.http.post(h.url("pbx-0001", "/connect/token")).body(vec![b'a'; 100_000]).send().await.unwrap();
    assert_eq!(huge.status(), 413);
    let post_xapi = h.http.post(h.url("pbx-0001", "/xapi/v1/SystemStatus")).send().await.unwrap();
    assert_eq!(post_xapi.status(), 405);
}
