//! The `sikurd-local` binary, run as a user would: the demo fleet polled and printed, the
//! fleet read back, a real 3CX registered without its secret on the command line, and the API
//! served over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is how a test fails

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_sikurd-local");

fn sikurd_local(data_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command.arg("--data-dir").arg(data_dir).args(args).env("SIKURD_BCRYPT_COST", "4").env_remove("RUST_BACKTRACE");
    command
}

fn output(data_dir: &Path, args: &[&str]) -> Output {
    sikurd_local(data_dir, args).stdin(Stdio::null()).output().unwrap()
}

/// A running `sikurd-local run`, killed on drop.
struct Running {
    child: Child,
    api: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(data_dir: &Path, args: &[&str]) -> Self {
        let mut child = sikurd_local(data_dir, &[&["run", "--listen", "127.0.0.1:0"], args].concat())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Self { child, api: String::new(), lines };
        let line = running.wait_for("API on http://");
        running.api = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
        running
    }

    /// Lines printed until one contains `needle` (which is returned).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("sikurd-local never printed {needle:?}");
    }

    fn collect_until(&mut self, needle: &str, count: usize) -> Vec<String> {
        let mut out = vec![self.wait_for(needle)];
        while out.len() <= count {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => out.push(line),
                Err(_) => break,
            }
        }
        out
    }
}

#[test]
fn the_demo_polls_a_simulated_fleet_and_prints_each_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = Running::start(dir.path(), &["--demo"]);
    let cycle = running.collect_until("polled 14/14 instances", 14);
    let text = cycle.join("\n");
    for expected in [
        "clinic-south",
        "trunks offline: Primary SIP",
        "garage",
        "login failing",
        "old-office",
        "unsupported",
        "offline-site",
        "unreachable",
        "lawfirm-dr",
        "services not running: 3CXQueueManager01",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
    }
    drop(running);

    let fleet = output(dir.path(), &["fleet"]);
    assert!(fleet.status.success(), "{}", String::from_utf8_lossy(&fleet.stderr));
    let fleet = String::from_utf8_lossy(&fleet.stdout);
    assert!(fleet.starts_with("14 active instances"), "{fleet}");
    assert!(fleet.contains("hotel-annex") && fleet.contains("disk nearly full"), "{fleet}");
}

#[test]
fn register_takes_the_secret_from_stdin_and_stores_it_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Sup3r-Secret-Canary-7731";
    let mut child = sikurd_local(
        dir.path(),
        &[
            "register",
            "--name",
            "Head office",
            "--url",
            "https://pbx.example.com:5001",
            "--username",
            "100",
            "--secret-stdin",
        ],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    writeln!(child.stdin.take().unwrap(), "{secret}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("registered Head office"));

    let table = std::fs::read(dir.path().join("table.redb")).unwrap();
    assert!(!table.windows(secret.len()).any(|w| w == secret.as_bytes()), "the secret is readable in the table file");
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("master.key")).unwrap().permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600);

    let fleet = String::from_utf8_lossy(&output(dir.path(), &["fleet"]).stdout).into_owned();
    assert!(fleet.contains("Head office") && fleet.contains("never"), "{fleet}");
}

