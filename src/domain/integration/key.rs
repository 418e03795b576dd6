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
