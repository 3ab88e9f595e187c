//! Channels, routes, maintenance windows, mutes and rule overrides through the API router, in
//! process: embedded store, manual clock, and a fake notifier where a test notice is sent.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use secrecy::SecretString;
use serde_json::{Value, json};
use sikurd::alerts::Dispatcher;
use sikurd::clock::Clock;
use sikurd::notify::{
    DEFAULT_TOLERANCE, Delivery, NoticeKind, Notifier, SendError, Target, sign, verify_signature, webhook_body,
};
use sikurd_tests::api::{ApiFixture, Req, Res, Session};

const HOOK_TOKEN: &str = "T0001-B0001-hooktoken-do-not-show";
const OTHER_HOOK_TOKEN: &str = "T0002-B0002-second-token-do-not-show";

fn hook_url(token: &str) -> String {
    format!("https://hooks.example.com/services/{token}")
}

fn put(session: &Session, uri: &str) -> Req {
    session.req(Method::PUT, uri)
}

fn id_of(res: &Res) -> String {
    res.json["id"].as_str().unwrap_or_else(|| panic!("no id in {}", res.text)).to_owned()
}

fn items(res: &Res) -> Vec<Value> {
    res.json["items"].as_array().unwrap_or_else(|| panic!("no items in {}", res.text)).clone()
}

