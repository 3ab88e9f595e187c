use sikurd_pbx_sim::SimConfig;

use super::Harness;

#[tokio::test]
async fn https_works_for_pbx_hosts_and_the_loopback_address_once_the_ca_is_trusted() {
    let h = Harness::start_with(SimConfig::tls(), &["pbx-0001", "pbx-0002"]).await;
    let base = h.sim.base_url_for("pbx-0001");
    assert!(base.starts_with("https://pbx-0001.localhost:"), "{base}");
    let pem = h.sim.ca_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    for name in ["pbx-0001", "pbx-0002"] {
        let token = h.token(name).await;
        assert_eq!(h.get(name, "/xapi/v1/SystemStatus", &token).await.status(), 200);
    }
    let control = h.http.get(format!("{}/pbxs", h.sim.control_url())).send().await.unwrap();
    assert_eq!(control.status(), 200);
    let served_pem = h.http.get(format!("{}/ca.pem", h.sim.control_url())).send().await.unwrap().text().await.unwrap();
    assert_eq!(served_pem, pem);
}

#[tokio::test]
async fn https_is_refused_by_a_client_that_does_not_trust_the_ca() {
    let h = Harness::start_with(SimConfig::tls(), &["pbx-0001"]).await;
    let stranger = reqwest::Client::builder()
        .no_proxy()
        .resolve("pbx-0001.localhost", h.sim.addr())
        .tls_certs_only([])
        .build()
        .unwrap();
    let outcome = stranger.get(h.url("pbx-0001", "/xapi/v1/SystemStatus")).send().await;
    assert!(outcome.unwrap_err().is_connect());
}

#[tokio::test]
async fn plain_http_has_no_ca() {
    let h = Harness::start(&[]).await;
    assert!(h.sim.ca_pem().is_none());
    assert!(h.sim.base_url_for("pbx-0001").starts_with("http://"));
}
