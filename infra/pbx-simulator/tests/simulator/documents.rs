use chrono::{Duration, Timelike};
use serde_json::Value;
use sikurd_pbx_sim::PbxSpec;

use super::{Harness, date};

#[tokio::test]
async fn pbxs_are_chosen_by_the_first_label_of_the_host() {
    let h = Harness::start(&[]).await;
    h.sim.add_pbx(PbxSpec::healthy("pbx-0001").with_version("20.0.7.1080")).unwrap();
    h.sim.add_pbx(PbxSpec::healthy("pbx-0002")).unwrap();
    let http = super::client_for(&h.sim, &["pbx-0001", "pbx-0002", "pbx-9999"]);
    let h = Harness { http, ..h };
    for (name, version) in [("pbx-0001", "20.0.7.1080"), ("pbx-0002", "20.0.9.1234")] {
        let token = h.token(name).await;
        let response = h.get(name, "/xapi/v1/Defs?$select=Id", &token).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-3cx-version"], version);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["Id"], 0);
        assert_eq!(body["@odata.context"], format!("https://{name}.3cx.example/xapi/v1/$metadata#Defs(Id)"));
        assert_eq!(h.sim.stats(name).unwrap().requests_to("/xapi/v1/Defs"), 1);
    }
    let unknown = h.http.get(h.url("pbx-9999", "/xapi/v1/SystemStatus")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let by_ip = h.http.get(format!("http://{}/xapi/v1/SystemStatus", h.sim.addr())).send().await.unwrap();
    assert_eq!(by_ip.status(), 404);
}

#[tokio::test]
async fn every_answer_of_a_v20_pbx_carries_its_version() {
    let h = Harness::start(&["pbx-0001"]).await;
    let login = h.admin_login("pbx-0001").await;
    assert_eq!(login.headers()["x-3cx-version"], "20.0.9.1234");
    let unauthorized = h.http.get(h.url("pbx-0001", "/xapi/v1/Trunks")).send().await.unwrap();
    assert_eq!(unauthorized.headers()["x-3cx-version"], "20.0.9.1234");
    let missing = h.http.get(h.url("pbx-0001", "/nothing/here")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["x-3cx-version"], "20.0.9.1234");
}

#[tokio::test]
async fn system_status_looks_like_a_real_healthy_pbx() {
    let h = Harness::start(&["pbx-0001"]).await;
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["@odata.context"], "https://pbx-0001.3cx.example/xapi/v1/$metadata#SystemStatus");
    assert_eq!(status["FQDN"], "pbx-0001.3cx.example");
    assert_eq!(status["Version"], "20.0.9.1234");
    assert_eq!(status["MaxSimCalls"], 16);
    assert_eq!(status["CallsActive"], 2);
    assert_eq!((status["TrunksRegistered"].as_u64(), status["TrunksTotal"].as_u64()), (Some(2), Some(2)));
    assert_eq!(status["HasNotRunningServices"], false);
    assert_eq!(status["BackupScheduled"], true);
    assert_eq!(status["LicenseActive"], true);
    assert_eq!(status["OS"], "Linux");
    assert!(status["DiskUsage"].as_u64().unwrap() < 90);
    assert!(status["FreeDiskSpace"].as_u64().unwrap() < status["TotalDiskSpace"].as_u64().unwrap());
    assert!(status.get("AdminEMail").is_none());
    let last_backup = status["LastBackupDateTime"].as_str().unwrap();
    assert_eq!(last_backup.len(), "2025-12-09T00:08:32.7261699+01:00".len(), "{last_backup}");
    assert!(last_backup.ends_with("+01:00"));
    assert!(status["ExpirationDate"].as_str().unwrap().ends_with('Z'));
    assert!(date(&status["ExpirationDate"]) > chrono::Utc::now() + Duration::days(365));
    let backups = h.document("pbx-0001", "/xapi/v1/Backups").await;
    assert_eq!(status["LastBackupDateTime"], backups["value"][0]["CreationTime"]);
}

#[tokio::test]
async fn backups_cover_the_last_seven_days_newest_first() {
    let h = Harness::start(&["pbx-0001"]).await;
    let backups = h.document("pbx-0001", "/xapi/v1/Backups").await;
    let items = backups["value"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    let newest = date(&items[0]["CreationTime"]);
    assert!(chrono::Utc::now() - newest.with_timezone(&chrono::Utc) <= Duration::hours(24));
    for item in items {
        let created = date(&item["CreationTime"]);
        assert_eq!((created.hour(), created.offset().local_minus_utc()), (2, 3600));
        assert_eq!(item["FileName"], format!("3CXScheduledBackup_{}.zip", created.format("%Y%m%d")));
        let size = item["Size"].as_u64().unwrap();
        assert!((50_000_000..=400_000_000).contains(&size), "{size}");
        assert!(item["DownloadLink"].as_str().unwrap().contains(item["FileName"].as_str().unwrap()));
    }
    for pair in items.windows(2) {
        assert_eq!(
            date(&pair[0]["CreationTime"]).date_naive() - date(&pair[1]["CreationTime"]).date_naive(),
            Duration::days(1)
        );
    }
}

#[tokio::test]
async fn backups_honour_orderby_top_skip_and_count() {
    let h = Harness::start(&["pbx-0001"]).await;
    let all = h.document("pbx-0001", "/xapi/v1/Backups").await;
    let newest_two = h
        .document("pbx-0001", "/xapi/v1/Backups?$orderby=CreationTime%20desc&$top=2&$select=FileName,CreationTime")
        .await;
    assert_eq!(newest_two["value"].as_array().unwrap().len(), 2);
    assert_eq!(newest_two["value"][0]["FileName"], all["value"][0]["FileName"]);
    let oldest = h.document("pbx-0001", "/xapi/v1/Backups?$orderby=CreationTime asc&$top=1&$count=true").await;
    assert_eq!(oldest["value"][0]["FileName"], all["value"][6]["FileName"]);
    assert_eq!(oldest["@odata.count"], 7);
    let token = h.token("pbx-0001").await;
    let bad = h.get("pbx-0001", "/xapi/v1/Backups?$top=many", &token).await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("$top"));
}