/// Listed windows without what the list adds (`active_until`, `next_end`): as created.
fn windows_as_set(res: &Res) -> Vec<Value> {
    items(res)
        .into_iter()
        .map(|mut w| {
            let fields = w.as_object_mut().unwrap_or_else(|| panic!("a window is an object: {}", res.text));
            assert!(fields.remove("active_until").is_some() && fields.remove("next_end").is_some(), "{}", res.text);
            w
        })
        .collect()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[track_caller]
fn assert_invalid(res: &Res, field: &str) {
    res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let message = res.json["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(field), "the message does not name {field}: {message}");
}

/// What the fake notifier was asked to send.
#[derive(Clone, Debug)]
struct Sent {
    kind: NoticeKind,
    /// The e-mail recipients, or the webhook's URL.
    to: String,
    /// A webhook post: the body, its timestamp and its signature, as the real sender makes them.
    signed: Option<(Vec<u8>, i64, String)>,
}

/// A notifier that records each delivery and signs webhook bodies like the real one; a webhook
/// whose URL contains `refuse` answers as a receiver that refuses.
#[derive(Debug, Default)]
struct FakeNotifier {
    sent: Mutex<Vec<Sent>>,
}

impl FakeNotifier {
    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for FakeNotifier {
    async fn send(&self, delivery: &Delivery<'_>) -> Result<(), SendError> {
        let sent = match delivery.target {
            Target::Email(email) => Sent {
                kind: delivery.notice.kind,
                to: email.to().iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
                signed: None,
            },
            Target::Webhook(webhook, secret) => {
                if webhook.url().contains("refuse") {
                    return Err(SendError::Permanent("the receiver answered HTTP 410 Gone".into()));
                }
                let at = delivery.notice.opened_at;
                let body = webhook_body(webhook.format(), delivery.notice, delivery.id, at);
                let signature = sign(secret, at.timestamp(), &body);
                Sent {
                    kind: delivery.notice.kind,
                    to: webhook.url().to_owned(),
                    signed: Some((body, at.timestamp(), signature)),
                }
            }
        };
        self.sent.lock().unwrap().push(sent);
        Ok(())
    }
}

/// An API whose test notices go to a fake notifier.
fn api_with_notifier() -> (ApiFixture, Arc<FakeNotifier>) {
    let api = ApiFixture::new();
    let notifier = Arc::new(FakeNotifier::default());
    let clock: Arc<dyn Clock> = api.stores.tables.clock.clone();
    // The router shares the state: setting the dispatcher here reaches it.
    let _ = api.state.clone().with_dispatcher(Dispatcher::new(api.store().clone(), notifier.clone(), clock));
    (api, notifier)
}

async fn email_channel(api: &ApiFixture, admin: &Session, name: &str) -> String {
    let res = api
        .send(admin.post("/api/v1/channels").json(json!({
            "name": name, "type": "email", "to": ["ops@acme.example"]
        })))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    id_of(&res)
}

/// A webhook channel; its id and signing secret.
async fn webhook_channel(api: &ApiFixture, admin: &Session, url: &str, format: &str) -> (String, String) {
    let res = api
        .send(admin.post("/api/v1/channels").json(json!({
            "name": "Hook", "type": "webhook", "url": url, "format": format
        })))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    (id_of(&res), res.json["signing_secret"].as_str().expect("a signing secret").to_owned())
}

async fn route(api: &ApiFixture, admin: &Session, name: &str, channels: &[&str]) -> String {
    let res = api.send(admin.post("/api/v1/routes").json(json!({ "name": name, "channels": channels }))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text);
    id_of(&res)
}

/// The tenant's audit entries, newest first, as (action, target, result, reason).
async fn audit(api: &ApiFixture, owner: &Session) -> Vec<(String, Option<String>, String, Option<String>)> {
    let res = api.send(owner.get("/api/v1/audit?limit=200")).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text);
    items(&res)
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().map(str::to_owned),
                e["result"].as_str().unwrap().to_owned(),
                e["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

mod channels {
    use super::*;

    #[tokio::test]
    async fn an_email_channel_round_trips_through_create_list_get_patch_and_delete() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let created = api
            .send(owner.post("/api/v1/channels").json(json!({
                "name": " On call ", "type": "email", "to": ["Ops@Acme.example", "ops@acme.example", "noc@acme.example"]
            })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = id_of(&created);
        assert!(id.starts_with("ch_"), "{id}");
        assert_eq!(created.json["name"], "On call");
        assert_eq!(created.json["type"], "email");
        assert_eq!(created.json["to"], json!(["ops@acme.example", "noc@acme.example"]));
        assert!(created.json.get("signing_secret").is_none(), "{}", created.text);

        let list = api.send(owner.get("/api/v1/channels")).await;
        assert_eq!(items(&list).len(), 1);
        assert_eq!(items(&list)[0]["id"], id.as_str());
        let got = api.send(owner.get(&format!("/api/v1/channels/{id}"))).await;
        assert_eq!(got.json, created.json);

        let patched = api
            .send(owner.patch(&format!("/api/v1/channels/{id}")).json(json!({
                "name": "Night shift", "to": ["night@acme.example"]
            })))
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
        assert_eq!(
            (patched.json["name"].clone(), patched.json["to"].clone()),
            (json!("Night shift"), json!(["night@acme.example"]))
        );
        assert_eq!(api.send(owner.get(&format!("/api/v1/channels/{id}"))).await.json, patched.json);

        let deleted = api.send(owner.delete(&format!("/api/v1/channels/{id}"))).await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
        assert_eq!(deleted.json, json!({ "routes_updated": [], "routes_removed": [] }));
        api.send(owner.get(&format!("/api/v1/channels/{id}"))).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(owner.delete(&format!("/api/v1/channels/{id}")))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        assert!(items(&api.send(owner.get("/api/v1/channels")).await).is_empty());
    }

    #[tokio::test]
    async fn a_webhook_signing_secret_is_shown_once_and_its_url_never() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let created = api
            .send(owner.post("/api/v1/channels").json(json!({
                "name": "Slack", "type": "webhook", "url": hook_url(HOOK_TOKEN), "format": "slack"
            })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = id_of(&created);
        let secret = created.json["signing_secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 43, "{secret}");
        assert_eq!(created.json["origin"], "https://hooks.example.com");
        assert_eq!(created.json["format"], "slack");
        assert!(!created.text.contains(HOOK_TOKEN), "{}", created.text);
        assert!(created.json.get("url").is_none() && created.json.get("sealed").is_none(), "{}", created.text);

        let mut seen = vec![
            api.send(owner.get("/api/v1/channels")).await,
            api.send(owner.get(&format!("/api/v1/channels/{id}"))).await,
            api.send(owner.patch(&format!("/api/v1/channels/{id}")).json(json!({ "name": "Slack #ops" }))).await,
            api.send(owner.patch(&format!("/api/v1/channels/{id}")).json(json!({ "format": "teams" }))).await,
        ];
        let rotated =
            api.send(owner.patch(&format!("/api/v1/channels/{id}")).json(json!({ "rotate_secret": true }))).await;
        assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
        let new_secret = rotated.json["signing_secret"].as_str().unwrap().to_owned();
        assert!(new_secret.starts_with("whsec_") && new_secret != secret);
        assert!(!rotated.text.contains(HOOK_TOKEN), "{}", rotated.text);
        let moved = api
            .send(owner.patch(&format!("/api/v1/channels/{id}")).json(json!({ "url": hook_url(OTHER_HOOK_TOKEN) })))
            .await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
        assert_eq!(moved.json["format"], "teams", "the format is kept");
        seen.push(moved);
        seen.push(api.send(owner.get("/api/v1/channels")).await);
        seen.push(api.send(owner.get(&format!("/api/v1/channels/{id}"))).await);
        seen.push(api.send(owner.get("/api/v1/audit")).await);
        seen.push(api.send(owner.delete(&format!("/api/v1/channels/{id}"))).await);
        seen.push(api.send(owner.get("/api/v1/audit")).await);
        for res in &seen {
            assert!(res.status.is_success(), "{}", res.text);
            for hidden in [secret.as_str(), new_secret.as_str(), HOOK_TOKEN, OTHER_HOOK_TOKEN, "/services/"] {
                assert!(!res.text.contains(hidden), "{hidden} shown in {}", res.text);
            }
        }
        assert!(seen[0].text.contains("https://hooks.example.com"), "the origin is shown: {}", seen[0].text);
    }

    #[tokio::test]
    async fn channel_input_errors_are_422_naming_the_field_and_never_echo_the_url() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let create = |body: Value| api.send(owner.post("/api/v1/channels").json(body));
        assert_invalid(&create(json!({ "name": "E", "type": "email", "to": ["not-an-address"] })).await, "to");
        assert_invalid(&create(json!({ "name": "E", "type": "email", "to": [] })).await, "to");
        assert_invalid(&create(json!({ "name": "  ", "type": "email", "to": ["a@b.example"] })).await, "name");
        assert_invalid(
            &create(json!({ "name": "x".repeat(101), "type": "email", "to": ["a@b.example"] })).await,
            "name",
        );
        assert_invalid(&create(json!({ "type": "email", "to": ["a@b.example"] })).await, "name");
        assert_invalid(&create(json!({ "name": "E", "type": "email", "to": ["a@b.example"], "cc": [] })).await, "cc");
        assert_invalid(&create(json!({ "name": "E", "type": "pager", "to": ["a@b.example"] })).await, "pager");
        for url in [
            format!("http://hooks.example.com/{HOOK_TOKEN}"),
            format!("https://10.0.0.7/{HOOK_TOKEN}"),
            format!("https://localhost/{HOOK_TOKEN}"),
            format!("https://user:{HOOK_TOKEN}@hooks.example.com/x"),
            format!("hooks.example.com/{HOOK_TOKEN}"),
        ] {
            let res = create(json!({ "name": "H", "type": "webhook", "url": url, "format": "generic" })).await;
            assert_invalid(&res, "url");
            assert!(!res.text.contains(HOOK_TOKEN), "{}", res.text);
        }
        assert_invalid(
            &create(json!({ "name": "H", "type": "webhook", "url": hook_url("x"), "format": "irc" })).await,
            "irc",
        );

        let email = email_channel(&api, &owner, "Mail").await;
        let patch = |id: &str, body: Value| api.send(owner.patch(&format!("/api/v1/channels/{id}")).json(body));
        assert_invalid(&patch(&email, json!({ "rotate_secret": true })).await, "rotate_secret");
        assert_invalid(&patch(&email, json!({ "url": hook_url("x") })).await, "url");
        assert_invalid(&patch(&email, json!({ "to": ["nope"] })).await, "to");
        assert_invalid(&patch(&email, json!({ "colour": "red" })).await, "colour");
        let (hook, _) = webhook_channel(&api, &owner, &hook_url(HOOK_TOKEN), "generic").await;
        assert_invalid(&patch(&hook, json!({ "to": ["a@b.example"] })).await, "to");
        let res = patch(&hook, json!({ "url": format!("http://hooks.example.com/{OTHER_HOOK_TOKEN}") })).await;
        assert_invalid(&res, "url");
        assert!(!res.text.contains(OTHER_HOOK_TOKEN), "{}", res.text);

        for bad in ["nope", "ch_", "ins_01ARZ3NDEKTSV4RRFFQ69G5FAV", "ch_01ARZ3NDEKTSV4RRFFQ69G5FAV"] {
            api.send(owner.get(&format!("/api/v1/channels/{bad}")))
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
            patch(bad, json!({ "name": "x" })).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        }
    }

    #[tokio::test]
    async fn send_test_delivers_a_signed_test_notice_and_a_refusing_channel_says_why() {
        let (api, notifier) = api_with_notifier();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let (hook, secret) = webhook_channel(&api, &owner, &hook_url(HOOK_TOKEN), "generic").await;
        let res = api.send(owner.post(&format!("/api/v1/channels/{hook}/test"))).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
        let sent = notifier.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].kind, sent[0].to.as_str()), (NoticeKind::Test, hook_url(HOOK_TOKEN).as_str()));
        let (body, timestamp, signature) = sent[0].signed.clone().unwrap();
        let secret = SecretString::from(secret);
        verify_signature(&secret, &timestamp.to_string(), &signature, &body, api.clock().now(), DEFAULT_TOLERANCE)
            .expect("signed with the secret the channel was created with");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["type"], "alert.test");

        let email = email_channel(&api, &owner, "Mail").await;
        let res = api.send(owner.post(&format!("/api/v1/channels/{email}/test"))).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text);
        assert_eq!(
            notifier.sent().last().map(|s| (s.kind, s.to.clone())),
            Some((NoticeKind::Test, "ops@acme.example".into()))
        );

        let refuse_token = format!("refuse-{HOOK_TOKEN}");
        let (refusing, _) = webhook_channel(&api, &owner, &hook_url(&refuse_token), "slack").await;
        let res = api.send(owner.post(&format!("/api/v1/channels/{refusing}/test"))).await;
        res.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "channel_test_failed");
        assert!(res.text.contains("410 Gone"), "{}", res.text);
        assert!(!res.text.contains(&refuse_token), "{}", res.text);
        assert_eq!(notifier.sent().len(), 2);

        let entries = audit(&api, &owner).await;
        let tests: Vec<_> = entries.iter().filter(|e| e.0 == "channel.test").collect();
        assert_eq!(
            tests.iter().map(|e| (e.1.clone(), e.2.as_str(), e.3.clone())).collect::<Vec<_>>(),
            vec![
                (Some(refusing), "failed", Some("channel_test_failed".to_owned())),
                (Some(email), "succeeded", None),
                (Some(hook), "succeeded", None),
            ]
        );
    }

    #[tokio::test]
    async fn send_test_where_nothing_can_send_is_unavailable() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let email = email_channel(&api, &owner, "Mail").await;
        let res = api.send(owner.post(&format!("/api/v1/channels/{email}/test"))).await;
        res.assert_error(StatusCode::SERVICE_UNAVAILABLE, "notifications_unavailable");
        api.send(owner.post("/api/v1/channels/ch_01ARZ3NDEKTSV4RRFFQ69G5FAV/test"))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }

    #[tokio::test]
    async fn deleting_a_channel_takes_it_out_of_its_routes_and_drops_routes_left_without_one() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let doomed = email_channel(&api, &owner, "Doomed").await;
        let kept = email_channel(&api, &owner, "Kept").await;
        let shared = route(&api, &owner, "Shared", &[&doomed, &kept]).await;
        let escalating = api
            .send(owner.post("/api/v1/routes").json(json!({
                "name": "Escalating", "channels": [kept], "escalate_after_minutes": 30, "escalate_to": [doomed]
            })))
            .await;
        let escalating = id_of(&escalating);
        let only = route(&api, &owner, "Only", &[&doomed]).await;

        let res = api.send(owner.delete(&format!("/api/v1/channels/{doomed}"))).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        assert_eq!(res.json, json!({ "routes_updated": [shared, escalating], "routes_removed": [only] }));
        let routes = items(&api.send(owner.get("/api/v1/routes")).await);
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0]["channels"], json!([kept]));
        assert_eq!(routes[1]["escalate_to"], json!([]));
        assert!(routes[1].get("escalate_after_minutes").is_none(), "{}", routes[1]);
    }
}

