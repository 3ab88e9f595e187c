//! The simulator, driven over HTTP(S) with reqwest as Sikurd's client would drive a real 3CX.

// A failed unwrap is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod cli;
mod control;
mod documents;
mod faults;
mod tls;
mod v18;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sikurd_pbx_sim::{Faults, PbxSpec, SimConfig, Simulator};

/// A started simulator with healthy PBXs and a client that resolves their hosts to it.
struct Harness {
    sim: Simulator,
    http: reqwest::Client,
}

impl Harness {
    async fn start(names: &[&str]) -> Harness {
        Self::start_with(SimConfig::default(), names).await
    }

    async fn start_with(config: SimConfig, names: &[&str]) -> Harness {
        let sim = Simulator::start(config).await.unwrap();
        for name in names {
            sim.add_pbx(PbxSpec::healthy(*name)).unwrap();
        }
        let http = client_for(&sim, names);
        Harness { sim, http }
    }

    fn url(&self, name: &str, path: &str) -> String {
        format!("{}{path}", self.sim.base_url_for(name))
    }

    fn set_faults(&self, name: &str, faults: Faults) {
        self.sim.set_faults(name, faults).unwrap();
    }

    /// Logs in as the default admin (`admin` / `pw-<name>`) and returns the whole answer.
    async fn admin_login(&self, name: &str) -> reqwest::Response {
        self.login_as(name, "admin", &format!("pw-{name}")).await
    }

    async fn login_as(&self, name: &str, username: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url(name, "/webclient/api/Login/GetAccessToken"))
            .json(&json!({ "Username": username, "Password": password, "SecurityCode": "" }))
            .send()
            .await
            .unwrap()
    }

    /// An access token for the default admin.
    async fn token(&self, name: &str) -> String {
        let body: Value = self.admin_login(name).await.json().await.unwrap();
        assert_eq!(body["Status"], "AuthSuccess", "{body}");
        body["Token"]["access_token"].as_str().unwrap().to_owned()
    }

    async fn client_credentials(&self, name: &str, client_id: &str, secret: &str) -> reqwest::Response {
        self.http
            .post(self.url(name, "/connect/token"))
            .form(&[("client_id", client_id), ("client_secret", secret), ("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, name: &str, path: &str, token: &str) -> reqwest::Response {
        self.http.get(self.url(name, path)).bearer_auth(token).send().await.unwrap()
    }

    /// `GET` with a fresh admin token, expecting `200` and JSON.
    async fn document(&self, name: &str, path: &str) -> Value {
        let token = self.token(name).await;
        let response = self.get(name, path, &token).await;
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.unwrap()
    }
}

/// A client that resolves `<name>.localhost` to the simulator and trusts its CA, if any.
fn client_for(sim: &Simulator, names: &[&str]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30));
    for name in names {
        builder = builder.resolve(&format!("{name}.localhost"), sim.addr());
    }
    if let Some(pem) = sim.ca_pem() {
        builder = builder.tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()]);
    }
    builder.build().unwrap()
}

/// The payload of a JWT.
fn jwt_payload(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a JWT: {token}");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Parses a 3CX date such as `2025-12-09T00:08:32.7261699+01:00` or `2035-01-01T00:00:00Z`.
fn date(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap()
}