#[tokio::test]
async fn backup_settings_show_the_daily_schedule() {
    let h = Harness::start(&["pbx-0001"]).await;
    let settings = h.document("pbx-0001", "/xapi/v1/Backups/Pbx.GetBackupSettings()").await;
    assert_eq!(settings["ScheduleEnabled"], true);
    assert_eq!(settings["Rotation"], 7);
    assert_eq!(settings["Schedule"]["ScheduleType"], "Daily");
    assert_eq!(settings["Schedule"]["Day"], "Sunday");
    assert_eq!(settings["Schedule"]["Time"], "02:00:00");
    assert_eq!(settings["Schedule"]["RepeatHours"], 0);
    assert_eq!(settings["Contents"]["EncryptBackupPassword"]["Concealed"], true);
}

#[tokio::test]
async fn trunks_and_services_are_odata_collections() {
    let h = Harness::start(&["pbx-0001"]).await;
    let trunks = h.document("pbx-0001", "/xapi/v1/Trunks?$select=Id,Number,IsOnline,Gateway&$expand=Gateway").await;
    assert_eq!(trunks["@odata.context"], "https://pbx-0001.3cx.example/xapi/v1/$metadata#Trunks");
    let trunks = trunks["value"].as_array().unwrap();
    assert_eq!(trunks.len(), 2);
    assert_eq!(trunks[0]["Gateway"]["Name"], "Primary SIP");
    assert_eq!(trunks[1]["Gateway"]["Name"], "Backup SIP");
    assert_eq!(trunks[0]["Number"], "10000");
    assert_eq!(trunks[0]["Gateway"]["Port"], 5060);
    assert_eq!(trunks[0]["Gateway"]["Type"], "Provider");
    assert_eq!(trunks[0]["Direction"], "Both");
    assert!(trunks.iter().all(|trunk| trunk["IsOnline"] == true));
    assert!(trunks[0]["ExternalNumber"].as_str().unwrap().starts_with('+'));
    assert_eq!(trunks[0]["DidNumbers"].as_array().unwrap().len(), 2);
    let services = h.document("pbx-0001", "/xapi/v1/Services").await;
    let services = services["value"].as_array().unwrap();
    let names: Vec<&str> = services.iter().map(|service| service["Name"].as_str().unwrap()).collect();
    for expected in ["3CXPhoneSystem01", "3CXMediaServer", "3CXQueueManager01", "3CXCallFlow01", "3CXIVR01", "nginx"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(services.iter().all(|service| service["Status"] == "Running"));
}

#[tokio::test]
async fn unknown_xapi_paths_get_an_odata_404() {
    let h = Harness::start(&["pbx-0001"]).await;
    let token = h.token("pbx-0001").await;
    let response = h.get("pbx-0001", "/xapi/v1/NoSuchThing", &token).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["message"], "WARNINGS.XAPI.NOT_FOUND");
    assert_eq!(h.sim.stats("pbx-0001").unwrap().requests_to("other"), 1);
}

#[tokio::test]
async fn polling_the_monitoring_endpoints_never_touches_personal_data() {
    let h = Harness::start(&["pbx-0001"]).await;
    let token = h.token("pbx-0001").await;
    for path in [
        "/xapi/v1/SystemStatus",
        "/xapi/v1/Trunks",
        "/xapi/v1/Services",
        "/xapi/v1/Backups",
        "/xapi/v1/Backups/Pbx.GetBackupSettings()",
        "/xapi/v1/Defs?$select=Id",
    ] {
        assert_eq!(h.get("pbx-0001", path, &token).await.status(), 200, "{path}");
    }
    let stats = h.sim.stats("pbx-0001").unwrap();
    assert_eq!(stats.pii_requests, 0);
    assert_eq!(stats.requests_total, 7);
}

#[tokio::test]
async fn personal_data_endpoints_are_served_and_counted() {
    let h = Harness::start(&["pbx-0001"]).await;
    let calls = h.document("pbx-0001", "/xapi/v1/ActiveCalls").await;
    let calls = calls["value"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls[0]["Caller"].as_str().unwrap().contains("(+49"));
    assert_eq!(calls[0]["Status"], "Talking");
    let users = h.document("pbx-0001", "/xapi/v1/Users?$top=3").await;
    let users = users["value"].as_array().unwrap();
    assert_eq!(users.len(), 3);
    assert!(users[0]["EmailAddress"].as_str().unwrap().contains('@'));
    assert!(users[0]["FirstName"].is_string() && users[0]["LastName"].is_string());
    assert_eq!(users[0]["Number"], "100");
    let licence = h.document("pbx-0001", "/xapi/v1/LicenseStatus").await;
    assert!(licence["AdminEMail"].as_str().unwrap().contains('@'));
    assert!(licence["ContactName"].is_string() && licence["CompanyName"].is_string());
    let stats = h.sim.stats("pbx-0001").unwrap();
    assert_eq!(stats.pii_requests, 3);
    assert_eq!(stats.requests_to("/xapi/v1/Users"), 1);
}
