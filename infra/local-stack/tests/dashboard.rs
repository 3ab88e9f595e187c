//! The dashboard in headless Chromium against the local stack with the demo fleet: signing in
//! and out, the fleet, an instance's charts. Screenshots go to `target/screenshots/`. Needs
//! Debian's `chromium` (`infra/scripts/test` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is how a test fails

mod support;

use sikurd_tests::browser::{Browser, Page, WAIT};
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
    page.wait_for("#instance svg.chart[data-metric=\"backups\"]").await;
    page.screenshot("instance").await;

    // On a phone: nothing wider than the screen but the tables, which scroll inside their box.
    page.resize(390, 844, true).await;
    let overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth";
    page.wait_for("#instance svg.chart[data-metric]").await;
    let wide = "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className.baseVal + e.className)";
    assert_eq!(page.eval(overflow).await, 0, "the instance page is wider than a phone: {}", page.eval(wide).await);
    page.screenshot("instance-phone").await;
    page.go("#/fleet").await;
    page.wait_for_count("table#fleet tr[data-instance-id]", DEMO_INSTANCES).await;
    assert_eq!(page.eval(overflow).await, 0, "the fleet page is wider than a phone");
    page.screenshot("fleet-phone").await;
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

/// The id of the first row matching `rows` that holds a `button` matching `button`.
async fn first_row_with(page: &Page, rows: &str, button: &str, data: &str) -> String {
    let selector = format!("{rows} {button}");
    page.wait_for(&selector).await;
    let id = page
        .eval(&format!(
            "document.querySelector({}).closest('tr').dataset.{data}",
            serde_json::Value::from(selector.as_str())
        ))
        .await;
    id.as_str().unwrap_or_else(|| panic!("no row of `{rows}` has `{button}`")).to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_adds_an_instance_whose_credentials_are_never_shown_again() {
    let server = DemoServer::start().await;
    let browser = Browser::launch("add_instance").await;
    let page = sign_in(&browser, &server).await;
    page.wait_for_count("table#fleet tr[data-instance-id]", DEMO_INSTANCES).await;

    let password = "pw-hq-main";
    page.click("#add-instance").await;
    page.wait_for("dialog#instance-dialog").await;
    page.fill("#instance-name", "hq-main-second-look").await;
    page.fill("#instance-url", &server.simulator.base_url_for("hq-main")).await;
    page.fill("#instance-group", "Acme Dental").await;
    page.fill("#instance-username", "admin").await;
    page.screenshot("dialog").await;
    page.click("#instance-dialog-submit").await;
    let error = page.wait_for_text("#instance-dialog-error").await;
    assert!(error.contains("Password"), "a missing password is named: {error}");
    page.fill("#instance-password", password).await;
    page.click("#instance-dialog-submit").await;

    page.wait_for_none("dialog#instance-dialog").await;
    page.wait_until("location.hash.startsWith('#/instances/ins_')", "the new instance's page").await;
    page.wait_for("#instance[data-instance-id]").await;
    assert!(page.text("#instance h1").await.contains("hq-main-second-look"));
    page.click("#poll-now").await;
    page.wait_until("document.querySelector('#instance .badge[data-value=\"ok\"]')", "the first poll to say OK").await;
    page.screenshot("instance").await;

    let html = page.eval("document.documentElement.outerHTML").await;
    assert!(!html.as_str().unwrap_or_default().contains(password), "the 3CX password is in the page");
    let view = page
        .eval(
            "fetch(`/api/v1/instances/${document.querySelector('#instance').dataset.instanceId}`).then(r => r.text())",
        )
        .await;
    let view = view.as_str().unwrap_or_default();
    assert!(view.contains("\"credentials_set\":true") && !view.contains(password), "{view}");

    page.click("#edit-instance").await;
    page.wait_for("dialog#instance-dialog").await;
    let typed = page.eval("document.querySelector('#instance-password').value").await;
    assert_eq!(typed, "", "the edit form is prefilled with a password");
    page.fill("#instance-name", "hq-main-renamed").await;
    page.click("#instance-dialog-submit").await;
    page.wait_until("document.querySelector('#instance h1').innerText.includes('hq-main-renamed')", "the new name")
        .await;

    page.click("#delete-instance").await;
    page.wait_for("dialog#delete-dialog").await;
    page.click("#delete-dialog-submit").await;
    page.wait_for("#restore-instance").await;
    page.wait_for_none("#poll-now").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_technician_acknowledges_then_resolves_an_alert_with_a_reason() {
    let server = DemoServer::start().await;
    server.poll_once().await;
    let (email, password) = server.add_user(sikurd::domain::Role::Technician, "tech").await;
    let browser = Browser::launch("ack_and_resolve").await;
    let page = submit_sign_in(&browser, &server, &email, &password).await;
    page.wait_for("table#fleet").await;

    page.go("#/alerts?status=all").await;
    let id = first_row_with(&page, "#alerts tr[data-status=\"open\"]", "button[data-action=\"ack\"]", "alertId").await;
    let row = format!("#alerts tr[data-alert-id=\"{id}\"]");
    page.screenshot("alerts").await;
    page.click(&format!("{row} button[data-action=\"ack\"]")).await;
    page.wait_for("dialog#reason-dialog").await;
    page.fill("#reason", "On the phone with the customer").await;
    page.click("#reason-submit").await;
    page.wait_for(&format!("{row}[data-status=\"acknowledged\"]")).await;
    assert!(page.text(&row).await.contains("On the phone with the customer"));

    page.click(&format!("{row} button[data-action=\"resolve\"]")).await;
    page.wait_for("dialog#reason-dialog").await;
    page.click("#reason-submit").await;
    let error = page.wait_for_text("#reason-error").await;
    assert!(error.contains("reason"), "resolving without a reason is refused in the dialog: {error}");
    page.fill("#reason", "Disk cleaned up").await;
    page.click("#reason-submit").await;
    page.wait_for(&format!("{row}[data-status=\"resolved\"]")).await;
    page.screenshot("resolved").await;

    let alert = page.eval(&format!("fetch('/api/v1/alerts/{id}').then(r => r.json())")).await;
    assert_eq!(alert["status"], "resolved", "{alert}");
    assert_eq!(alert["acknowledged"]["by"]["email"], email.as_str(), "{alert}");
    assert_eq!(alert["resolved"]["reason"], "Disk cleaned up", "{alert}");
}

/// Waits for a file named `<prefix>…csv` in `dir` (a finished download) and returns its text.
async fn downloaded(dir: &std::path::Path, prefix: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let done = std::fs::read_dir(dir).expect("the download directory lists").find_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            (name.starts_with(prefix) && name.ends_with(".csv")).then_some(path)
        });
        if let Some(file) = done {
            return std::fs::read_to_string(&file).expect("the downloaded file reads");
        }
        assert!(std::time::Instant::now() < deadline, "no {prefix}*.csv was downloaded to {}", dir.display());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_and_the_month_report_download_as_csv_files() {
    let server = DemoServer::start().await;
    server.poll_once().await;
    let downloads = tempfile::tempdir().expect("a download directory");
    let browser = Browser::launch("csv_download").await;
    browser.download_to(downloads.path()).await;
    let page = sign_in(&browser, &server).await;
    page.wait_for_count("table#fleet tr[data-instance-id]", DEMO_INSTANCES).await;
    page.click("a#export-instances").await;
    let csv = downloaded(downloads.path(), "sikurd-instances-").await;
    let mut lines = csv.lines();
    let header = lines.next().expect("a header line");
    assert!(header.starts_with("id,name,"), "{header}");
    assert_eq!(lines.count(), DEMO_INSTANCES, "one line per instance:\n{csv}");
    assert!(csv.contains("hq-main") && csv.contains("Smith Motors"), "{csv}");

    page.go("#/reports").await;
    page.wait_for_count("#report-instances tr[data-instance-id]", DEMO_INSTANCES).await;
    let groups = page.text("#report-groups").await;
    for group in ["Acme Dental", "Northside Clinic", "Smith Motors"] {
        assert!(groups.contains(group), "{group} is not in the report:\n{groups}");
    }
    page.screenshot("reports").await;
    page.click("a#export-reports").await;
    let month = page.eval("document.querySelector('#report-month').value").await;
    let month = month.as_str().expect("the month shown").to_owned();
    let report = downloaded(downloads.path(), &format!("sikurd-report-{month}-")).await;
    let rows: Vec<&str> = report.lines().collect();
    assert!(rows[0].starts_with("month,scope,group,"), "{}", rows[0]);
    let instance_rows = rows.iter().filter(|r| r.starts_with(&format!("{month},instance,"))).count();
    assert_eq!(instance_rows, DEMO_INSTANCES, "{report}");
    assert!(rows.iter().any(|r| r.starts_with(&format!("{month},group,Smith Motors,"))), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_viewer_sees_no_technician_or_admin_action() {
    let server = DemoServer::start().await;
    server.poll_once().await;
    let (email, password) = server.add_user(sikurd::domain::Role::Viewer, "viewer").await;
    let browser = Browser::launch("viewer").await;
    let page = submit_sign_in(&browser, &server, &email, &password).await;
    page.wait_for_count("table#fleet tr[data-instance-id]", DEMO_INSTANCES).await;

    let hidden = "[data-role]:not([hidden])";
    let check = async |what: &str, ready: &str| {
        page.wait_for(ready).await;
        let shown = page.eval(&format!("[...document.querySelectorAll('{hidden}')].filter(e => e.checkVisibility()).map(e => e.outerHTML.slice(0, 120))")).await;
        assert_eq!(shown, serde_json::json!([]), "a viewer sees actions on {what}");
        page.screenshot(what).await;
    };
    check("fleet", "table#fleet tr[data-instance-id]").await;
    assert_eq!(page.count("#add-instance").await, 1, "the add button exists, hidden");
    page.click("table#fleet tr[data-instance-id] a").await;
    check("instance", "#instance[data-instance-id]").await;
    page.go("#/alerts?status=all").await;
    check("alerts", "#alerts tr[data-alert-id]").await;
    for route in ["users", "channels", "routes", "maintenance", "reports"] {
        page.go(&format!("#/{route}")).await;
        check(route, &format!("#{route}-page table")).await;
    }
    page.go("#/audit").await;
    let audit = page.text("#audit-page").await;
    assert!(audit.contains("Only admins"), "{audit}");
    assert_eq!(page.count("#audit tr[data-audit-id]").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_fleet_is_shown_a_page_at_a_time() {
    let server = DemoServer::start().await;
    server.add_instances(120).await;
    let all = DEMO_INSTANCES + 120;
    let browser = Browser::launch("fleet_pages").await;
    let page = sign_in(&browser, &server).await;

    page.wait_for_count("table#fleet tr[data-instance-id]", 100).await;
    assert_eq!(page.text("#status-counts [data-total]").await, all.to_string(), "the counts cover every page");
    assert_eq!(page.text("#fleet-page").await, format!("1–100 of {all}"));
    page.click("#fleet-next").await;
    page.wait_for_count("table#fleet tr[data-instance-id]", all - 100).await;
    assert_eq!(page.text("#fleet-page").await, format!("101–{all} of {all}"));
    page.screenshot("second-page").await;

    page.fill("#fleet-search", "extra-01").await;
    page.wait_for_count("table#fleet tr[data-instance-id]", 10).await;
    page.wait_for_none("nav.pager").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_confirms_the_deletion_from_the_e_mailed_link_and_can_no_longer_sign_in() {
    let server = DemoServer::start().await;
    let stack = &server.stack;
    let deletion = &stack.deletions;
    let outbox = tempfile::tempdir().unwrap();
    let mailer = sikurd::notify::OutboxMailer::new(
        outbox.path(),
        sikurd::domain::Email::parse("support@sikurd.example").unwrap(),
    );
    let link = format!("{}/#/confirm-deletion/", server.url);
    let tenant = server.tenant().await;
    deletion.request(&tenant, "Ada from support", &mailer, &link).await.unwrap();
    let message = std::fs::read_dir(outbox.path()).unwrap().filter_map(Result::ok).next().unwrap().path();
    let message: serde_json::Value = serde_json::from_slice(&std::fs::read(message).unwrap()).unwrap();
    let url = message["text"].as_str().unwrap().lines().find(|l| l.starts_with(&link)).unwrap().to_owned();

    let browser = Browser::launch("confirm_deletion").await;
    let page = browser.open(&url).await;
    page.wait_for("#confirm-deletion-page").await;
    page.screenshot("confirm").await;
    page.click("#confirm-deletion").await;
    let done = page.wait_for_text("#confirm-deletion-result").await;
    assert!(done.contains("locked"), "{done}");
    page.screenshot("confirmed").await;
    // Carried out at once: the confirmation's event purges the tenant.
    stack.bus.idle().await;
    assert_eq!(stack.store.tenants.get(&tenant).await.unwrap(), None, "the tenant is still stored");
    assert!(deletion.ledger(&tenant).await.unwrap().unwrap().deleted_at.is_some());

    page.goto(&format!("{}/", server.url)).await;
    page.wait_for("form#signin").await;
    page.fill("#signin-email", &server.email).await;
    page.fill("#signin-password", &server.password).await;
    page.click("#signin-submit").await;
    page.wait_for_text("#signin-error").await;
    assert_eq!(page.count("table#fleet").await, 0, "a locked account signed in");
}