mod routes {
    use super::*;

    #[tokio::test]
    async fn a_route_round_trips_through_create_list_replace_and_delete() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let mail = email_channel(&api, &owner, "Mail").await;
        let (hook, _) = webhook_channel(&api, &owner, &hook_url(HOOK_TOKEN), "teams").await;
        let created = api
            .send(owner.post("/api/v1/routes").json(json!({
                "name": "Critical trunks", "kinds": ["trunk_down"], "min_severity": "critical",
                "channels": [mail], "remind_every_minutes": 60,
                "escalate_after_minutes": 15, "escalate_to": [hook]
            })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = id_of(&created);
        assert!(id.starts_with("rt_"), "{id}");
        assert_eq!(created.json["notify_resolved"], true);
        assert_eq!(created.json["escalate_to"], json!([hook]));
        assert_eq!(items(&api.send(owner.get("/api/v1/routes")).await), vec![created.json.clone()]);

        let replaced = api
            .send(put(&owner, &format!("/api/v1/routes/{id}")).json(json!({
                "name": "Everything", "channels": [hook, mail], "notify_resolved": false
            })))
            .await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
        assert_eq!(replaced.json["id"], id.as_str());
        assert_eq!(replaced.json["min_severity"], "info");
        assert_eq!(replaced.json["kinds"], json!([]));
        assert_eq!(replaced.json["escalate_to"], json!([]));
        assert_eq!(items(&api.send(owner.get("/api/v1/routes")).await), vec![replaced.json.clone()]);

        let deleted = api.send(owner.delete(&format!("/api/v1/routes/{id}"))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        assert!(items(&api.send(owner.get("/api/v1/routes")).await).is_empty());
        api.send(owner.delete(&format!("/api/v1/routes/{id}"))).await.assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(put(&owner, &format!("/api/v1/routes/{id}")).json(json!({ "name": "x", "channels": [mail] })))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        api.send(owner.delete("/api/v1/routes/not-a-route")).await.assert_error(StatusCode::NOT_FOUND, "not_found");
    }

    #[tokio::test]
    async fn a_route_naming_a_channel_of_another_tenant_or_none_is_422() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let other = api.sign_up("Other", "owner@other.example").await;
        let mine = email_channel(&api, &owner, "Mine").await;
        let foreign = email_channel(&api, &other, "Theirs").await;
        let create = |body: Value| api.send(owner.post("/api/v1/routes").json(body));

        assert_invalid(&create(json!({ "name": "R", "channels": [foreign] })).await, "channels");
        assert_invalid(
            &create(json!({ "name": "R", "channels": ["ch_01ARZ3NDEKTSV4RRFFQ69G5FAV"] })).await,
            "channels",
        );
        assert_invalid(
            &create(json!({ "name": "R", "channels": [mine], "escalate_after_minutes": 10, "escalate_to": [foreign] }))
                .await,
            "escalate_to",
        );
        assert_invalid(&create(json!({ "name": "R", "channels": [] })).await, "channels");
        assert_invalid(&create(json!({ "name": "R", "channels": [mine, mine] })).await, "channels");
        assert_invalid(&create(json!({ "name": "R", "channels": ["not-a-channel"] })).await, "channels");
        assert_invalid(&create(json!({ "name": " ", "channels": [mine] })).await, "name");
        assert_invalid(&create(json!({ "name": "R", "channels": [mine], "kinds": ["fire"] })).await, "kinds");
        assert_invalid(&create(json!({ "name": "R", "channels": [mine], "remind_every_minutes": 1 })).await, "remind");
        assert_invalid(
            &create(json!({ "name": "R", "channels": [mine], "escalate_after_minutes": 10 })).await,
            "escalate_to",
        );
        assert_invalid(&create(json!({ "name": "R", "channels": [mine], "priority": 1 })).await, "priority");
        assert!(items(&api.send(owner.get("/api/v1/routes")).await).is_empty(), "nothing was written");

        let id = route(&api, &owner, "R", &[&mine]).await;
        let res = api
            .send(put(&owner, &format!("/api/v1/routes/{id}")).json(json!({ "name": "R", "channels": [foreign] })))
            .await;
        assert_invalid(&res, "channels");
        assert!(items(&api.send(other.get("/api/v1/routes")).await).is_empty());
    }
}

mod windows {
    use super::*;

