use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::channel::WebhookFormat;
use super::notice::{Notice, NoticeKind};
use super::truncate;
use crate::domain::DeliveryId;

/// The body posted to a webhook of `format`, as sent and signed.
pub fn webhook_body(format: WebhookFormat, notice: &Notice, delivery: &DeliveryId, sent_at: DateTime<Utc>) -> Vec<u8> {
    let body = match format {
        WebhookFormat::Generic => generic_body(notice, delivery, sent_at),
        WebhookFormat::Slack => slack_body(notice),
        WebhookFormat::Teams => teams_body(notice),
    };
    body.to_string().into_bytes()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Sikurd's own webhook body, version 1. Fields may be added; none is renamed or removed.
/// Times are RFC 3339 in UTC (`2026-11-29T09:49:00Z`).
///
/// ```json
/// {
///   "type": "alert.opened",           // alert.opened | alert.reminder | alert.escalated
///                                     // | alert.resolved | alert.test
///   "delivery_id": "dlv_…",           // as X-Sikurd-Delivery; the same on every retry
///   "sent_at": "2026-11-29T09:49:05Z",
///   "alert": {
///     "id": "alr_…",
///     "tenant_id": "ten_…",
///     "kind": "trunk_down",           // snake_case alert kind
///     "severity": "critical",         // info | warning | critical
///     "instance": { "id": "ins_…", "name": "Head office PBX" },
///     "subject": "VoIP-1",            // trunk or service; "" for the instance itself
///     "detail": "trunk VoIP-1 is offline",
///     "opened_at": "2026-11-29T09:49:00Z",
///     "resolved_at": null,            // set on alert.resolved
///     "duration_seconds": null,       // set on alert.resolved
///     "title": "CRITICAL trunk_down on Head office PBX (trunk: VoIP-1)",
///     "text": "CRITICAL trunk_down on Head office PBX: trunk VoIP-1 is offline",
///     "link": "https://…"             // the alert on the dashboard, or null
///   }
/// }
/// ```
pub fn generic_body(notice: &Notice, delivery: &DeliveryId, sent_at: DateTime<Utc>) -> Value {
    json!({
        "type": format!("alert.{}", notice.kind.as_str()),
        "delivery_id": delivery,
        "sent_at": time(sent_at),
        "alert": {
            "id": notice.alert_id,
            "tenant_id": notice.tenant_id,
            "kind": notice.alert_kind,
            "severity": notice.severity,
            "instance": { "id": notice.instance_id, "name": notice.instance_name },
            "subject": notice.subject,
            "detail": notice.detail,
            "opened_at": time(notice.opened_at),
            "resolved_at": notice.resolved_at.map(time),
            "duration_seconds": notice.duration().map(|d| d.num_seconds()),
            "title": notice.title(),
            "text": notice.text(),
            "link": notice.link,
        }
    })
}

/// Escapes the three characters Slack's mrkdwn gives meaning to.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (the notification line) and Block Kit `blocks` (a
/// section with the title and detail, a context line, and a button to the dashboard when
/// there is a link). Texts are cut to Slack's limits.
pub fn slack_body(notice: &Notice) -> Value {
    let marker = match (notice.kind, notice.severity.as_str()) {
        (NoticeKind::Resolved, _) => ":white_check_mark:",
        (NoticeKind::Test, _) => ":information_source:",
        (_, "critical") => ":red_circle:",
        (_, "warning") => ":large_orange_circle:",
        _ => ":large_blue_circle:",
    };
    let mut section = format!("{marker} *{}*", slack_escape(&notice.title()));
    if !notice.detail.is_empty() {
        section.push('\n');
        section.push_str(&slack_escape(&notice.detail));
    }
    let context = format!("Opened {} · alert {}", notice.opened_at.format("%Y-%m-%d %H:%M UTC"), notice.alert_id);
    let mut blocks = vec![
        json!({ "type": "section", "text": { "type": "mrkdwn", "text": truncate(&section, 3000) } }),
        json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }),
    ];
    if let Some(link) = &notice.link {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": { "type": "plain_text", "text": "Open in Sikurd" },
                "url": link,
            }]
        }));
    }
    json!({ "text": truncate(&notice.text(), 3000), "blocks": blocks })
}

