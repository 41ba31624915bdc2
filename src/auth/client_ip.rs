//! The client's IP address: the socket's peer, unless that peer is a trusted
//! proxy (`TASKLANE_TRUSTED_PROXIES`); only then is `X-Forwarded-For` read,
//! from the right, and the first address that is not itself a trusted proxy
//! is the client.
//!
//! Per-IP limits count a client by [`bucket_key`]: an IPv4 address as it
//! is, an IPv6 address by its network (`TASKLANE_RATE_IPV6_PREFIX`, /64 by
//! default), since one subscriber routinely holds a whole /64 and can change
//! address at will within it.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

/// Parses `TASKLANE_TRUSTED_PROXIES`: comma-separated IPs or CIDR blocks.
pub fn parse_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{p:?} is not an IP address or CIDR block"))
        })
        .collect()
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    let ip = canonical(ip);
    proxies.iter().any(|net| net.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What a per-IP limit counts `ip` as: an IPv4 address itself
/// (`203.0.113.5`); an IPv6 address as its network of `ipv6_prefix` bits
/// (`2001:db8:1:2::/64`). Mapped IPv4 addresses count as IPv4. A prefix
/// above 128 counts whole addresses.
pub fn bucket_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => network(v6, ipv6_prefix).to_string(),
    }
}

fn network(v6: Ipv6Addr, prefix: u8) -> Ipv6Net {
    Ipv6Net::new(v6, prefix.min(128))
        .map(|net| net.trunc())
        .unwrap_or_else(|_| Ipv6Net::from(v6))
}

/// The client behind `peer`. `forwarded_for`: every `X-Forwarded-For`
/// value, in the order received.
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    proxies: &[IpNet],
) -> IpAddr {
    if !trusted(peer, proxies) {
        return canonical(peer);
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        // A hop that is not an address was written by someone we can not
        // vouch for: stop at the last address we could.
        let Ok(ip) = hop.parse::<IpAddr>() else {
            break;
        };
        client = canonical(ip);
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn forwarded_for_is_read_only_behind_a_trusted_proxy() {
        let proxies = parse_proxies("10.0.0.0/8, 192.0.2.1").expect("parses");
        // An untrusted peer: the header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.5"), ["198.51.100.7"], &proxies),
            ip("203.0.113.5")
        );
        // A trusted peer: the rightmost untrusted hop.
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                ["1.1.1.1, 198.51.100.7, 10.9.9.9"],
                &proxies
            ),
            ip("198.51.100.7")
        );
        // Several headers count as one list.
        assert_eq!(
            client_ip(ip("192.0.2.1"), ["1.1.1.1", "198.51.100.8"], &proxies),
            ip("198.51.100.8")
        );
        // Only proxies: the leftmost.
        assert_eq!(
            client_ip(ip("10.1.2.3"), ["10.0.0.9, 192.0.2.1"], &proxies),
            ip("10.0.0.9")
        );
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.1.2.3"), [], &proxies), ip("10.1.2.3"));
        // Garbage stops the walk.
        assert_eq!(
            client_ip(ip("10.1.2.3"), ["198.51.100.9, junk"], &proxies),
            ip("10.1.2.3")
        );
        // Mapped IPv6 peers are matched as IPv4.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.1"), ["198.51.100.7"], &proxies),
            ip("198.51.100.7")
        );
        assert!(parse_proxies("not-an-ip").is_err());
        assert_eq!(parse_proxies("").expect("empty"), vec![]);
    }

    #[test]
    fn ipv6_clients_are_counted_per_network() {
        assert_eq!(bucket_key(ip("203.0.113.5"), 64), "203.0.113.5");
        assert_eq!(bucket_key(ip("::ffff:203.0.113.5"), 64), "203.0.113.5");
        let a = bucket_key(ip("2001:db8:1:2:aaaa::1"), 64);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(bucket_key(ip("2001:db8:1:2:ffff:1:2:3"), 64), a);
        assert_ne!(bucket_key(ip("2001:db8:1:3::1"), 64), a);
        assert_eq!(bucket_key(ip("2001:db8:1:3::1"), 48), "2001:db8:1::/48");
        assert_eq!(bucket_key(ip("2001:db8::7"), 128), "2001:db8::7/128");
    }
}
