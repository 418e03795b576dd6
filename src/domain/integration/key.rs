//! An integration's keys: what a new key may be, what it can do at each request, and the
//! key material itself (random text shown once, a hash kept).

use super::{Integration, missing_module};
use crate::auth::Scope;
use crate::domain::network::check_text;
use crate::domain::validation::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::contacts::null_as_default;

/// Characters of a key kept (and shown) as its `prefix`.
pub const KEY_PREFIX_LEN: usize = 12;
/// The most origins one publishable key allows.
pub const MAX_ALLOWED_ORIGINS: usize = 100;
/// The highest `rate_limit_per_min` accepted.
pub const MAX_RATE_LIMIT_PER_MIN: u32 = 100_000;
/// A publishable key's limit per client address when none is given.
pub const PUBLISHABLE_DEFAULT_RATE_LIMIT: u32 = 60;

/// Random bytes in a key: 192 bits, comfortably above the contract's 128.
const KEY_RANDOM_BYTES: usize = 24;

/// A server-side secret, or a browser-side publishable key (only `POST /check`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    #[default]
    Secret,
    Publishable,
}

impl KeyKind {
    pub const ALL: [KeyKind; 2] = [Self::Secret, Self::Publishable];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Publishable => "publishable",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// What every key of this kind begins with: `fsk_` or `fpk_`.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Self::Secret => "fsk_",
            Self::Publishable => "fpk_",
        }
    }
}

/// `POST /integrations/{id}/keys` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        example = "production"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub kind: KeyKind,
    /// Within the scopes of the integration's modules; left out (or null), whatever the
    /// modules grant at each request.
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    /// In the future; null for a key that does not expire.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Web origins (`https://www.example.com`) a publishable key may be used from;
    /// required for publishable keys, refused for secret ones.
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_origins: Vec<String>,
    /// Requests a minute (per client address for a publishable key), 1 to 100000;
    /// publishable keys default to 60, secret keys to no limit.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100000)]
    pub rate_limit_per_min: Option<u32>,
}

/// A checked [`NewKey`]: what the store keeps beside the key's hash and prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    pub name: String,
    pub kind: KeyKind,
    /// Sorted and distinct; `None` means whatever the modules grant at each request. A
    /// publishable key always has exactly `[feasibility]`.
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub allowed_origins: Vec<String>,
    pub rate_limit_per_min: Option<u32>,
}

impl NewKey {
    /// The key this request issues for `integration` at `now`, or every refused field.
    /// Whether the integration's contacts allow issuing keys at all is the caller's check
    /// ([`Integration::missing_contacts`], 409 `contacts_incomplete`).
    pub fn validate(
        &self,
        integration: &Integration,
        now: DateTime<Utc>,
    ) -> Result<KeySpec, Invalid> {
        let mut invalid = Invalid::default();
        let name = match self.name.as_deref() {
            None => {
                invalid.add("name", "is required: 1 to 200 characters");
                String::new()
            }
            Some(n) => {
                if let Err(m) = check_text(n) {
                    invalid.add("name", m);
                }
                n.trim().to_owned()
            }
        };
        let publishable = self.kind == KeyKind::Publishable;
        let granted = integration.scopes();
        let scopes = match &self.scopes {
            Some(list) => {
                check_scopes(list, publishable, integration, &mut invalid);
                let set: BTreeSet<Scope> = list.iter().copied().collect();
                Some(set.into_iter().collect())
            }
            // A publishable key's only power is POST /check, so it says so.
            None if publishable => {
                if !granted.contains(&Scope::Feasibility) {
                    invalid.add(
                        "kind",
                        format!(
                            "a publishable key calls POST /check, which needs the feasibility \
                             module; integration {} has not contracted it",
                            integration.id
                        ),
                    );
                }
                Some(vec![Scope::Feasibility])
            }
            None => None,
        };
        if let Some(t) = self.expires_at
            && t <= now
        {
            invalid.add(
                "expires_at",
                "must be in the future (or null for no expiry)",
            );
        }
        if publishable && self.allowed_origins.is_empty() {
            invalid.add(
                "allowed_origins",
                "is required for a publishable key: the web origins it may be used from, \
                 such as https://www.example.com",
            );
        } else if !publishable && !self.allowed_origins.is_empty() {
            // An origin check on a server-side key would only look like protection.
            invalid.add(
                "allowed_origins",
                "is only for publishable keys: a secret key is used from servers, where any \
                 Origin can be sent",
            );
        } else if self.allowed_origins.len() > MAX_ALLOWED_ORIGINS {
            invalid.add(
                "allowed_origins",
                format!("must have at most {MAX_ALLOWED_ORIGINS} entries"),
            );
        } else {
            for (i, o) in self.allowed_origins.iter().enumerate() {
                let field = format!("allowed_origins[{i}]");
                if let Err(m) = check_origin(o) {
                    invalid.add(field, m);
                } else if let Some(j) = self.allowed_origins[..i].iter().position(|p| p == o) {
                    invalid.add(field, format!("repeats allowed_origins[{j}]"));
                }
            }
        }
        let rate_limit_per_min = match self.rate_limit_per_min {
            Some(n) if !(1..=MAX_RATE_LIMIT_PER_MIN).contains(&n) => {
                invalid.add(
                    "rate_limit_per_min",
                    format!("must be from 1 to {MAX_RATE_LIMIT_PER_MIN} requests a minute"),
                );
                None
            }
            Some(n) => Some(n),
            None if publishable => Some(PUBLISHABLE_DEFAULT_RATE_LIMIT),
            None => None,
        };
        invalid.or_ok(KeySpec {
            name,
            kind: self.kind,
            scopes,
            expires_at: self.expires_at,
            allowed_origins: self.allowed_origins.clone(),
            rate_limit_per_min,
        })
    }
}

