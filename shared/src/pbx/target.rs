//! Which addresses the poller may contact. In the cloud a 3CX must be on the public internet:
//! names that resolve to private, loopback, link-local or otherwise special addresses are
//! refused (SSRF). The local stack allows them, and resolves `*.localhost` to loopback
//! (RFC 6761) so that simulated PBXs can have names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Cloud: HTTPS to public addresses only.
    PublicOnly,
    /// Local stack: anything, including loopback, private ranges and plain HTTP.
    AllowPrivate,
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

impl TargetPolicy {
    pub fn allows(self, ip: IpAddr) -> bool {
        self == Self::AllowPrivate || is_public(ip)
    }
}

/// System DNS lookups under way at once. Each takes a blocking thread (getaddrinfo); a sweep of
/// thousands of 3CX systems would otherwise flood tokio's blocking pool and the DNS server, whose
/// dropped queries then cost the resolver's 5 s timeouts.
const CONCURRENT_LOOKUPS: usize = 32;

/// The DNS resolver of the 3CX client: the system resolver, filtered by the policy.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub policy: TargetPolicy,
    lookups: Arc<tokio::sync::Semaphore>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: TargetPolicy) -> Self {
        Self { policy, lookups: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_LOOKUPS)) }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let lookups = Arc::clone(&self.lookups);
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            if policy == TargetPolicy::AllowPrivate && (host == "localhost" || host.ends_with(".localhost")) {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))));
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> = {
                let _lookup = lookups.acquire().await?;
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                let reason = if found.is_empty() { "no address" } else { "only private or reserved addresses" };
                return Err(format!("{host} resolves to {reason}").into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

pub(crate) fn resolver(policy: TargetPolicy) -> Arc<GuardedResolver> {
    Arc::new(GuardedResolver::new(policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_reserved_addresses_are_not_public() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} counted as public");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2a00:1450:4001:82a::200e"] {
            assert!(is_public(ip.parse().unwrap()), "{ip} counted as private");
        }
    }

    #[tokio::test]
    async fn the_cloud_resolver_refuses_loopback_names_and_the_local_one_maps_localhost() {
        let cloud = GuardedResolver::new(TargetPolicy::PublicOnly);
        assert!(cloud.resolve("localhost".parse().unwrap()).await.is_err());
        assert!(cloud.resolve("pbx-1.localhost".parse().unwrap()).await.is_err());
        let local = GuardedResolver::new(TargetPolicy::AllowPrivate);
        let addrs: Vec<_> = local.resolve("pbx-1.localhost".parse().unwrap()).await.unwrap().collect();
        assert_eq!(addrs, vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]);
    }
}