    #[tokio::test]
    async fn a_technician_creates_replaces_and_deletes_maintenance_windows() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let instance = api.add_instance(&owner, "PBX", Some("Acme")).await;
        let now = api.clock().now();
        let created = api
            .send(tech.post("/api/v1/maintenance-windows").json(json!({
                "scope": { "instance": instance },
                "reason": "firmware upgrade",
                "schedule": { "type": "once", "starts_at": rfc3339(now + Duration::hours(1)), "ends_at": rfc3339(now + Duration::hours(3)) }
            })))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = id_of(&created);
        assert!(id.starts_with("mw_"), "{id}");
        assert_eq!(created.json["scope"], json!({ "instance": instance }));
        assert_eq!(created.json["created_by"], "tech@acme.example");
        let weekly = api
            .send(tech.post("/api/v1/maintenance-windows").json(json!({
                "scope": { "group": "Acme" },
                "schedule": { "type": "weekly", "days": ["sat", "sun"], "start": "22:00", "duration_minutes": 240, "utc_offset_minutes": 60 }
            })))
            .await;
        assert_eq!(weekly.status, StatusCode::CREATED, "{}", weekly.text);
        assert_eq!(weekly.json["schedule"]["days"], json!(["sat", "sun"]));
        let listed = api.send(tech.get("/api/v1/maintenance-windows")).await;
        assert_eq!(windows_as_set(&listed), vec![created.json.clone(), weekly.json.clone()]);
        let upcoming = &items(&listed)[0];
        assert_eq!(upcoming["active_until"], Value::Null, "not in effect before it starts: {upcoming}");
        assert_eq!(upcoming["next_end"], rfc3339(now + Duration::hours(3)), "{upcoming}");