/// Each scope once, within the integration's modules, and only `feasibility` for a
/// publishable key.
fn check_scopes(
    list: &[Scope],
    publishable: bool,
    integration: &Integration,
    invalid: &mut Invalid,
) {
    if list.is_empty() {
        invalid.add(
            "scopes",
            "must name at least one scope; leave it out for whatever the modules grant",
        );
    }
    let granted = integration.scopes();
    for (i, s) in list.iter().enumerate() {
        let field = format!("scopes[{i}]");
        if list[..i].contains(s) {
            invalid.add(field, format!("repeats {}", s.as_str()));
        } else if publishable && *s != Scope::Feasibility {
            invalid.add(
                field,
                "a publishable key may only have the scope feasibility: it can only call \
                 POST /check",
            );
        } else if !granted.contains(s) {
            let message = match missing_module(*s) {
                Some(m) => format!(
                    "{} needs the {} module, which integration {} has not contracted",
                    s.as_str(),
                    m.as_str(),
                    integration.id
                ),
                None => format!("{} is never granted to an integration", s.as_str()),
            };
            invalid.add(field, message);
        }
    }
}

/// What a key can do at this request: its scopes (or, without, all of them) within what
/// its integration's modules grant now. Status (suspended, deleted), expiry, revocation
/// and a publishable key's restriction to `POST /check` are the caller's to apply.
pub fn powers(key_scopes: Option<&[Scope]>, integration: &Integration) -> BTreeSet<Scope> {
    let granted = integration.scopes();
    match key_scopes {
        None => granted,
        Some(scopes) => scopes
            .iter()
            .copied()
            .filter(|s| granted.contains(s))
            .collect(),
    }
}

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

