//! Where a webhook may point: `https` URLs of public hosts (SSRF: a partner must not make
//! the service call into the provider's own network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::Url;

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Parses a webhook URL and checks what can be checked without resolving its host:
/// `https` (or `http` when allowed), a host, no user or password. An IP literal host is
/// checked by the caller with the resolved ones ([`is_internal`]).
pub fn parse_url(raw: &str, allow_http: bool) -> Result<Url, &'static str> {
    if raw.len() > MAX_URL_LEN {
        return Err("must be at most 2048 characters");
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL (https://host/path)")?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("must use https"),
        _ if allow_http => return Err("must use https or http"),
        _ => return Err("must use https"),
    }
    // Credentials in a URL end up in logs and in the answers that show it.
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password");
    }
    if url.host().is_none() {
        return Err("must name a host");
    }
    Ok(url)
}

/// Whether an address is one a webhook must not reach: loopback, private, unique-local,
/// link-local, unspecified, multicast, broadcast, shared (CGNAT), documentation,
/// benchmarking, reserved, or an IPv6 form that embeds such an IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT), 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking, 198.18.0.0/15
        || a >= 240 // reserved
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() {
        return true;
    }
    // The IPv4 address an IPv6 one stands for: mapped (::ffff:a.b.c.d), the deprecated
    // compatible form (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    let embedded = if let Some(v4) = ip.to_ipv4() {
        Some(v4)
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        Some(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32))
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return internal_v4(v4);
    }
    (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation, 2001:db8::/32
        || (s[0] & 0xfff0) == 0x3ff0 // documentation, 3fff::/20
        || (s[0] == 0x0100 && s[1..4] == [0; 3]) // discard-only, 100::/64
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64, 64:ff9b:1::/48
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for s in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "fec0::1",
        ] {
            assert!(is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.0.3.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_internal(ip(s)), "{s}");
        }
    }

    #[test]
    fn only_https_urls_without_credentials_are_taken() {
        assert!(parse_url("https://crm.example/ftth?x=1", false).is_ok());
        assert_eq!(
            parse_url("http://crm.example/ftth", false),
            Err("must use https")
        );
        assert!(parse_url("http://crm.example/ftth", true).is_ok());
        assert_eq!(
            parse_url("ftp://crm.example/", true),
            Err("must use https or http")
        );
        assert!(parse_url("https://user:pw@crm.example/", false).is_err());
        assert!(parse_url("https://user@crm.example/", false).is_err());
        assert!(parse_url("crm.example/ftth", false).is_err());
        assert!(parse_url("", false).is_err());
        assert!(parse_url(&format!("https://a.example/{}", "x".repeat(2048)), false).is_err());
    }
}
