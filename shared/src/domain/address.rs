//! Where a 3CX answers: scheme, host and port of its web server.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::ValueError;

/// A host name (letters, digits, hyphens; dot-separated labels) or an IP address literal,
/// lowercased. Whether it may be contacted (private ranges in the cloud) is decided when polling.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fqdn(String);

impl Fqdn {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let bad = |reason: &str| ValueError::new("host", reason);
        let s = raw.trim().trim_end_matches('.').to_lowercase();
        if s.parse::<IpAddr>().is_ok() {
            return Ok(Self(s));
        }
        if s.is_empty() || s.len() > 253 {
            return Err(bad("must be 1 to 253 characters"));
        }
        for label in s.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(bad("each dot-separated part must be 1 to 63 characters"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a part must not start or end with a hyphen"));
            }
            if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(bad("only letters, digits, hyphens and dots are allowed"));
            }
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Fqdn {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Fqdn> for String {
    fn from(f: Fqdn) -> String {
        f.0
    }
}

/// A TCP port, 1 to 65535.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Port(u16);

impl Port {
    pub fn new(port: u32) -> Result<Self, ValueError> {
        match u16::try_from(port) {
            Ok(p) if p != 0 => Ok(Self(p)),
            _ => Err(ValueError::new("port", "must be between 1 and 65535")),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u32> for Port {
    type Error = ValueError;
    fn try_from(p: u32) -> Result<Self, Self::Error> {
        Self::new(p)
    }
}

impl From<Port> for u32 {
    fn from(p: Port) -> u32 {
        u32::from(p.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    Https,
    /// Plain HTTP: only the local stack (simulators, lab systems) accepts it.
    Http,
}

/// The web address of a 3CX: `https://pbx.example.com:5001`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PbxAddress {
    pub scheme: Scheme,
    pub host: Fqdn,
    pub port: Port,
}

impl PbxAddress {
    /// Parses a web address with no credentials, path, query or fragment. A missing port is the
    /// scheme's default (443 or 80).
    pub fn parse_url(raw: &str) -> Result<Self, ValueError> {
        let bad = |reason: &str| ValueError::new("url", reason);
        let url =
            url::Url::parse(raw.trim()).map_err(|_| bad("must be a web address like https://pbx.example.com:5001"))?;
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            _ => return Err(bad("must start with https://")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not contain a user name or password"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("must be only scheme, host and port"));
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => Fqdn::parse(d)?,
            Some(url::Host::Ipv4(ip)) => Fqdn::parse(&ip.to_string())?,
            Some(url::Host::Ipv6(ip)) => Fqdn::parse(&ip.to_string())?,
            None => return Err(bad("must name a host")),
        };
        let port = url.port_or_known_default().ok_or_else(|| bad("must have a port"))?;
        Ok(Self { scheme, host, port: Port::new(u32::from(port))? })
    }

    /// The base URL requests are built on, without a trailing slash.
    pub fn base_url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        match self.host.as_str().parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("{scheme}://[{ip}]:{}", self.port.get()),
            _ => format!("{scheme}://{}:{}", self.host, self.port.get()),
        }
    }
}

impl fmt::Display for PbxAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_3cx_web_address_parses_with_its_port() {
        let a = PbxAddress::parse_url("https://PBX.Example.com:5001").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.scheme, Scheme::Https);
        assert_eq!(a.host.as_str(), "pbx.example.com");
        assert_eq!(a.port.get(), 5001);
        assert_eq!(a.base_url(), "https://pbx.example.com:5001");
    }

    #[test]
    fn the_default_port_follows_the_scheme() {
        let a = PbxAddress::parse_url("https://pbx.my3cx.fr").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.port.get(), 443);
    }

    #[test]
    fn addresses_with_paths_credentials_or_other_schemes_are_rejected() {
        for bad in [
            "ftp://pbx.example.com",
            "https://admin:pw@pbx.example.com",
            "https://pbx.example.com/xapi/v1",
            "https://pbx.example.com?x=1",
            "pbx.example.com",
            "https://:5001",
            "https://pbx.example.com:0",
            "https://pbx.example.com:70000",
            "https://bad_host.example.com",
        ] {
            assert!(PbxAddress::parse_url(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn ports_out_of_range_are_rejected() {
        assert!(Port::new(0).is_err());
        assert!(Port::new(65_536).is_err());
        assert_eq!(Port::new(5001).map(Port::get), Ok(5001));
    }
}