/// A new key of `kind` and its prefix (its first [`KEY_PREFIX_LEN`] characters): `fsk_` or
/// `fpk_` then 192 random bits in unpadded base64url. The key is shown once; keep only
/// [`key_hash`] and the prefix.
pub fn generate_key(kind: KeyKind) -> (String, String) {
    use base64::Engine;
    use rand::RngExt;
    let bytes: [u8; KEY_RANDOM_BYTES] = rand::rng().random();
    let key = format!(
        "{}{}",
        kind.key_prefix(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let prefix = key[..KEY_PREFIX_LEN].to_owned();
    (key, prefix)
}

/// The SHA-256 of a key, as stored and looked up. A plain hash is enough: keys carry 192
/// random bits, so there is nothing for a slow hash to protect against guessing.
pub fn key_hash(key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes()).into()
}

/// The kind of key `token` claims to be by its prefix, or `None` (a JWT, or anything else).
pub fn looks_like_key(token: &str) -> Option<KeyKind> {
    KeyKind::ALL
        .into_iter()
        .find(|k| token.starts_with(k.key_prefix()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{complete, fields, t0};
    use super::super::{Integration, Module};
    use super::*;
    use serde_json::json;

    fn new_key(body: serde_json::Value) -> NewKey {
        serde_json::from_value(body).unwrap()
    }

    fn check(body: serde_json::Value, i: &Integration) -> Result<KeySpec, Invalid> {
        new_key(body).validate(i, t0())
    }

    fn publishable(origins: serde_json::Value) -> serde_json::Value {
        json!({"name": "site", "kind": "publishable", "allowed_origins": origins})
    }

    #[test]
    fn a_secret_key_by_default_has_whatever_the_modules_grant() {
        let k = check(json!({"name": "production"}), &complete()).unwrap();
        assert_eq!(k.kind, KeyKind::Secret);
        assert_eq!(
            (k.scopes, k.rate_limit_per_min, k.expires_at),
            (None, None, None)
        );
    }

    #[test]
    fn the_name_is_required_and_checked() {
        assert_eq!(
            fields(&check(json!({}), &complete()).unwrap_err()),
            ["name"]
        );
        assert_eq!(
            fields(&check(json!({"name": " "}), &complete()).unwrap_err()),
            ["name"]
        );
    }

    #[test]
    fn unknown_members_and_scopes_are_refused_by_the_parser() {
        assert!(serde_json::from_value::<NewKey>(json!({"name": "x", "colour": 1})).is_err());
        assert!(
            serde_json::from_value::<NewKey>(json!({"name": "x", "scopes": ["root"]})).is_err()
        );
        assert!(serde_json::from_value::<NewKey>(json!({"name": "x", "kind": "master"})).is_err());
        let k =
            new_key(json!({"name": "x", "kind": null, "scopes": null, "allowed_origins": null}));
        assert_eq!((k.kind, k.scopes), (KeyKind::Secret, None));
    }

    #[test]
    fn scopes_within_the_modules_are_kept_sorted() {
        let k = check(
            json!({"name": "x", "scopes": ["reservations:read", "feasibility"]}),
            &complete(),
        );
        assert_eq!(
            k.unwrap().scopes,
            Some(vec![Scope::Feasibility, Scope::ReservationsRead])
        );
    }

    #[test]
    fn a_scope_outside_the_modules_names_the_module_that_grants_it() {
        let e = check(
            json!({"name": "x", "scopes": ["feasibility", "inventory:write", "admin", "feasibility"]}),
            &complete(),
        )
        .unwrap_err();
        assert_eq!(fields(&e), ["scopes[1]", "scopes[2]", "scopes[3]"]);
        assert!(
            e.0[0].message.contains("inventory module"),
            "{}",
            e.0[0].message
        );
        assert!(
            e.0[1].message.contains("never granted"),
            "{}",
            e.0[1].message
        );
        assert!(e.0[2].message.contains("repeats"), "{}", e.0[2].message);
    }

    #[test]
    fn an_empty_scope_list_is_refused() {
        let e = check(json!({"name": "x", "scopes": []}), &complete()).unwrap_err();
        assert_eq!(fields(&e), ["scopes"]);
    }

    #[test]
    fn expires_at_must_be_in_the_future() {
        let i = complete();
        let at = |t: DateTime<Utc>| check(json!({"name": "x", "expires_at": t}), &i);
        assert_eq!(fields(&at(t0()).unwrap_err()), ["expires_at"]);
        assert_eq!(
            fields(&at(t0() - chrono::Duration::days(1)).unwrap_err()),
            ["expires_at"]
        );
        let future = t0() + chrono::Duration::seconds(1);
        assert_eq!(at(future).unwrap().expires_at, Some(future));
    }

    #[test]
    fn a_publishable_key_needs_allowed_origins() {
        let e = check(json!({"name": "site", "kind": "publishable"}), &complete()).unwrap_err();
        assert_eq!(fields(&e), ["allowed_origins"]);
    }

    #[test]
    fn a_publishable_key_has_only_feasibility_and_sixty_a_minute_by_default() {
        let k = check(publishable(json!(["https://www.example.com"])), &complete()).unwrap();
        assert_eq!(k.scopes, Some(vec![Scope::Feasibility]));
        assert_eq!(k.rate_limit_per_min, Some(PUBLISHABLE_DEFAULT_RATE_LIMIT));
        assert_eq!(k.allowed_origins, ["https://www.example.com"]);
        let mut body = publishable(json!(["https://www.example.com"]));
        body["scopes"] = json!(["feasibility", "reservations:write"]);
        let e = check(body, &complete()).unwrap_err();
        assert_eq!(fields(&e), ["scopes[1]"]);
    }

    #[test]
    fn a_publishable_key_needs_the_feasibility_module() {
        let mut i = complete();
        i.modules = vec![Module::Events];
        let e = check(publishable(json!(["https://www.example.com"])), &i).unwrap_err();
        assert_eq!(fields(&e), ["kind"]);
    }

    #[test]
    fn a_secret_key_takes_no_allowed_origins() {
        let e = check(
            json!({"name": "x", "allowed_origins": ["https://a.example"]}),
            &complete(),
        );
        assert_eq!(fields(&e.unwrap_err()), ["allowed_origins"]);
        assert!(check(json!({"name": "x", "allowed_origins": []}), &complete()).is_ok());
    }

    #[test]
    fn each_allowed_origin_is_checked_and_distinct() {
        let e = check(
            publishable(json!([
                "https://a.example",
                "https://a.example/",
                "https://a.example"
            ])),
            &complete(),
        )
        .unwrap_err();
        assert_eq!(fields(&e), ["allowed_origins[1]", "allowed_origins[2]"]);
    }

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

    #[test]
    fn rate_limits_are_1_to_100000_a_minute() {
        let i = complete();
        let rl = |n: u32| check(json!({"name": "x", "rate_limit_per_min": n}), &i);
        assert_eq!(fields(&rl(0).unwrap_err()), ["rate_limit_per_min"]);
        assert_eq!(fields(&rl(100_001).unwrap_err()), ["rate_limit_per_min"]);
        assert_eq!(rl(1).unwrap().rate_limit_per_min, Some(1));
        assert_eq!(rl(100_000).unwrap().rate_limit_per_min, Some(100_000));
        let mut body = publishable(json!(["https://a.example"]));
        body["rate_limit_per_min"] = json!(600);
        assert_eq!(check(body, &i).unwrap().rate_limit_per_min, Some(600));
    }

    #[test]
    fn every_fault_is_named_at_once() {
        let e = check(
            json!({"kind": "publishable", "scopes": ["events"], "expires_at": t0(), "rate_limit_per_min": 0}),
            &complete(),
        )
        .unwrap_err();
        assert_eq!(
            fields(&e),
            [
                "name",
                "scopes[0]",
                "expires_at",
                "allowed_origins",
                "rate_limit_per_min"
            ]
        );
    }

    #[test]
    fn powers_are_the_key_scopes_within_the_modules_as_they_are_now() {
        let mut i = complete();
        assert_eq!(powers(None, &i), i.scopes());
        let scopes = [Scope::Feasibility, Scope::ReservationsWrite];
        assert_eq!(powers(Some(&scopes), &i), BTreeSet::from(scopes));
        // The provider takes the reservations module away: the key loses it at once.
        i.modules = vec![Module::Feasibility];
        assert_eq!(
            powers(Some(&scopes), &i),
            BTreeSet::from([Scope::Feasibility])
        );
        assert_eq!(powers(None, &i), BTreeSet::from([Scope::Feasibility]));
        i.modules.clear();
        assert!(powers(Some(&scopes), &i).is_empty());
        assert!(powers(Some(&[Scope::Admin]), &i).is_empty());
    }

    #[test]
    fn keys_begin_with_their_kind_and_carry_192_random_bits() {
        for kind in KeyKind::ALL {
            let (key, prefix) = generate_key(kind);
            assert!(key.starts_with(kind.key_prefix()), "{key}");
            assert_eq!(key.len(), 4 + 32, "{key}");
            assert_eq!(prefix.len(), KEY_PREFIX_LEN);
            assert!(key.starts_with(&prefix));
            let body = &key[4..];
            assert!(
                body.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            use base64::Engine;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(body)
                .unwrap();
            assert!(bytes.len() * 8 >= 128);
            assert_eq!(looks_like_key(&key), Some(kind));
        }
        assert_eq!(generate_key(KeyKind::Secret).0[..4], *"fsk_");
        assert_eq!(generate_key(KeyKind::Publishable).0[..4], *"fpk_");
    }

    #[test]
    fn keys_do_not_repeat() {
        let keys: BTreeSet<String> = (0..1000).map(|_| generate_key(KeyKind::Secret).0).collect();
        assert_eq!(keys.len(), 1000);
        let prefixes: BTreeSet<String> =
            (0..1000).map(|_| generate_key(KeyKind::Secret).1).collect();
        assert!(prefixes.len() > 990, "prefixes carry 48 random bits");
    }

    #[test]
    fn the_key_hash_is_sha_256_and_stable() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let abc = key_hash("abc");
        assert_eq!(
            abc.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (key, _) = generate_key(KeyKind::Secret);
        assert_eq!(key_hash(&key), key_hash(&key.clone()));
        assert_ne!(key_hash(&key), key_hash(&generate_key(KeyKind::Secret).0));
    }

    #[test]
    fn jwts_and_other_tokens_do_not_look_like_keys() {
        assert_eq!(looks_like_key("eyJhbGciOiJIUzI1NiJ9.e30.x"), None);
        assert_eq!(looks_like_key("fsk"), None);
        assert_eq!(looks_like_key("FSK_abc"), None);
        assert_eq!(looks_like_key(""), None);
        assert_eq!(looks_like_key("fpk_x"), Some(KeyKind::Publishable));
    }

    #[test]
    fn kinds_use_their_api_names() {
        for k in KeyKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
            assert_eq!(KeyKind::parse(k.as_str()), Some(k));
        }
    }
}
