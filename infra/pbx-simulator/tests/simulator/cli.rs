use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn the_binary_serves_a_tls_fleet_and_exits_when_stdin_closes() {
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sikurd-pbx-sim"))
        .args(["--listen", "127.0.0.1:0", "--tls", "--fleet", "4", "--faulty-percent", "50", "--latency-ms", "1..2"])
        .arg("--ca-out")
        .arg(&ca_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), BufReader::new(stdout).read_line(&mut line)).await.unwrap().unwrap();
    let url =
        line.trim().strip_prefix("listening on https://").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let addr: SocketAddr = url.parse().unwrap();
    assert_eq!(addr.ip().to_string(), "127.0.0.1");

    let pem = std::fs::read(&ca_path).unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .resolve("pbx-00001.localhost", addr)
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let login: Value = http
        .post(format!("https://pbx-00001.localhost:{}/webclient/api/Login/GetAccessToken", addr.port()))
        .json(&json!({ "Username": "admin", "Password": "pw-pbx-00001", "SecurityCode": "" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["Status"], "AuthSuccess");
    let pbxs: Value =
        http.get(format!("https://127.0.0.1:{}/_sim/pbxs", addr.port())).send().await.unwrap().json().await.unwrap();
    assert_eq!(pbxs["pbxs"].as_array().unwrap().len(), 4);

    drop(child.stdin.take());
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait()).await.unwrap().unwrap();
    assert!(exit.success());
}

#[tokio::test]
async fn the_binary_rejects_bad_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_sikurd-pbx-sim"))
        .args(["--latency-ms", "150..30"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_sikurd-pbx-sim"))
        .args(["--ca-out", "/tmp/x.pem"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "--ca-out needs --tls");
}
