use serde_json::{Value, json};
use sikurd_pbx_sim::{Faults, SimError};

use super::{Harness, client_for};

#[tokio::test]
async fn the_control_api_adds_lists_describes_and_removes_pbxs() {
    let h = Harness::start(&[]).await;
    let control = h.sim.control_url();
    let added = h
        .http
        .post(format!("{control}/pbxs"))
        .json(&json!({ "name": "acme-01", "version": "20.0.8.1109", "admin": { "username": "100", "password": "s3cret" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["base_url"], h.sim.base_url_for("acme-01"));
    let list: Value = h.http.get(format!("{control}/pbxs")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list, json!({ "pbxs": ["acme-01"] }));
    let spec: Value = h.http.get(format!("{control}/pbxs/acme-01")).send().await.unwrap().json().await.unwrap();
    assert_eq!(spec["version"], "20.0.8.1109");
    assert_eq!(spec["max_sim_calls"], 16);
    assert_eq!(spec["faults"]["token_lifetime_ms"], 3_600_000);

    let pbx = Harness { http: client_for(&h.sim, &["acme-01"]), sim: h.sim };
    let body: Value = pbx.login_as("acme-01", "100", "s3cret").await.json().await.unwrap();
    assert_eq!(body["Status"], "AuthSuccess");

    let removed = pbx.http.delete(format!("{control}/pbxs/acme-01")).send().await.unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(pbx.login_as("acme-01", "100", "s3cret").await.status(), 404);
    assert!(pbx.sim.pbx_names().is_empty());
}

#[tokio::test]
async fn the_control_api_sets_faults_and_reads_stats() {
    let h = Harness::start(&["pbx-0001"]).await;
    let control = h.sim.control_url();
    let set = h
        .http
        .put(format!("{control}/pbxs/pbx-0001/faults"))
        .json(&json!({ "disk_full": true, "slow_ms": 1, "trunk_down": "Primary SIP" }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 204);
    let faults = h.sim.faults("pbx-0001").unwrap();
    assert!(faults.disk_full);
    assert_eq!(faults.slow, Some(std::time::Duration::from_millis(1)));
    let read: Value = h.http.get(format!("{control}/pbxs/pbx-0001/faults")).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["trunk_down"], "Primary SIP");
    let status = h.document("pbx-0001", "/xapi/v1/SystemStatus").await;
    assert_eq!(status["DiskUsage"], 97);
    let stats: Value = h.http.get(format!("{control}/pbxs/pbx-0001/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["logins"], 1);
    assert_eq!(stats["requests"]["/xapi/v1/SystemStatus"], 1);
    assert_eq!(stats["pii_requests"], 0);
}

#[tokio::test]
async fn the_control_api_refuses_bad_input_and_unknown_pbxs() {
    let h = Harness::start(&["pbx-0001"]).await;
    let control = h.sim.control_url();
    let bad_name = h.http.post(format!("{control}/pbxs")).json(&json!({ "name": "Not A Label" })).send().await.unwrap();
    assert_eq!(bad_name.status(), 400);
    let body: Value = bad_name.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("DNS label"));
    let unknown_fault =
        h.http.put(format!("{control}/pbxs/pbx-0001/faults")).json(&json!({ "meteor": true })).send().await.unwrap();
    assert!(unknown_fault.status().is_client_error());
    let not_json = h.http.put(format!("{control}/pbxs/pbx-0001/faults")).body("{").send().await.unwrap();
    assert!(not_json.status().is_client_error());
    let unknown = h.http.get(format!("{control}/pbxs/nobody/stats")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    let no_ca = h.http.get(format!("{control}/ca.pem")).send().await.unwrap();
    assert_eq!(no_ca.status(), 404);
    assert!(matches!(h.sim.set_faults("nobody", Faults::default()), Err(SimError::UnknownPbx(_))));
}

#[tokio::test]
async fn a_fleet_is_numbered_with_known_passwords_and_a_share_of_faults() {
    let h = Harness::start(&[]).await;
    let names = h.sim.add_fleet("bench", 20, 0.5, Some((1, 3))).unwrap();
    assert_eq!(names.len(), 20);
    assert_eq!(names[0], "bench-00001");
    assert_eq!(names[19], "bench-00020");
    let faulty = names
        .iter()
        .filter(|name| h.sim.faults(name).unwrap() != Faults { latency: Some((1, 3)), ..Faults::default() });
    assert_eq!(faulty.count(), 10);
    assert!(h.sim.faults("bench-00002").unwrap().trunk_down.is_some(), "the first faulty PBX has a trunk down");
    let fleet = Harness { http: client_for(&h.sim, &["bench-00001"]), sim: h.sim };
    assert_eq!(fleet.token("bench-00001").await.split('.').count(), 3);

    let via_http = fleet
        .http
        .post(format!("{}/fleet", fleet.sim.control_url()))
        .json(&json!({ "prefix": "demo", "count": 3, "faulty_fraction": 1.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(via_http.status(), 201);
    let body: Value = via_http.json().await.unwrap();
    assert_eq!(body["names"], json!(["demo-00001", "demo-00002", "demo-00003"]));
    assert_eq!(fleet.sim.pbx_names().len(), 23);
    assert!(fleet.sim.add_fleet("Bad Prefix", 1, 0.0, None).is_err());
}

#[tokio::test]
async fn shutdown_closes_the_socket() {
    let h = Harness::start(&["pbx-0001"]).await;
    let addr = h.sim.addr();
    h.sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
