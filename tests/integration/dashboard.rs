//! The browser dashboard as the API's router serves it: the page, its versioned assets, their
//! caching, the security headers, and that it stays out of the OpenAPI document.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use sikurd::api::CONTENT_SECURITY_POLICY;
use sikurd::dashboard;
use sikurd_tests::api::{ApiFixture, Req, Res};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn header<'a>(res: &'a Res, name: &str) -> &'a str {
    res.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("<missing>")
}

/// The `/assets/...` addresses in `text`, as written (with their query).
fn asset_references(text: &str) -> BTreeSet<String> {
    text.match_indices("/assets/")
        .map(|(at, _)| {
            let rest = &text[at..];
            let end = rest.find(['"', '\'', ' ', '>']).unwrap_or(rest.len());
            rest[..end].to_owned()
        })
        .collect()
}

/// The modules a script imports, as addresses under `/assets/`.
fn module_imports(script: &str) -> BTreeSet<String> {
    script
        .lines()
        .filter(|l| l.starts_with("import "))
        .filter_map(|l| l.split("from './").nth(1))
        .filter_map(|rest| rest.split('\'').next())
        .map(|file| format!("/assets/{file}"))
        .collect()
}

fn content_type_for(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        other => panic!("no expected type for {other:?}"),
    }
}

#[tokio::test]
async fn the_page_names_every_asset_with_the_current_version_and_has_no_inline_code_or_style() {
    let api = ApiFixture::new();
    let res = api.send(Req::get("/")).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&res, "cache-control"), "no-cache");
    let html = &res.text;
    let references = asset_references(html);
    assert!(references.len() >= 3, "{references:?}");
    for reference in &references {
        assert!(reference.ends_with(&format!("?v={}", dashboard::version())), "{reference}");
    }
    for part in html.split("<script").skip(1) {
        let tag_end = part.find('>').expect("a closed tag");
        assert!(part[..tag_end].contains("src=\"/assets/"), "a script without src: {part}");
        assert!(part[tag_end + 1..].starts_with("</script>"), "an inline script: {part}");
    }
    assert!(!html.contains("style="), "a style attribute");
    assert!(!html.contains("<style"), "an inline style sheet");
    assert!(!html.contains(" onclick=") && !html.contains(" onload="), "an inline handler");
    assert!(!html.contains("http://") && !html.contains("https://"), "a resource from elsewhere");
}

#[tokio::test]
async fn every_asset_the_page_and_its_modules_name_is_served_with_its_type_and_cached_for_good() {
    let api = ApiFixture::new();
    let html = api.send(Req::get("/")).await.text;
    let mut pending: Vec<String> = asset_references(&html).into_iter().collect();
    let mut seen = BTreeSet::new();
    while let Some(address) = pending.pop() {
        if !seen.insert(address.clone()) {
            continue;
        }
        let res = api.send(Req::get(&address)).await;
        assert_eq!(res.status, StatusCode::OK, "{address}");
        let path = address.split('?').next().unwrap_or_default();
        assert_eq!(header(&res, "content-type"), content_type_for(path), "{address}");
        assert_eq!(header(&res, "cache-control"), IMMUTABLE, "{address}");
        assert!(!res.text.is_empty(), "{address}");
        if path.ends_with(".js") {
            for import in module_imports(&res.text) {
                assert!(import.ends_with(&format!("?v={}", dashboard::version())), "{address} imports {import}");
                pending.push(import);
            }
        }
    }
    let served: BTreeSet<_> = seen
        .iter()
        .map(|a| a.trim_start_matches("/assets/").split('?').next().unwrap_or_default().to_owned())
        .collect();
    let embedded: BTreeSet<_> = dashboard::asset_names().map(str::to_owned).collect();
    assert_eq!(served, embedded, "every embedded asset is reachable from the page, and only those");
}

#[tokio::test]
async fn an_asset_asked_for_without_the_current_version_is_revalidated() {
    let api = ApiFixture::new();
    for address in ["/assets/app.js", "/assets/app.js?v=0000000000000000", "/assets/app.css?v="] {
        let res = api.send(Req::get(address)).await;
        assert_eq!(res.status, StatusCode::OK, "{address}");
        assert_eq!(header(&res, "cache-control"), "no-cache", "{address}");
    }
}

#[tokio::test]
async fn an_unknown_asset_is_a_not_found_in_the_error_shape() {
    let api = ApiFixture::new();
    for address in [
        "/assets/nope.js",
        &format!("/assets/app.js.map?v={}", dashboard::version()),
        "/assets/index.html",
        "/assets/",
        "/assets/pages/fleet.js",
    ] {
        api.send(Req::get(address)).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn the_page_and_its_assets_carry_the_security_headers_with_the_csp_unchanged() {
    let api = ApiFixture::new();
    for address in ["/".to_owned(), format!("/assets/app.js?v={}", dashboard::version()), "/assets/nope.css".to_owned()]
    {
        let res = api.send(Req::get(&address)).await;
        assert_eq!(header(&res, "content-security-policy"), CONTENT_SECURITY_POLICY, "{address}");
        assert!(header(&res, "strict-transport-security").starts_with("max-age="), "{address}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{address}");
        assert_eq!(header(&res, "x-frame-options"), "DENY", "{address}");
        assert_eq!(header(&res, "referrer-policy"), "no-referrer", "{address}");
    }
}

#[tokio::test]
async fn the_dashboard_is_not_part_of_the_openapi_document() {
    let api = ApiFixture::new();
    let doc = api.send(Req::get("/api/v1/openapi.json")).await.json;
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for path in paths.keys() {
        assert!(path.starts_with("/api/") || path == "/healthz", "{path}");
    }
}

#[tokio::test]
async fn the_scripts_neither_parse_markup_nor_set_inline_styles() {
    let api = ApiFixture::new();
    for name in dashboard::asset_names().filter(|n| n.ends_with(".js")) {
        let script = api.send(Req::get(&format!("/assets/{name}"))).await.text;
        for forbidden in
            ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", ".style.", "'style'", "eval("]
        {
            assert!(!script.contains(forbidden), "{name} uses {forbidden}");
        }
    }
}

#[tokio::test]
async fn the_page_and_scripts_hold_the_elements_the_browser_tests_look_for() {
    let api = ApiFixture::new();
    let mut everything = api.send(Req::get("/")).await.text;
    for name in dashboard::asset_names().filter(|n| n.ends_with(".js")) {
        everything.push_str(&api.send(Req::get(&format!("/assets/{name}"))).await.text);
    }
    for needle in [
        "id=\"signout\"",
        "href=\"#/fleet\"",
        "href=\"#/alerts\"",
        "<dialog id=\"reason-dialog\"",
        "<textarea id=\"reason\"",
        "id=\"reason-submit\"",
        "id: 'signin'",
        "field('signin-email'",
        "field('signin-password'",
        "id: 'signin-submit'",
        "id: 'signin-error'",
        "id: 'fleet'",
        "id: 'status-counts'",
        "'data-instance-id'",
        "id: 'instance'",
        "id: 'alerts'",
        "'data-alert-id'",
        "'data-action': 'ack'",
        "'data-action': 'resolve'",
        "id: 'export-instances'",
        "id: 'export-alerts'",
        "'data-role': 'admin'",
        "'data-role': 'technician'",
        "class: 'chart'",
    ] {
        assert!(everything.contains(needle), "{needle}");
    }
}