        let replaced = api
            .send(put(&owner, &format!("/api/v1/maintenance-windows/{id}")).json(json!({
                "scope": "tenant",
                "schedule": { "type": "once", "starts_at": rfc3339(now), "ends_at": rfc3339(now + Duration::hours(2)) }
            })))
            .await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
        assert_eq!(replaced.json["scope"], "tenant");
        assert!(replaced.json.get("reason").is_none(), "{}", replaced.text);
        assert_eq!(replaced.json["created_by"], "tech@acme.example", "the author is kept");

        let deleted = api.send(tech.delete(&format!("/api/v1/maintenance-windows/{id}"))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        assert_eq!(windows_as_set(&api.send(tech.get("/api/v1/maintenance-windows")).await), vec![weekly.json.clone()]);
        api.send(tech.delete(&format!("/api/v1/maintenance-windows/{id}")))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }

    #[tokio::test]
    async fn window_input_errors_are_422_naming_the_field() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let other = api.sign_up("Other", "owner@other.example").await;
        let foreign = api.add_instance(&other, "Theirs", None).await;
        let now = api.clock().now();
        let once = |from: Duration, to: Duration| json!({ "type": "once", "starts_at": rfc3339(now + from), "ends_at": rfc3339(now + to) });
        let create = |body: Value| api.send(owner.post("/api/v1/maintenance-windows").json(body));
        assert_invalid(
            &create(json!({ "scope": "tenant", "schedule": once(Duration::hours(2), Duration::hours(1)) })).await,
            "schedule",
        );
        assert_invalid(
            &create(json!({ "scope": "tenant", "schedule": once(-Duration::hours(2), -Duration::hours(1)) })).await,
            "ends_at",
        );
        assert_invalid(
            &create(
                json!({ "scope": { "instance": foreign }, "schedule": once(Duration::zero(), Duration::hours(1)) }),
            )
            .await,
            "scope",
        );
        assert_invalid(
            &create(
                json!({ "scope": { "instance": "ins_nope" }, "schedule": once(Duration::zero(), Duration::hours(1)) }),
            )
            .await,
            "instance id",
        );
        assert_invalid(
            &create(json!({ "scope": { "group": " " }, "schedule": once(Duration::zero(), Duration::hours(1)) })).await,
            "group",
        );
        assert_invalid(&create(json!({ "scope": "tenant", "reason": "x".repeat(201), "schedule": once(Duration::zero(), Duration::hours(1)) })).await, "reason");
        let weekly = |days: Value, start: &str, minutes: u32| json!({ "scope": "tenant", "schedule": { "type": "weekly", "days": days, "start": start, "duration_minutes": minutes } });
        assert_invalid(&create(weekly(json!([]), "22:00", 60)).await, "days");
        assert_invalid(&create(weekly(json!(["mon", "mon"]), "22:00", 60)).await, "days");
        assert_invalid(&create(weekly(json!(["funday"]), "22:00", 60)).await, "funday");
        assert_invalid(&create(weekly(json!(["mon"]), "25:00", 60)).await, "HH:MM");
        assert_invalid(&create(weekly(json!(["mon"]), "22:00", 0)).await, "duration");
        assert_invalid(&create(json!({ "scope": "tenant", "schedule": { "type": "once", "starts_at": rfc3339(now), "ends_at": rfc3339(now + Duration::hours(1)), "every": 2 } })).await, "every");
        assert_invalid(
            &create(
                json!({ "scope": "tenant", "when": "now", "schedule": once(Duration::zero(), Duration::hours(1)) }),
            )
            .await,
            "when",
        );
        assert!(items(&api.send(owner.get("/api/v1/maintenance-windows")).await).is_empty(), "nothing was written");
    }

