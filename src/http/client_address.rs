//! The client's address behind the proxies we trust (`trusted_proxies`), for limits kept per
//! client address.
//!
//! A client can write anything into `X-Forwarded-For`; each proxy appends the address it
//! was called from. So the list is read from the right, past our own proxies, and the first
//! address that is not one of them is the client: whatever lies to its left is the client's
//! own writing and is never believed.

use actix_web::{HttpRequest, web};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The proxies (addresses or CIDR ranges) whose `X-Forwarded-For` entries are believed, as
/// app data.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpNet>);

/// The client address of a request: [`client_address`] of its peer and `X-Forwarded-For`
/// headers, with the `trusted_proxies` registered as app data (none registered: none
/// trusted, the peer is the client).
pub fn of_request(req: &HttpRequest) -> Option<IpAddr> {
    let trusted = req
        .app_data::<web::Data<TrustedProxies>>()
        .map_or(&[][..], |t| t.0.as_slice());
    let peer = req.peer_addr().map(|a| a.ip());
    if trusted.is_empty() {
        return peer.map(|ip| ip.to_canonical());
    }
    // A value that is not text cannot be read as addresses: the lossy copy fails to parse,
    // which stops the walk there (see `client_address`).
    let values: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    client_address(peer, &values, trusted)
}

/// The client address: the direct `peer`, or, when the peer is `trusted`, the right-most
/// `X-Forwarded-For` address that is not trusted. `forwarded_for` holds every header value
/// in order (several headers are one list, RFC 9110 §5.3).
///
/// - Every entry trusted: the left-most, the furthest our own proxies saw.
/// - An entry that is not an address (`unknown`, an obfuscated name, garbage) stops the walk
///   and the last good address to its right is the answer: what lies left of it cannot be
///   told from a client's writing, and the proxy address errs towards one shared limit
///   rather than an address the client chose.
/// - Empty entries (`a,,b`) are skipped, as RFC 9110 says list recipients do.
/// - An entry may carry a port (`1.2.3.4:5678`, `[2001:db8::1]:443`); IPv4-mapped IPv6
///   addresses are taken as IPv4, so one client has one address whatever the socket.
/// - No peer (not a TCP connection): `None`.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut last = peer?.to_canonical();
    if !is_trusted(&last) {
        return Some(last);
    }
    let entries = forwarded_for
        .iter()
        .rev()
        .flat_map(|value| value.rsplit(','))
        .map(str::trim)
        .filter(|e| !e.is_empty());
    for entry in entries {
        let Some(ip) = parse_entry(entry) else {
            break;
        };
        if !is_trusted(&ip) {
            return Some(ip);
        }
        last = ip;
    }
    Some(last)
}

/// One `X-Forwarded-For` entry: an IPv4 or IPv6 address, maybe with a port (IPv6 with a
/// port in brackets, as in a URL).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<std::net::Ipv6Addr>()
                .ok()
                .map(IpAddr::V6)
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn client(peer: &str, xff: &[&str], trusted: &[&str]) -> Option<IpAddr> {
        client_address(Some(ip(peer)), xff, &nets(trusted))
    }

    const PROXIES: &[&str] = &["10.0.0.0/8", "2001:db8:ffff::/48"];

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(
            client("203.0.113.7", &["198.51.100.1"], PROXIES),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client("10.0.0.1", &["198.51.100.1"], &[]),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        assert_eq!(
            client("10.0.0.1", &["198.51.100.9, 10.0.0.2"], PROXIES),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn entries_a_client_wrote_left_of_its_own_address_are_ignored() {
        // The client sent "1.1.1.1, 10.0.0.3"; our proxy appended the address it saw.
        assert_eq!(
            client("10.0.0.1", &["1.1.1.1, 10.0.0.3, 203.0.113.50"], PROXIES),
            Some(ip("203.0.113.50"))
        );
    }

    #[test]
    fn several_headers_are_read_as_one_list_in_order() {
        assert_eq!(
            client(
                "10.0.0.1",
                &["1.1.1.1", "203.0.113.50, 10.0.0.4", "10.0.0.5"],
                PROXIES
            ),
            Some(ip("203.0.113.50"))
        );
        assert_eq!(
            client("10.0.0.1", &["203.0.113.50", "10.0.0.5"], PROXIES),
            Some(ip("203.0.113.50"))
        );
    }

    #[test]
    fn when_every_entry_is_trusted_the_left_most_is_the_client() {
        assert_eq!(
            client("10.0.0.1", &["10.0.0.9, 10.0.0.2"], PROXIES),
            Some(ip("10.0.0.9"))
        );
        // No header at all: the proxy itself.
        assert_eq!(client("10.0.0.1", &[], PROXIES), Some(ip("10.0.0.1")));
    }

    #[test]
    fn a_malformed_entry_stops_the_walk_at_the_last_good_address() {
        assert_eq!(
            client("10.0.0.1", &["203.0.113.50, unknown, 10.0.0.2"], PROXIES),
            Some(ip("10.0.0.2"))
        );
        assert_eq!(
            client("10.0.0.1", &["203.0.113.50, 999.1.1.1"], PROXIES),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client("10.0.0.1", &["203.0.113.50", "caf\u{fffd}"], PROXIES),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn empty_entries_are_skipped() {
        assert_eq!(
            client("10.0.0.1", &[" 203.0.113.50 ,, 10.0.0.2, "], PROXIES),
            Some(ip("203.0.113.50"))
        );
    }

    #[test]
    fn ipv6_entries_and_proxies_are_understood() {
        assert_eq!(
            client(
                "2001:db8:ffff::1",
                &["2001:db8:1::7, 2001:db8:ffff::2"],
                PROXIES
            ),
            Some(ip("2001:db8:1::7"))
        );
        assert_eq!(
            client("2001:db8:ffff::1", &["[2001:db8:1::7]:443"], PROXIES),
            Some(ip("2001:db8:1::7"))
        );
        assert_eq!(
            client("2001:db8:ffff::1", &["[2001:db8:1::8]"], PROXIES),
            Some(ip("2001:db8:1::8"))
        );
    }

    #[test]
    fn entries_may_carry_a_port() {
        assert_eq!(
            client("10.0.0.1", &["203.0.113.50:51234, 10.0.0.2:80"], PROXIES),
            Some(ip("203.0.113.50"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_taken_as_ipv4() {
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
        assert_eq!(
            client("::ffff:10.0.0.1", &["::ffff:203.0.113.50"], PROXIES),
            Some(ip("203.0.113.50"))
        );
        assert_eq!(
            client("::ffff:203.0.113.7", &[], PROXIES),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn without_a_peer_there_is_no_address() {
        assert_eq!(
            client_address(None, &["203.0.113.50"], &nets(PROXIES)),
            None
        );
    }

    #[test]
    fn a_request_is_read_with_the_registered_proxies() {
        use actix_web::test::TestRequest;
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "1.1.1.1, 203.0.113.50"))
            .app_data(web::Data::new(TrustedProxies(nets(PROXIES))))
            .to_http_request();
        assert_eq!(of_request(&req), Some(ip("203.0.113.50")));
        let bare = TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.50"))
            .to_http_request();
        assert_eq!(of_request(&bare), Some(ip("10.0.0.1")));
    }
}