/// A Teams message carrying an Adaptive Card (version 1.4), the form the Teams Workflows
/// webhook trigger ("When a Teams webhook request is received") accepts. Workflows do not take
/// the older MessageCard of the retired Office 365 connectors.
pub fn teams_body(notice: &Notice) -> Value {
    let color = match (notice.kind, notice.severity.as_str()) {
        (NoticeKind::Resolved, _) => "Good",
        (NoticeKind::Test, _) => "Default",
        (_, "critical") => "Attention",
        (_, "warning") => "Warning",
        _ => "Accent",
    };
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": notice.title(),
        "weight": "Bolder",
        "size": "Medium",
        "color": color,
        "wrap": true,
    })];
    if !notice.detail.is_empty() {
        body.push(json!({ "type": "TextBlock", "text": notice.detail, "wrap": true }));
    }
    if notice.kind != NoticeKind::Test {
        let mut facts = vec![
            json!({ "title": "Instance", "value": notice.instance_name }),
            json!({ "title": "Alert", "value": format!("{}, {}", notice.alert_kind, notice.severity) }),
            json!({ "title": "Opened", "value": notice.opened_at.format("%Y-%m-%d %H:%M UTC").to_string() }),
        ];
        if let Some(at) = notice.resolved_at {
            facts.push(json!({ "title": "Resolved", "value": at.format("%Y-%m-%d %H:%M UTC").to_string() }));
        }
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(link) = &notice.link {
        card["actions"] = json!([{ "type": "Action.OpenUrl", "title": "Open in Sikurd", "url": link }]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }]
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::notify::notice::tests::{resolved_after, trunk_down};

    #[test]
    fn the_generic_body_has_the_documented_fields() {
        let notice = resolved_after(Duration::minutes(12));
        let delivery = DeliveryId::generate();
        let sent_at = notice.resolved_at.unwrap() + Duration::seconds(3);
        let body: Value =
            serde_json::from_slice(&webhook_body(WebhookFormat::Generic, &notice, &delivery, sent_at)).unwrap();
        assert_eq!(body["type"], "alert.resolved");
        assert_eq!(body["delivery_id"], delivery.as_str());
        assert_eq!(body["sent_at"], "2026-11-29T10:01:03Z");
        let alert = &body["alert"];
        assert_eq!(alert["id"], notice.alert_id.as_str());
        assert_eq!(alert["tenant_id"], notice.tenant_id.as_str());
        assert_eq!(alert["kind"], "trunk_down");
        assert_eq!(alert["severity"], "critical");
        assert_eq!(alert["instance"]["id"], notice.instance_id.as_str());
        assert_eq!(alert["instance"]["name"], "Head office PBX");
        assert_eq!(alert["subject"], "VoIP-1");
        assert_eq!(alert["opened_at"], "2026-11-29T09:49:00Z");
        assert_eq!(alert["resolved_at"], "2026-11-29T10:01:00Z");
        assert_eq!(alert["duration_seconds"], 720);
        assert_eq!(alert["title"], "RESOLVED trunk_down on Head office PBX (trunk: VoIP-1) after 12 min");
        assert!(alert["link"].as_str().unwrap().starts_with("https://"));
        let open = generic_body(&trunk_down(), &delivery, sent_at);
        assert_eq!(open["type"], "alert.opened");
        assert!(open["alert"]["resolved_at"].is_null() && open["alert"]["duration_seconds"].is_null());
    }

    #[test]
    fn the_slack_body_is_an_incoming_webhook_message_with_blocks() {
        let notice = Notice { instance_name: "A<b>&c".into(), ..trunk_down() };
        let body = slack_body(&notice);
        assert_eq!(body["text"], "CRITICAL trunk_down on A<b>&c: trunk VoIP-1 is offline");
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        let section = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            section.starts_with(":red_circle: *CRITICAL trunk_down on A&lt;b&gt;&amp;c (trunk: VoIP-1)*\n"),
            "{section}"
        );
        assert_eq!(blocks[1]["type"], "context");
        assert_eq!(blocks[1]["elements"][0]["type"], "mrkdwn");
        assert_eq!(blocks[2]["type"], "actions");
        assert_eq!(blocks[2]["elements"][0]["type"], "button");
        assert_eq!(blocks[2]["elements"][0]["text"]["type"], "plain_text");
        assert_eq!(blocks[2]["elements"][0]["url"], notice.link.clone().unwrap());
        let no_link = slack_body(&Notice { link: None, ..trunk_down() });
        assert_eq!(no_link["blocks"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_teams_body_is_a_message_with_one_adaptive_card() {
        let body = teams_body(&resolved_after(Duration::hours(2)));
        assert_eq!(body["type"], "message");
        let attachments = body["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0]["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &attachments[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
        assert_eq!(card["body"][0]["type"], "TextBlock");
        assert_eq!(card["body"][0]["text"], "RESOLVED trunk_down on Head office PBX (trunk: VoIP-1) after 2 h");
        assert_eq!(card["body"][0]["color"], "Good");
        let facts = card["body"].as_array().unwrap().iter().find(|b| b["type"] == "FactSet").unwrap();
        assert!(facts["facts"].as_array().unwrap().iter().all(|f| f["title"].is_string() && f["value"].is_string()));
        assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
        assert!(card["actions"][0]["url"].is_string());
    }
}
