use std::fmt;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::domain::{Email, ValueError};
use crate::pbx::{TargetPolicy, is_public};

/// Most addresses one e-mail channel sends to.
pub const MAX_EMAIL_RECIPIENTS: usize = 10;
/// Longest webhook URL accepted (Teams Workflows URLs run to a few hundred characters).
const MAX_URL_CHARS: usize = 2048;

/// Where e-mail notifications go: 1 to [`MAX_EMAIL_RECIPIENTS`] distinct addresses, in the
/// order given. Deserialization checks the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EmailTargetFields")]
pub struct EmailTarget {
    to: Vec<Email>,
}

#[derive(Deserialize)]
struct EmailTargetFields {
    to: Vec<Email>,
}

impl TryFrom<EmailTargetFields> for EmailTarget {
    type Error = ValueError;
    fn try_from(fields: EmailTargetFields) -> Result<Self, Self::Error> {
        Self::new(fields.to)
    }
}

impl EmailTarget {
    /// Drops repeated addresses, then requires 1 to [`MAX_EMAIL_RECIPIENTS`].
    pub fn new(to: Vec<Email>) -> Result<Self, ValueError> {
        let mut unique: Vec<Email> = Vec::with_capacity(to.len());
        for email in to {
            if !unique.contains(&email) {
                unique.push(email);
            }
        }
        match unique.len() {
            0 => Err(ValueError::new("e-mail recipients", "need at least one address")),
            n if n > MAX_EMAIL_RECIPIENTS => {
                Err(ValueError::new("e-mail recipients", format!("must be at most {MAX_EMAIL_RECIPIENTS} addresses")))
            }
            _ => Ok(Self { to: unique }),
        }
    }

    pub fn to(&self) -> &[Email] {
        &self.to
    }
}

/// The body a webhook is posted with (see [`super::webhook_body`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// Sikurd's own JSON, for receivers written against it.
    Generic,
    /// A Slack incoming webhook.
    Slack,
    /// A Microsoft Teams Workflows webhook ("When a Teams webhook request is received").
    Teams,
}

/// Where webhook notifications are posted, and in which form. The URL is an absolute `http` or
/// `https` URL without user name or password, at most 2048 characters; deserialization checks
/// that much. Whether a [`TargetPolicy`] allows it is [`Self::check`], which the sender runs
/// before every post.
///
/// Slack and Teams URLs are credentials: `Debug` shows the origin only, and nothing here logs
/// the URL. The signing secret is kept apart, sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WebhookTargetFields")]
pub struct WebhookTarget {
    url: String,
    format: WebhookFormat,
}

#[derive(Deserialize)]
struct WebhookTargetFields {
    url: String,
    format: WebhookFormat,
}

impl TryFrom<WebhookTargetFields> for WebhookTarget {
    type Error = ValueError;
    fn try_from(fields: WebhookTargetFields) -> Result<Self, Self::Error> {
        let url = parse_url(&fields.url)?;
        Ok(Self { url: url.into(), format: fields.format })
    }
}

impl WebhookTarget {
    /// Parses the URL (keeping its normalized form) and checks it against `policy`.
    pub fn new(url: &str, format: WebhookFormat, policy: TargetPolicy) -> Result<Self, ValueError> {
        let url = parse_url(url)?;
        check_url(&url, policy)?;
        Ok(Self { url: url.into(), format })
    }

    /// The full URL; it may carry a token: never log it.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn format(&self) -> WebhookFormat {
        self.format
    }

    /// Scheme, host and port: what can be shown of the URL.
    pub fn origin(&self) -> String {
        Url::parse(&self.url).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
    }

    /// Whether `policy` allows posting here. `PublicOnly`: `https` only, and a host that is
    /// neither `localhost` nor a literal private, loopback or reserved address. Host names are
    /// checked again when the sender resolves them.
    pub fn check(&self, policy: TargetPolicy) -> Result<(), ValueError> {
        check_url(&parse_url(&self.url)?, policy)
    }
}

impl fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookTarget").field("origin", &self.origin()).field("format", &self.format).finish()
    }
}

