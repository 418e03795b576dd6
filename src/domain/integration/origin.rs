//! Web origins, as a publishable key lists them and browsers send them in `Origin`.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Checks a web origin as browsers send it in `Origin`: `https://host` or `http://host`,
/// an optional non-default port, a lowercase host, nothing after.
pub fn check_origin(s: &str) -> Result<(), &'static str> {
    let shape = "must be a web origin such as https://www.example.com";
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(shape);
    };
    let default_port = match scheme {
        "https" => 443,
        "http" => 80,
        _ => return Err("must begin https:// or http://"),
    };
    if rest.contains(['/', '?', '#']) {
        return Err("must be only scheme, host and port: no path, query or trailing slash");
    }
    if rest.contains('@') {
        return Err("must not carry a user name or password");
    }
    let port = if let Some(v6) = rest.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err(shape);
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err("must have a valid IPv6 address between [ and ]");
        }
        match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(shape),
            },
        }
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("must have its host in lowercase, as browsers send it");
        }
        if host.parse::<Ipv4Addr>().is_err() && !is_dns_name(host) {
            return Err(
                "must have a host name of ASCII letters, digits, '-' and '.' (an international \
                 name in its xn-- form)",
            );
        }
        port
    };
    if let Some(p) = port {
        // Browsers write the port without leading zeros and leave the default one out.
        let n = match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('0') && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err("must have a port from 1 to 65535"),
        };
        if n == default_port {
            return Err("must leave out the scheme's default port, as browsers do");
        }
    }
    Ok(())
}

/// Lowercase DNS labels of 1 to 63 letters, digits and `-`, not at either end.
fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_origins_are_as_browsers_send_them() {
        for good in [
            "https://www.example.com",
            "http://localhost:3000",
            "https://a-b.example.com.br:8443",
            "http://127.0.0.1:8080",
            "https://[::1]:8443",
            "https://xn--acougue-dxa.example",
        ] {
            assert_eq!(check_origin(good), Ok(()), "{good}");
        }
        for bad in [
            "www.example.com",
            "ftp://example.com",
            "HTTPS://example.com",
            "https://Example.com",
            "https://example.com/",
            "https://example.com/path",
            "https://example.com?q=1",
            "https://user@example.com",
            "https://",
            "https://exa mple.com",
            "https://açougue.example",
            "https://-x.example",
            "https://example.com:443",
            "http://example.com:80",
            "https://example.com:0",
            "https://example.com:65536",
            "https://example.com:080",
            "https://example.com:",
            "https://[::1",
            "https://[nope]",
            "*",
            "null",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
