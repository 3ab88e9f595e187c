use std::time::{Duration, Instant};

use serde_json::Value;
use sikurd_pbx_sim::{Faults, PbxSpec};

use super::{Harness, date};

#[tokio::test]
async fn a_downed_trunk_is_offline_and_not_registered() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { trunk_down: Some("Backup SIP".to_owned()), ..Faults::default() });
    let trunks = h.document("pbx-0001", "/xapi/v1/Trunks").await;
    assert_eq!(trunks["value"][0]["IsOnline"], true);
    assert_eq!(trunks["value"][1]["IsOnline"], false);
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!((status["TrunksRegistered"].as_u64(), status["TrunksTotal"].as_u64()), (Some(1), Some(2)));
}

#[tokio::test]
async fn stopped_services_show_as_stopped_and_flag_the_status() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { services_stopped: vec!["3CXMediaServer".to_owned()], ..Faults::default() });
    let services = h.document("pbx-0001", "/xapi/v1/Services").await;
    for service in services["value"].as_array().unwrap() {
        let expected = if service["Name"] == "3CXMediaServer" { "Stopped" } else { "Running" };
        assert_eq!(service["Status"], expected, "{service}");
    }
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["HasNotRunningServices"], true);
}

#[tokio::test]
async fn a_missing_backup_leaves_the_newest_two_or_more_days_old() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { backup_missing: true, ..Faults::default() });
    let backups = h.document("pbx-0001", "/xapi/v1/Backups?$orderby=CreationTime desc&$top=1").await;
    let newest = date(&backups["value"][0]["CreationTime"]);
    assert!(chrono::Utc::now() - newest.with_timezone(&chrono::Utc) >= chrono::Duration::days(2));
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["LastBackupDateTime"], backups["value"][0]["CreationTime"]);
    assert_eq!(status["BackupScheduled"], true);
}

#[tokio::test]
async fn a_full_disk_is_97_percent_used() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { disk_full: true, ..Faults::default() });
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["DiskUsage"], 97);
    let (free, total) = (status["FreeDiskSpace"].as_u64().unwrap(), status["TotalDiskSpace"].as_u64().unwrap());
    assert!(free <= total / 20, "{free} of {total}");
}

#[tokio::test]
async fn an_expiring_licence_expires_that_many_days_from_now() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { licence_expiring_days: Some(10), ..Faults::default() });
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    let days =
        (date(&status["ExpirationDate"]).with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours() as f64 / 24.0;
    assert!((9.9..=10.1).contains(&days), "{days}");
    assert_eq!(status["LicenseActive"], true);
}

#[tokio::test]
async fn calls_at_the_limit_fill_every_channel() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { calls_at_limit: true, ..Faults::default() });
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["CallsActive"], status["MaxSimCalls"]);
    let calls = h.document("pbx-0001", "/xapi/v1/ActiveCalls").await;
    assert_eq!(calls["value"].as_array().unwrap().len(), 16);
}

#[tokio::test]
async fn a_server_error_answers_503_even_to_logins() {
    let h = Harness::start(&["pbx-0001"]).await;
    let token = h.token("pbx-0001").await;
    h.set_faults("pbx-0001", Faults { server_error: true, ..Faults::default() });
    assert_eq!(h.admin_login("pbx-0001").await.status(), 503);
    let response = h.get("pbx-0001", "/xapi/v1/SystemStatus", &token).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["x-3cx-version"], "20.0.9.1234");
}

#[tokio::test]
async fn a_hanging_pbx_takes_the_request_and_never_answers() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults("pbx-0001", Faults { hang: true, ..Faults::default() });
    let outcome =
        h.http.get(h.url("pbx-0001", "/xapi/v1/SystemStatus")).timeout(Duration::from_millis(300)).send().await;
    assert!(outcome.unwrap_err().is_timeout());
    assert_eq!(h.sim.stats("pbx-0001").unwrap().requests_to("/xapi/v1/SystemStatus"), 1);
    h.set_faults("pbx-0001", Faults::default());
    assert_eq!(h.admin_login("pbx-0001").await.status(), 200);
}

