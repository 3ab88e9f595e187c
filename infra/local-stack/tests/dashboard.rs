//! The dashboard in headless Chromium against the local stack with the demo fleet: signing in
//! and out, the fleet, an instance's charts. Screenshots go to `target/screenshots/`. Needs
//! Debian's `chromium` (`infra/scripts/test` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is how a test fails

mod support;

use support::browser::{Browser, Page};
use support::server::{DEMO_INSTANCES, DemoServer};

/// Opens the dashboard and signs in as `email` with `password` (the form only; no waiting for
/// what comes after).
async fn submit_sign_in(browser: &Browser, server: &DemoServer, email: &str, password: &str) -> Page {
    let page = browser.open(&format!("{}/", server.url)).await;
    page.wait_for("form#signin").await;
    page.fill("#signin-email", email).await;
    page.fill("#signin-password", password).await;
    page.click("#signin-submit").await;
    page
}

/// Signs in as the demo owner and waits for the fleet.
async fn sign_in(browser: &Browser, server: &DemoServer) -> Page {
    let page = submit_sign_in(browser, server, &server.email, &server.password).await;
    page.wait_for("table#fleet").await;
    page
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_keeps_the_secure_session_cookie_on_the_loopback_address() {
    let server = DemoServer::start().await;
    let browser = Browser::launch("session_cookie").await;
    let page = browser.open(&format!("{}/healthz", server.url)).await;
    let login = serde_json::json!({ "email": server.email, "password": server.password });
    let status = page
        .eval(&format!(
            "fetch('/api/v1/auth/login', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }}, \
             body: JSON.stringify({login}) }}).then(r => r.status)"
        ))
        .await;
    assert_eq!(status, 200, "signing in with the demo owner's password");
    let me = page.eval("fetch('/api/v1/me').then(r => r.status)").await;
    assert_eq!(me, 200, "the __Secure- session cookie set over http://127.0.0.1 is sent back");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_shows_an_error_and_does_not_sign_in() {
    let server = DemoServer::start().await;
    let browser = Browser::launch("wrong_password").await;
    let wrong = "not-the-demo-password";
    let page = submit_sign_in(&browser, &server, &server.email, wrong).await;

    let error = page.wait_for_text("#signin-error").await;
    assert!(!error.contains(wrong), "the error repeats the password: {error}");
    page.wait_for("form#signin").await;
    assert_eq!(page.count("table#fleet").await, 0, "the fleet is shown after a failed sign-in");
    page.screenshot("error").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_shows_the_demo_fleet_and_an_instance_with_its_charts() {
    let server = DemoServer::start().await;
    server.poll_once().await;
    let browser = Browser::launch("fleet_and_instance").await;
    let page = sign_in(&browser, &server).await;

    page.wait_for_count("table#fleet tr[data-instance-id]", DEMO_INSTANCES).await;
    let fleet = page.text("table#fleet").await;
    for name in ["hq-main", "clinic-south", "garage", "old-office", "offline-site"] {
        assert!(fleet.contains(name), "{name} is not in the fleet:\n{fleet}");
    }
    let ok = page.text("#status-counts [data-status=\"ok\"]").await;
    assert!(ok.contains('7'), "7 of the demo's instances are ok, the counts say {ok:?}");
    page.screenshot("fleet").await;

    let id = page
        .eval(
            "[...document.querySelectorAll('table#fleet tr[data-instance-id]')]\
             .find(row => row.innerText.includes('hq-main')).dataset.instanceId",
        )
        .await;
    let id = id.as_str().expect("hq-main's row has an instance id").to_owned();
    page.click(&format!("table#fleet tr[data-instance-id=\"{id}\"] a")).await;
    page.wait_for("#instance").await;
    page.wait_for("#instance svg.chart[data-metric]").await;
    let instance = page.text("#instance").await;
    assert!(instance.contains("hq-main"), "the instance page names its instance:\n{instance}");
    assert!(!instance.contains("[object "), "the instance page renders an object as text:\n{instance}");
    assert!(page.url().await.contains(&id), "the address names the instance: {}", page.url().await);
    page.screenshot("instance").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_returns_to_the_sign_in_form_and_ends_the_session() {
    let server = DemoServer::start().await;
    let browser = Browser::launch("sign_out").await;
    let page = sign_in(&browser, &server).await;
    page.screenshot("signed-in").await;

    page.click("#signout").await;
    page.wait_for("form#signin").await;
    page.wait_for_none("table#fleet").await;
    page.screenshot("signed-out").await;

    page.reload().await;
    page.wait_for("form#signin").await;
    let me = page.eval("fetch('/api/v1/me').then(r => r.status)").await;
    assert_eq!(me, 401, "the session ended with the sign-out");
}