#[test]
fn the_retention_subcommand_runs_the_nightly_job_once_and_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let first = output(dir.path(), &["retention"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert_eq!(
        stdout.trim(),
        "retention: 0 days rolled up, 0 deleted instances purged, 0 expired items deleted, 0 old exports deleted, \
         0 tenants deleted",
        "a fresh data directory has nothing to do"
    );
    let extra = output(dir.path(), &["retention", "--now"]);
    assert_eq!(extra.status.code(), Some(2), "an unknown argument is refused");
}

#[test]
fn the_export_subcommand_names_what_is_wrong_with_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let bad = output(dir.path(), &["export", "--tenant", "acme", "--by", "Ada"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--tenant") && !stderr.contains("panicked"), "{stderr}");
    let nobody = output(dir.path(), &["export", "--tenant", "ten_01JDQ6ZC3N9W8Q7Y5X4V3T2S1R", "--by", "Ada"]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no tenant ten_01JDQ6ZC3N9W8Q7Y5X4V3T2S1R"));
    let anonymous = output(dir.path(), &["export", "--tenant", "ten_01JDQ6ZC3N9W8Q7Y5X4V3T2S1R"]);
    assert_eq!(anonymous.status.code(), Some(2), "--by is required");
    let gone = output(dir.path(), &["delete-tenant", "--tenant", "ten_01JDQ6ZC3N9W8Q7Y5X4V3T2S1R", "--by", "Ada"]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no tenant ten_01JDQ6ZC3N9W8Q7Y5X4V3T2S1R"));
}

#[test]
fn bad_arguments_get_a_clear_error_and_no_secret_is_accepted_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad_url = output(dir.path(), &["register", "--name", "x", "--url", "ftp://pbx.example.com", "--username", "1"]);
    assert_eq!(bad_url.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad_url.stderr);
    assert!(stderr.contains("invalid url") && !stderr.contains("panicked"), "{stderr}");

    let on_argv = output(
        dir.path(),
        &["register", "--name", "x", "--url", "https://p.example.com", "--username", "1", "--password", "pw"],
    );
    assert_eq!(on_argv.status.code(), Some(2), "clap refuses an unknown --password flag");

    let empty = output(dir.path(), &["register", "--name", "x", "--url", "https://p.example.com", "--username", "1"]);
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the secret is empty"));
}

#[test]
fn the_api_is_served_over_http_with_the_demo_login() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path(), &["--demo"]);
    let login = std::fs::read_to_string(dir.path().join("demo-login.txt")).unwrap();
    let mut lines = login.lines();
    let (email, password) = (lines.next().unwrap(), lines.next().unwrap());

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let health = http.get(format!("{}/healthz", running.api)).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let body = serde_json::json!({ "email": email, "password": password }).to_string();
        let login = http
            .post(format!("{}/api/v1/auth/login", running.api))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
        let instances =
            http.get(format!("{}/api/v1/instances", running.api)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(instances.status(), 200);
        let list: serde_json::Value = serde_json::from_str(&instances.text().await.unwrap()).unwrap();
        let text = list.to_string();
        assert!(text.contains("clinic-south") && !text.contains("pw-clinic-south"), "{text}");
        let anonymous = http.get(format!("{}/api/v1/instances", running.api)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
    });
}

/// One HTTP exchange with the running stack: status and body.
async fn call(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = http.request(method.parse().unwrap(), url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Signs in (or up) and returns the session cookie and CSRF token.
async fn session(http: &reqwest::Client, api: &str, path: &str, body: serde_json::Value) -> (String, String) {
    let response = http
        .post(format!("{api}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let json: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (cookie, json["csrf_token"].as_str().unwrap().to_owned())
}

#[test]
fn over_http_every_operation_refuses_strangers_csrf_less_writes_viewers_and_other_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(dir.path(), &[]);
    let api = running.api.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let http = reqwest::Client::new();
        let (_, document) = call(&http, "GET", &format!("{api}/api/v1/openapi.json"), None, None, None).await;
        let password = "a long enough password";
        let signup = |tenant: &str, email: &str| {
            serde_json::json!({ "tenant_name": tenant, "name": "Owner", "email": email, "password": password })
        };
        let (owner_a, csrf_a) = session(&http, &api, "/api/v1/signup", signup("Tenant A", "owner@a.example")).await;
        let (owner_b, csrf_b) = session(&http, &api, "/api/v1/signup", signup("Tenant B", "owner@b.example")).await;
        let instance = serde_json::json!({
            "name": "A's PBX", "url": "https://pbx.a.example:5001",
            "credentials": { "kind": "admin", "username": "100", "password": "pbx-password" }
        });
        let (status, created) =
            call(&http, "POST", &format!("{api}/api/v1/instances"), Some(&owner_a), Some(&csrf_a), Some(instance)).await;
        assert_eq!(status, 201, "{created}");
        let instance_a = created["id"].as_str().unwrap().to_owned();
        let viewer = serde_json::json!({ "name": "Vi", "email": "viewer@a.example", "role": "viewer", "password": password });
        let (status, created) =
            call(&http, "POST", &format!("{api}/api/v1/users"), Some(&owner_a), Some(&csrf_a), Some(viewer)).await;
        assert_eq!(status, 201, "{created}");
        assert!(created["id"].is_string());
        let (_, me) = call(&http, "GET", &format!("{api}/api/v1/me"), Some(&owner_a), None, None).await;
        let user_a = me["user"]["id"].as_str().unwrap().to_owned();
        let (viewer_a, viewer_csrf) = session(
            &http,
            &api,
            "/api/v1/auth/login",
            serde_json::json!({ "email": "viewer@a.example", "password": password }),
        )
        .await;

        let paths = document["paths"].as_object().unwrap();
        let mut checked = 0;
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let method = method.to_uppercase();
                let public = operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|o| o.is_empty())));
                let url = format!("{api}{}", path.replace("{id}", if path.contains("/users/") { &user_a } else { &instance_a }));
                let unsafe_method = method != "GET";
                let body = unsafe_method.then(|| serde_json::json!({}));
                if public || path.ends_with("/auth/logout") {
                    continue;
                }
                checked += 1;
                let (status, answer) = call(&http, &method, &url, None, None, body.clone()).await;
                assert_eq!(status, 401, "{method} {path} without a session: {answer}");
                assert!(answer["error"]["code"].is_string(), "{method} {path}: not the error shape: {answer}");
                if unsafe_method {
                    let (status, _) = call(&http, &method, &url, Some(&owner_a), None, body.clone()).await;
                    assert_eq!(status, 403, "{method} {path} without X-CSRF-Token");
                    let (status, _) = call(&http, &method, &url, Some(&owner_a), Some(&csrf_b), body.clone()).await;
                    assert_eq!(status, 403, "{method} {path} with another session's CSRF token");
                }
                if path.contains("{id}") {
                    let (status, answer) = call(&http, &method, &url, Some(&owner_b), Some(&csrf_b), body.clone()).await;
                    assert_eq!(status, 404, "{method} {path}: tenant B's owner on tenant A's object: {answer}");
                    assert!(!answer.to_string().contains("A's PBX") && !answer.to_string().contains("viewer@a.example"));
                }
                if unsafe_method {
                    let (status, answer) = call(&http, &method, &url, Some(&viewer_a), Some(&viewer_csrf), body.clone()).await;
                    assert!(
                        matches!(status, 400 | 403 | 404 | 422),
                        "{method} {path}: a viewer got {status}: {answer}"
                    );
                }
            }
        }
        assert!(checked >= 15, "only {checked} operations were checked");
        let (status, _) = call(&http, "GET", &format!("{api}/api/v1/audit"), Some(&viewer_a), None, None).await;
        assert_eq!(status, 403, "viewers do not read the audit log");
        let (status, _) =
            call(&http, "POST", &format!("{api}/api/v1/auth/logout"), Some(&viewer_a), Some(&viewer_csrf), None).await;
        assert!(matches!(status, 200 | 204));
        let (status, _) = call(&http, "GET", &format!("{api}/api/v1/me"), Some(&viewer_a), None, None).await;
        assert_eq!(status, 401, "a logged-out session is refused");
    });
}