#[tokio::test]
async fn slow_and_latency_delay_every_answer() {
    let h = Harness::start(&["pbx-0001"]).await;
    h.set_faults(
        "pbx-0001",
        Faults { slow: Some(Duration::from_millis(150)), latency: Some((50, 60)), ..Faults::default() },
    );
    let started = Instant::now();
    assert_eq!(h.admin_login("pbx-0001").await.status(), 200);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn garbage_json_is_a_200_that_does_not_parse() {
    let h = Harness::start(&["pbx-0001"]).await;
    let token = h.token("pbx-0001").await;
    h.set_faults("pbx-0001", Faults { garbage_json: true, ..Faults::default() });
    for path in ["/xapi/v1/SystemStatus", "/xapi/v1/Trunks", "/xapi/v1/Backups"] {
        let response = h.get("pbx-0001", path, &token).await;
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        assert!(!body.is_empty());
        assert!(serde_json::from_slice::<Value>(&body).is_err(), "{path}");
    }
    let login: Value = h.admin_login("pbx-0001").await.json().await.unwrap();
    assert_eq!(login["Status"], "AuthSuccess", "logins stay intact");
}

#[tokio::test]
async fn a_huge_status_body_is_streamed_without_a_length() {
    let h = Harness::start(&["pbx-0001"]).await;
    let token = h.token("pbx-0001").await;
    h.set_faults("pbx-0001", Faults { huge_body: true, ..Faults::default() });
    let response = h.get("pbx-0001", "/xapi/v1/SystemStatus", &token).await;
    assert_eq!(response.status(), 200);
    assert!(response.content_length().is_none());
    let body = response.bytes().await.unwrap();
    assert!(body.len() > 20_000_000, "{}", body.len());
    let status: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["Version"], "20.0.9.1234");
    let trunks = h.get("pbx-0001", "/xapi/v1/Trunks", &token).await.bytes().await.unwrap();
    assert!(trunks.len() < 10_000, "only SystemStatus is huge");
}

#[tokio::test]
async fn pii_canaries_fill_every_personal_field() {
    let h = Harness::start(&["pbx-0001"]).await;
    let canaries = vec!["CANARY-a1b2".to_owned(), "canary@leak.example".to_owned()];
    h.set_faults("pbx-0001", Faults { pii_canaries: canaries.clone(), ..Faults::default() });
    let joined = canaries.join(" ");
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["AdminEMail"], joined);
    let trunks = h.document("pbx-0001", "/xapi/v1/Trunks").await;
    assert_eq!(trunks["value"][0]["ExternalNumber"], joined);
    assert_eq!(trunks["value"][0]["DidNumbers"], serde_json::json!(canaries));
    let calls = h.document("pbx-0001", "/xapi/v1/ActiveCalls").await;
    assert_eq!(calls["value"][0]["Caller"], joined);
    assert_eq!(calls["value"][0]["Callee"], joined);
    let users = h.document("pbx-0001", "/xapi/v1/Users").await;
    for field in ["FirstName", "LastName", "EmailAddress", "Mobile"] {
        assert_eq!(users["value"][0][field], joined, "{field}");
    }
    let licence = h.document("pbx-0001", "/xapi/v1/LicenseStatus").await;
    for field in ["AdminEMail", "EMail", "ContactName", "CompanyName", "Telephone"] {
        assert_eq!(licence[field], joined, "{field}");
    }
    let services = h.document("pbx-0001", "/xapi/v1/Services").await;
    assert!(!services.to_string().contains("CANARY-a1b2"), "services carry no personal data");
}

#[tokio::test]
async fn faults_given_at_creation_apply_from_the_first_request() {
    let h = Harness::start(&[]).await;
    let spec = PbxSpec::healthy("pbx-0001").with_faults(Faults { disk_full: true, ..Faults::default() });
    h.sim.add_pbx(spec).unwrap();
    let h = Harness { http: super::client_for(&h.sim, &["pbx-0001"]), ..h };
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["DiskUsage"], 97);
    h.set_faults("pbx-0001", Faults::default());
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_ne!(status["DiskUsage"], 97, "a fault change shows at once, cache or not");
}