    #[tokio::test]
    async fn one_off_windows_that_have_ended_are_removed_when_a_window_is_added() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let instance = api.add_instance(&owner, "PBX", None).await;
        let now = api.clock().now();
        let first = api
            .send(owner.post("/api/v1/maintenance-windows").json(json!({
                "scope": "tenant",
                "schedule": { "type": "once", "starts_at": rfc3339(now), "ends_at": rfc3339(now + Duration::minutes(30)) }
            })))
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        // Less than the session's idle limit.
        api.clock().advance(Duration::minutes(40));
        let second =
            api.send(owner.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 1 }))).await;
        assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
        let listed = api.send(owner.get("/api/v1/maintenance-windows")).await;
        assert_eq!(windows_as_set(&listed), vec![second.json]);
        assert_eq!(
            items(&listed)[0]["active_until"],
            items(&listed)[0]["schedule"]["ends_at"],
            "a mute is in effect at once"
        );
    }

    #[tokio::test]
    async fn muting_an_instance_makes_a_window_for_it_and_another_tenants_instance_is_not_found() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let instance = api.add_instance(&owner, "PBX", None).await;
        let other = api.sign_up("Other", "owner@other.example").await;
        let foreign = api.add_instance(&other, "Theirs", None).await;
        let now = api.clock().now();

        let muted = api
            .send(
                tech.post(&format!("/api/v1/instances/{instance}/mute"))
                    .json(json!({ "hours": 4, "reason": "moving racks" })),
            )
            .await;
        assert_eq!(muted.status, StatusCode::CREATED, "{}", muted.text);
        assert_eq!(muted.json["scope"], json!({ "instance": instance }));
        assert_eq!(muted.json["reason"], "moving racks");
        assert_eq!(muted.json["created_by"], "tech@acme.example");
        assert_eq!(
            muted.json["schedule"],
            json!({ "type": "once", "starts_at": now, "ends_at": now + Duration::hours(4) })
        );
        let plain =
            api.send(owner.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 1 }))).await;
        assert_eq!(plain.json["reason"], "muted", "{}", plain.text);
        assert_eq!(items(&api.send(viewer.get("/api/v1/maintenance-windows")).await).len(), 2);

        assert_invalid(
            &api.send(tech.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 0 }))).await,
            "hours",
        );
        assert_invalid(
            &api.send(tech.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 169 }))).await,
            "hours",
        );
        assert_invalid(
            &api.send(tech.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": -1 }))).await,
            "hours",
        );
        assert_invalid(
            &api.send(
                tech.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 1, "until": "x" })),
            )
            .await,
            "until",
        );
        for uri in [format!("/api/v1/instances/{foreign}/mute"), "/api/v1/instances/nope/mute".to_owned()] {
            api.send(tech.post(&uri).json(json!({ "hours": 1 })))
                .await
                .assert_error(StatusCode::NOT_FOUND, "not_found");
        }
        api.send(viewer.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 1 })))
            .await
            .assert_error(StatusCode::FORBIDDEN, "forbidden");
        assert!(items(&api.send(other.get("/api/v1/maintenance-windows")).await).is_empty());
    }
}

mod overrides {
    use super::*;

    #[tokio::test]
    async fn rule_overrides_round_trip_through_create_list_replace_and_delete() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let instance = api.add_instance(&owner, "PBX", Some("Acme")).await;
        let tenant = api
            .send(owner.post("/api/v1/rule-overrides").json(json!({
                "scope": "tenant", "thresholds": { "disk_open_percent": 95, "disk_recover_percent": 90 }
            })))
            .await;
        assert_eq!(tenant.status, StatusCode::CREATED, "{}", tenant.text);
        let id = id_of(&tenant);
        assert!(id.starts_with("ov_"), "{id}");
        assert_eq!(tenant.json["thresholds"], json!({ "disk_open_percent": 95, "disk_recover_percent": 90 }));
        let group = api
            .send(owner.post("/api/v1/rule-overrides").json(json!({
                "scope": { "group": "Acme" }, "enabled": { "backup_stale": false }
            })))
            .await;
        assert_eq!(group.status, StatusCode::CREATED, "{}", group.text);
        assert_eq!(group.json["enabled"], json!({ "backup_stale": false }));
        let single = api
            .send(owner.post("/api/v1/rule-overrides").json(json!({
                "scope": { "instance": instance }, "thresholds": { "unreachable_polls": 5, "expiry_days": [60, 14, 3] }
            })))
            .await;
        assert_eq!(single.status, StatusCode::CREATED, "{}", single.text);
        let listed = items(&api.send(owner.get("/api/v1/rule-overrides")).await);
        assert_eq!(listed, vec![tenant.json.clone(), group.json.clone(), single.json.clone()]);

        let replaced = api
            .send(put(&owner, &format!("/api/v1/rule-overrides/{id}")).json(json!({
                "scope": "tenant", "enabled": { "no_data": false }
            })))
            .await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
        assert_eq!(replaced.json["thresholds"], json!({}));
        assert_eq!(replaced.json["enabled"], json!({ "no_data": false }));

        let deleted = api.send(owner.delete(&format!("/api/v1/rule-overrides/{id}"))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        assert_eq!(items(&api.send(owner.get("/api/v1/rule-overrides")).await), vec![group.json, single.json]);
        api.send(owner.delete(&format!("/api/v1/rule-overrides/{id}")))
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
    }

