use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// An e-mail address, lowercased; checked for shape only (one `@`, a dotted domain).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let bad = |reason: &str| ValueError::new("email", reason);
        let s = raw.trim().to_lowercase();
        if s.len() > 254 {
            return Err(bad("must be at most 254 characters"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("must not contain spaces"));
        }
        let (local, domain) = s.split_once('@').ok_or_else(|| bad("must contain @"))?;
        if local.is_empty() || local.len() > 64 || domain.contains('@') {
            return Err(bad("must look like name@example.com"));
        }
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(bad("must have a domain like example.com"));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_trimmed() {
        assert_eq!(Email::parse(" Ana@Example.COM ").map(|e| e.0), Ok("ana@example.com".into()));
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in
            ["", "ana", "ana@", "@example.com", "ana@example", "a b@example.com", "a@b@example.com", "ana@-x.com"]
        {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
