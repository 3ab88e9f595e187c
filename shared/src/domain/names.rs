//! Human-given names: trimmed, bounded in length, free of control characters.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValueError;

fn parse_name(what: &'static str, max_chars: usize, raw: &str) -> Result<String, ValueError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ValueError::new(what, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(ValueError::new(what, format!("must be at most {max_chars} characters")));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValueError::new(what, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn parse(raw: &str) -> Result<Self, ValueError> {
                parse_name($what, $max, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }
    };
}

name_type!(
    /// An MSP's account name.
    TenantName, "tenant name", 100
);
name_type!(
    /// A person's display name.
    PersonName, "name", 100
);
name_type!(
    /// The name an MSP gives a monitored 3CX.
    InstanceName, "instance name", 100
);
name_type!(
    /// A fleet group (usually the MSP's customer).
    GroupName, "group", 64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(InstanceName::parse("  Head office ").map(|n| n.0), Ok("Head office".into()));
    }

    #[test]
    fn empty_long_and_control_names_are_rejected() {
        assert!(TenantName::parse("   ").is_err());
        assert!(TenantName::parse(&"x".repeat(101)).is_err());
        assert!(TenantName::parse(&"é".repeat(100)).is_ok());
        assert!(GroupName::parse("a\u{0}b").is_err());
    }
}