    #[tokio::test]
    async fn override_input_errors_are_422_naming_the_field() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let other = api.sign_up("Other", "owner@other.example").await;
        let foreign = api.add_instance(&other, "Theirs", None).await;
        let create = |body: Value| api.send(owner.post("/api/v1/rule-overrides").json(body));
        assert_invalid(
            &create(json!({ "scope": "tenant", "thresholds": { "unreachable_polls": 0 } })).await,
            "unreachable polls",
        );
        assert_invalid(
            &create(
                json!({ "scope": "tenant", "thresholds": { "disk_open_percent": 80, "disk_recover_percent": 85 } }),
            )
            .await,
            "disk",
        );
        assert_invalid(
            &create(json!({ "scope": "tenant", "thresholds": { "expiry_days": [1, 7, 30] } })).await,
            "expiry days",
        );
        assert_invalid(
            &create(json!({ "scope": "tenant", "thresholds": { "unreachable_pols": 3 } })).await,
            "unreachable_pols",
        );
        assert_invalid(&create(json!({ "scope": "tenant", "enabled": { "fire": false } })).await, "fire");
        assert_invalid(&create(json!({ "scope": { "instance": foreign } })).await, "scope");
        assert_invalid(&create(json!({ "scope": "galaxy" })).await, "galaxy");
        assert_invalid(&create(json!({ "scope": "tenant", "severity": "high" })).await, "severity");
        assert!(items(&api.send(owner.get("/api/v1/rule-overrides")).await).is_empty(), "nothing was written");

        let first = create(json!({ "scope": { "group": "Acme" } })).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert_invalid(&create(json!({ "scope": { "group": "ACME" } })).await, "already has one");
        let tenant =
            create(json!({ "scope": "tenant", "thresholds": { "disk_open_percent": 95, "disk_recover_percent": 90 } }))
                .await;
        let group = api
            .send(put(&owner, &format!("/api/v1/rule-overrides/{}", id_of(&first))).json(json!({
                "scope": { "group": "Acme" }, "thresholds": { "disk_recover_percent": 92 }
            })))
            .await;
        assert_eq!(group.status, StatusCode::OK, "{}", group.text);
        let res = api.send(owner.delete(&format!("/api/v1/rule-overrides/{}", id_of(&tenant)))).await;
        assert_invalid(&res, "disk");
    }

    #[tokio::test]
    async fn the_rules_list_every_kind_and_the_default_thresholds_to_everyone() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let res = api.send(viewer.get("/api/v1/rules")).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text);
        let kinds = res.json["kinds"].as_array().unwrap();
        assert_eq!(kinds.len(), 11);
        assert!(kinds.contains(&json!("trunk_down")) && kinds.contains(&json!("no_data")));
        assert_eq!(
            res.json["defaults"],
            json!({
                "unreachable_polls": 2, "trunk_down_polls": 2, "backup_stale_days": 7,
                "disk_open_percent": 90, "disk_recover_percent": 85, "expiry_days": [30, 7, 1],
                "calls_warning_percent": 80, "calls_critical_percent": 95, "calls_recover_percent": 70
            })
        );
    }
}

mod roles_and_audit {
    use super::*;

