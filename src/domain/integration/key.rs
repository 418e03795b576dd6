//! An integration's keys: what a new key may be, and what it can do at each request.

use super::{Integration, missing_module};
use crate::auth::Scope;
use crate::domain::network::check_text;
use crate::domain::validation::Invalid;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::contacts::null_as_default;
use super::origin::check_origin;

/// The most origins one publishable key allows.
pub const MAX_ALLOWED_ORIGINS: usize = 100;
/// The highest `rate_limit_per_min` accepted.
pub const MAX_RATE_LIMIT_PER_MIN: u32 = 100_000;
/// A publishable key's limit per client address when none is given.
pub const PUBLISHABLE_DEFAULT_RATE_LIMIT: u32 = 60;

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
    fn kinds_use_their_api_names() {
        for k in KeyKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
            assert_eq!(KeyKind::parse(k.as_str()), Some(k));
        }
    }
}