fn parse_url(raw: &str) -> Result<Url, ValueError> {
    let bad = |reason: &str| ValueError::new("webhook URL", reason);
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(bad("must be at most 2048 characters"));
    }
    let url = Url::parse(raw).map_err(|_| bad("must be an absolute URL like https://example.com/hook"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("must start with https://"));
    }
    if url.host().is_none() {
        return Err(bad("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain a user name or password"));
    }
    Ok(url)
}

fn check_url(url: &Url, policy: TargetPolicy) -> Result<(), ValueError> {
    if policy == TargetPolicy::AllowPrivate {
        return Ok(());
    }
    let bad = |reason: &str| ValueError::new("webhook URL", reason);
    if url.scheme() != "https" {
        return Err(bad("must start with https://"));
    }
    let public = match url.host() {
        Some(Host::Ipv4(ip)) => is_public(ip.into()),
        Some(Host::Ipv6(ip)) => is_public(ip.into()),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name != "localhost" && !name.ends_with(".localhost")
        }
        None => false,
    };
    if public { Ok(()) } else { Err(bad("must not point to a private, loopback or reserved address")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(n: usize) -> Vec<Email> {
        (0..n).map(|i| Email::parse(&format!("ops{i}@example.com")).unwrap()).collect()
    }

    #[test]
    fn an_email_target_takes_one_to_ten_distinct_addresses() {
        assert!(EmailTarget::new(Vec::new()).is_err());
        assert_eq!(EmailTarget::new(emails(10)).unwrap().to().len(), 10);
        assert!(EmailTarget::new(emails(11)).unwrap_err().to_string().contains("at most 10"));
        let mut repeated = emails(10);
        repeated.extend(emails(3));
        assert_eq!(EmailTarget::new(repeated).unwrap().to(), emails(10).as_slice());
    }

    #[test]
    fn an_email_target_is_checked_when_deserialized() {
        assert!(serde_json::from_str::<EmailTarget>(r#"{"to":[]}"#).is_err());
        assert!(serde_json::from_str::<EmailTarget>(r#"{"to":["not-an-address"]}"#).is_err());
        let target: EmailTarget = serde_json::from_str(r#"{"to":["Ops@Example.com"]}"#).unwrap();
        assert_eq!(serde_json::to_string(&target).unwrap(), r#"{"to":["ops@example.com"]}"#);
    }

    #[test]
    fn the_cloud_takes_only_https_urls_to_public_hosts() {
        let cloud = TargetPolicy::PublicOnly;
        let ok = WebhookTarget::new("https://hooks.slack.com/services/T0/B0/abc", WebhookFormat::Slack, cloud);
        assert_eq!(ok.unwrap().format(), WebhookFormat::Slack);
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.7:8443/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/x",
            "https://[::ffff:192.168.1.1]/x",
            "https://2130706433/x",
            "https://localhost/x",
            "https://pbx.localhost./x",
            "ftp://example.com/x",
            "https://user:pw@example.com/x",
            "example.com/hook",
        ] {
            assert!(WebhookTarget::new(bad, WebhookFormat::Generic, cloud).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn the_local_stack_takes_plain_http_to_loopback() {
        let target =
            WebhookTarget::new("http://127.0.0.1:8080/hook", WebhookFormat::Generic, TargetPolicy::AllowPrivate)
                .unwrap();
        assert!(target.check(TargetPolicy::AllowPrivate).is_ok());
        assert!(target.check(TargetPolicy::PublicOnly).is_err());
    }

    #[test]
    fn a_webhook_target_round_trips_and_its_debug_hides_the_url_path() {
        let url = "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRETSIG";
        let target = WebhookTarget::new(url, WebhookFormat::Teams, TargetPolicy::PublicOnly).unwrap();
        let json = serde_json::to_string(&target).unwrap();
        assert_eq!(serde_json::from_str::<WebhookTarget>(&json).unwrap(), target);
        let debug = format!("{target:?}");
        assert!(!debug.contains("SECRETSIG") && !debug.contains("workflows"), "{debug}");
        assert!(debug.contains("https://prod-42.westeurope.logic.azure.com"), "{debug}");
        assert!(serde_json::from_str::<WebhookTarget>(r#"{"url":"nope","format":"generic"}"#).is_err());
    }
}