    #[tokio::test]
    async fn viewers_read_and_technicians_mute_and_manage_windows_but_neither_changes_channels_routes_or_overrides() {
        let api = ApiFixture::new();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let admin = api.add_user(&owner, "admin", "admin@acme.example").await;
        let tech = api.add_user(&owner, "technician", "tech@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let instance = api.add_instance(&owner, "PBX", None).await;
        let channel = email_channel(&api, &admin, "Mail").await;
        let route_id = route(&api, &admin, "R", &[&channel]).await;
        let o = api.send(admin.post("/api/v1/rule-overrides").json(json!({ "scope": "tenant" }))).await;
        let override_id = id_of(&o);
        let now = api.clock().now();
        let window = json!({ "scope": "tenant", "schedule": { "type": "once", "starts_at": rfc3339(now), "ends_at": rfc3339(now + Duration::hours(1)) } });

        for who in [&viewer, &tech, &admin] {
            for uri in [
                "/api/v1/channels".to_owned(),
                format!("/api/v1/channels/{channel}"),
                "/api/v1/routes".to_owned(),
                "/api/v1/maintenance-windows".to_owned(),
                "/api/v1/rule-overrides".to_owned(),
                "/api/v1/rules".to_owned(),
            ] {
                let res = api.send(who.get(&uri)).await;
                assert_eq!(res.status, StatusCode::OK, "GET {uri}: {}", res.text);
            }
        }
        for who in [&viewer, &tech] {
            let refused = [
                who.post("/api/v1/channels").json(json!({ "name": "x", "type": "email", "to": ["a@b.example"] })),
                who.patch(&format!("/api/v1/channels/{channel}")).json(json!({ "name": "x" })),
                who.delete(&format!("/api/v1/channels/{channel}")),
                who.post(&format!("/api/v1/channels/{channel}/test")),
                who.post("/api/v1/routes").json(json!({ "name": "x", "channels": [channel] })),
                put(who, &format!("/api/v1/routes/{route_id}")).json(json!({ "name": "x", "channels": [channel] })),
                who.delete(&format!("/api/v1/routes/{route_id}")),
                who.post("/api/v1/rule-overrides").json(json!({ "scope": { "group": "G" } })),
                put(who, &format!("/api/v1/rule-overrides/{override_id}")).json(json!({ "scope": "tenant" })),
                who.delete(&format!("/api/v1/rule-overrides/{override_id}")),
            ];
            for req in refused {
                api.send(req).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
            }
        }
        for req in [
            viewer.post("/api/v1/maintenance-windows").json(window.clone()),
            viewer.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 1 })),
        ] {
            api.send(req).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        let created = api.send(tech.post("/api/v1/maintenance-windows").json(window.clone())).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let window_id = id_of(&created);
        for req in [
            put(&viewer, &format!("/api/v1/maintenance-windows/{window_id}")).json(window.clone()),
            viewer.delete(&format!("/api/v1/maintenance-windows/{window_id}")),
        ] {
            api.send(req).await.assert_error(StatusCode::FORBIDDEN, "forbidden");
        }
        let replaced = api.send(put(&tech, &format!("/api/v1/maintenance-windows/{window_id}")).json(window)).await;
        assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text);
        let muted =
            api.send(tech.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 2 }))).await;
        assert_eq!(muted.status, StatusCode::CREATED, "{}", muted.text);
        let deleted = api.send(tech.delete(&format!("/api/v1/maintenance-windows/{window_id}"))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
        assert_eq!(items(&api.send(owner.get("/api/v1/channels")).await).len(), 1, "channels untouched");
        assert_eq!(items(&api.send(owner.get("/api/v1/routes")).await).len(), 1, "routes untouched");
        assert_eq!(items(&api.send(owner.get("/api/v1/rule-overrides")).await).len(), 1, "overrides untouched");
    }

    #[tokio::test]
    async fn every_write_leaves_one_audit_entry_with_its_target_refused_ones_too() {
        let (api, _) = api_with_notifier();
        let owner = api.sign_up("Acme", "owner@acme.example").await;
        let viewer = api.add_user(&owner, "viewer", "viewer@acme.example").await;
        let instance = api.add_instance(&owner, "PBX", None).await;
        let before = audit(&api, &owner).await.len();
        let now = api.clock().now();
        let window = json!({ "scope": "tenant", "schedule": { "type": "once", "starts_at": rfc3339(now), "ends_at": rfc3339(now + Duration::hours(1)) } });

        let channel = email_channel(&api, &owner, "Mail").await;
        api.send(owner.patch(&format!("/api/v1/channels/{channel}")).json(json!({ "name": "Mail 2" }))).await;
        api.send(owner.post(&format!("/api/v1/channels/{channel}/test"))).await;
        let route_id = route(&api, &owner, "R", &[&channel]).await;
        api.send(
            put(&owner, &format!("/api/v1/routes/{route_id}")).json(json!({ "name": "R2", "channels": [channel] })),
        )
        .await;
        api.send(owner.delete(&format!("/api/v1/routes/{route_id}"))).await;
        let window_id = id_of(&api.send(owner.post("/api/v1/maintenance-windows").json(window.clone())).await);
        api.send(put(&owner, &format!("/api/v1/maintenance-windows/{window_id}")).json(window.clone())).await;
        api.send(owner.delete(&format!("/api/v1/maintenance-windows/{window_id}"))).await;
        api.send(owner.post(&format!("/api/v1/instances/{instance}/mute")).json(json!({ "hours": 1 }))).await;
        let override_id =
            id_of(&api.send(owner.post("/api/v1/rule-overrides").json(json!({ "scope": "tenant" }))).await);
        api.send(put(&owner, &format!("/api/v1/rule-overrides/{override_id}")).json(json!({ "scope": "tenant" })))
            .await;
        api.send(owner.delete(&format!("/api/v1/rule-overrides/{override_id}"))).await;
        api.send(owner.delete(&format!("/api/v1/channels/{channel}"))).await;
        // Refused: a role, an invalid body, an unknown object.
        api.send(viewer.post("/api/v1/routes").json(json!({ "name": "x", "channels": [channel] }))).await;
        api.send(
            owner
                .post("/api/v1/rule-overrides")
                .json(json!({ "scope": "tenant", "thresholds": { "unreachable_polls": 0 } })),
        )
        .await;
        api.send(owner.delete(&format!("/api/v1/channels/{channel}"))).await;

        let mut entries = audit(&api, &owner).await;
        entries.truncate(entries.len() - before);
        entries.reverse();
        let ok =
            |action: &str, target: &str| (action.to_owned(), Some(target.to_owned()), "succeeded".to_owned(), None);
        let failed = |action: &str, target: Option<&str>, reason: &str| {
            (action.to_owned(), target.map(str::to_owned), "failed".to_owned(), Some(reason.to_owned()))
        };
        assert_eq!(
            entries,
            vec![
                ok("channel.create", &channel),
                ok("channel.update", &channel),
                ok("channel.test", &channel),
                ok("route.create", &route_id),
                ok("route.update", &route_id),
                ok("route.delete", &route_id),
                ok("maintenance.create", &window_id),
                ok("maintenance.update", &window_id),
                ok("maintenance.delete", &window_id),
                ok("instance.mute", &instance),
                ok("rule_override.create", &override_id),
                ok("rule_override.update", &override_id),
                ok("rule_override.delete", &override_id),
                ok("channel.delete", &channel),
                failed("route.create", None, "forbidden"),
                failed("rule_override.create", None, "invalid_input"),
                failed("channel.delete", Some(&channel), "not_found"),
            ]
        );
    }
}
