//! Tokens: HS256 JWTs naming the integration user, its projects and scopes.

use crate::domain::feasibility::ProjectScope;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a token may do. Ordered (declaration order) so sets of scopes list stably.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Scope {
    #[serde(rename = "feasibility")]
    Feasibility,
    #[serde(rename = "reservations:write")]
    ReservationsWrite,
    #[serde(rename = "reservations:read")]
    ReservationsRead,
    #[serde(rename = "reservations:manage")]
    ReservationsManage,
    #[serde(rename = "inventory:write")]
    InventoryWrite,
    #[serde(rename = "events")]
    Events,
    #[serde(rename = "demand:read")]
    DemandRead,
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Self::Feasibility,
        Self::ReservationsWrite,
        Self::ReservationsRead,
        Self::ReservationsManage,
        Self::InventoryWrite,
        Self::Events,
        Self::DemandRead,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feasibility => "feasibility",
            Self::ReservationsWrite => "reservations:write",
            Self::ReservationsRead => "reservations:read",
            Self::ReservationsManage => "reservations:manage",
            Self::InventoryWrite => "inventory:write",
            Self::Events => "events",
            Self::DemandRead => "demand:read",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl Claims {
    /// A `sub` that names someone, and no text the database could not store (NUL).
    fn usable(&self) -> bool {
        !self.sub.trim().is_empty()
            && !self.sub.chars().any(char::is_control)
            && !self.projects.iter().any(|p| p.contains('\0'))
    }
}

/// The claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    /// Seconds since the epoch; RFC 7519 allows a fraction, which is dropped (the token
    /// expires at the start of its last second).
    #[serde(deserialize_with = "numeric_date")]
    pub exp: u64,
    #[serde(
        default,
        deserialize_with = "optional_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub iat: Option<u64>,
    /// Who the token is for: one name or a list (checked by the decoder against
    /// `jwt_audience`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default)]
    pub projects: Vec<String>,
    /// Scopes as an array, or as one space-separated string (OAuth style). Unknown scopes
    /// are ignored.
    #[serde(default, deserialize_with = "scopes_from_list_or_string")]
    pub scopes: Vec<String>,
}

/// A NumericDate (RFC 7519 §2): a non-negative number of seconds, fraction allowed.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let seconds = f64::deserialize(d)?;
    if seconds.is_finite() && (0.0..u64::MAX as f64).contains(&seconds) {
        Ok(seconds.floor() as u64)
    } else {
        Err(serde::de::Error::custom("not a NumericDate"))
    }
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    numeric_date(d).map(Some)
}

fn scopes_from_list_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Form::deserialize(d)? {
        Form::List(l) => l,
        Form::Text(t) => t.split_whitespace().map(str::to_owned).collect(),
    })
}

impl Claims {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.as_str())
    }

    pub fn project_scope(&self) -> ProjectScope {
        ProjectScope::from_claim(&self.projects)
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error(
        "no usable token: send one `Authorization: Bearer <token>` header with a token this \
         service issued, that is valid now and names a user"
    )]
    Invalid,
}

/// Signs and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    audience: Option<String>,
    verified: Arc<Verified>,
}

/// Tokens whose signature has been checked, keyed by the whole token: an integration sends
/// the same token for hours, and checking the signature and parsing the claims again would
/// be a sizeable part of a feasibility answer's cost. Expiry is still checked on every use.
#[derive(Default)]
struct Verified(RwLock<HashMap<Box<str>, Arc<Claims>>>);

impl Verified {
    /// Entries kept at most; when full, all are dropped (tokens are re-verified once).
    const CAPACITY: usize = 4096;

    fn get(&self, token: &str) -> Option<Arc<Claims>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(token).cloned()
    }

    fn put(&self, token: &str, claims: Arc<Claims>) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(token.into(), claims);
    }
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys([redacted])")
    }
}

pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenKeys {
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims = ["exp", "sub"].into_iter().map(String::from).collect();
        // An expired token is expired, and one not yet valid is not: no grace period.
        validation.leeway = 0;
        validation.validate_nbf = true;
        // With no audience configured, a token that names one is meant for someone else.
        validation.validate_aud = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            audience: None,
            verified: Arc::default(),
        }
    }

    /// Tokens must name `audience` in their `aud` (and minted ones do).
    pub fn with_audience(mut self, audience: Option<&str>) -> Self {
        if let Some(a) = audience {
            self.validation.set_audience(&[a]);
            self.validation.required_spec_claims.insert("aud".into());
        }
        self.audience = audience.map(str::to_owned);
        self
    }

    /// Verifies signature, algorithm (only HS256; `none` and all others refused), expiry,
    /// `nbf`, audience, and that no `crit` extension is asked for (none is understood).
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            // At the last second of its life a token goes through the full check, so that
            // the cache never decides an expiry differently from it.
            if now_s() < claims.exp {
                return Ok(claims);
            }
        }
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) if !data.claims.usable() || data.header.crit.is_some() => {
                Err(TokenError::Invalid)
            }
            Ok(data) => {
                let claims = Arc::new(data.claims);
                self.verified.put(token, Arc::clone(&claims));
                Ok(claims)
            }
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }

    /// Mints a token valid for `ttl_s` seconds.
    pub fn mint(&self, sub: &str, projects: &[String], scopes: &[String], ttl_s: u64) -> String {
        let now = now_s();
        let claims = Claims {
            sub: sub.to_owned(),
            exp: now + ttl_s,
            iat: Some(now),
            aud: self.audience.clone().map(serde_json::Value::String),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            projects: projects.to_vec(),
            scopes: scopes.to_vec(),
        };
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::hs256(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn a_minted_token_verifies() {
        let t = keys().mint("crm", &["sp".into()], &["feasibility".into()], 60);
        let c = keys().verify(&t).unwrap();
        assert_eq!(c.sub, "crm");
        assert!(c.has(Scope::Feasibility) && !c.has(Scope::Admin));
    }

    #[test]
    fn expired_forged_and_unsigned_tokens_are_refused() {
        let k = keys();
        let mut c = Claims::clone(&k.verify(&k.mint("crm", &[], &[], 60)).unwrap());
        c.exp = now_s() - 1;
        assert_eq!(k.verify(&k.sign(&c)), Err(TokenError::Expired));
        let other = TokenKeys::hs256(b"another-secret-another-secret!!");
        assert_eq!(
            k.verify(&other.mint("crm", &[], &[], 60)),
            Err(TokenError::Invalid)
        );
        // alg "none": header {"alg":"none","typ":"JWT"}, no signature.
        let payload = serde_json::json!({"sub": "crm", "exp": now_s() + 60});
        use base64::Engine;
        let encode = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let none = format!(
            "{}.{}.",
            encode(br#"{"alg":"none","typ":"JWT"}"#),
            encode(payload.to_string().as_bytes())
        );
        assert_eq!(k.verify(&none), Err(TokenError::Invalid));
        assert_eq!(k.verify("not-a-token"), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_verified_before_is_refused_once_expired() {
        let k = keys();
        let mut claims = Claims::clone(&k.verify(&k.mint("crm", &[], &[], 60)).unwrap());
        claims.exp = now_s() - 1;
        let token = k.sign(&claims);
        // As if verified while it was still valid.
        k.verified.put(&token, Arc::new(claims));
        assert_eq!(k.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_cached_token_answers_like_a_fresh_check() {
        let k = keys();
        let token = k.mint("crm", &["sp".into()], &["feasibility".into()], 60);
        let first = k.verify(&token).unwrap();
        let again = k.verify(&token).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second check comes from the cache"
        );
        // A clone of the keys (as each HTTP worker holds) shares what was verified.
        assert!(Arc::ptr_eq(&first, &k.clone().verify(&token).unwrap()));
        // One changed byte of the signature is not the cached token.
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(k.verify(&forged), Err(TokenError::Invalid));
    }

    /// A token signed with the test secret, whatever its header and claims.
    fn signed(header: Header, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap()
    }

    #[test]
    fn the_contracts_edge_cases_of_claims_and_headers() {
        let k = keys();
        let hs256 = || Header::new(Algorithm::HS256);
        let later = now_s() + 600;
        let claims = |extra: serde_json::Value| {
            let mut c = serde_json::json!({"sub": "crm", "exp": later});
            c.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            c
        };
        assert!(
            k.verify(&signed(hs256(), claims(serde_json::json!({}))))
                .is_ok()
        );
        // Not yet valid, then valid since a moment.
        let nbf = |at: u64| signed(hs256(), claims(serde_json::json!({"nbf": at})));
        assert_eq!(k.verify(&nbf(now_s() + 60)), Err(TokenError::Invalid));
        assert!(k.verify(&nbf(now_s() - 1)).is_ok());
        // A critical extension this service does not understand.
        let mut crit = hs256();
        crit.crit = Some(vec!["exp".into()]);
        assert_eq!(
            k.verify(&signed(crit, claims(serde_json::json!({})))),
            Err(TokenError::Invalid)
        );
        // A blank subject.
        for sub in ["", "   ", "\t"] {
            let t = signed(hs256(), serde_json::json!({"sub": sub, "exp": later}));
            assert_eq!(k.verify(&t), Err(TokenError::Invalid), "sub {sub:?}");
        }
        // Non-integer NumericDates.
        let float = signed(
            hs256(),
            serde_json::json!({"sub": "crm", "exp": later as f64 + 0.5, "iat": 1.7e9, "nbf": 1.5e9}),
        );
        assert_eq!(k.verify(&float).unwrap().exp, later);
        let past = signed(
            hs256(),
            serde_json::json!({"sub": "crm", "exp": now_s() as f64 - 1.5}),
        );
        assert_eq!(k.verify(&past), Err(TokenError::Expired));
    }

    #[test]
    fn an_audience_is_required_when_configured_and_refused_otherwise() {
        let aud = |a: serde_json::Value| {
            signed(
                Header::new(Algorithm::HS256),
                serde_json::json!({"sub": "crm", "exp": now_s() + 60, "aud": a}),
            )
        };
        let plain = keys();
        assert_eq!(plain.verify(&aud("crm-x".into())), Err(TokenError::Invalid));
        assert_eq!(
            plain.verify(&aud(serde_json::json!(["a", "b"]))),
            Err(TokenError::Invalid)
        );
        let ours = keys().with_audience(Some("ftth"));
        assert!(ours.verify(&aud("ftth".into())).is_ok());
        assert!(
            ours.verify(&aud(serde_json::json!(["other", "ftth"])))
                .is_ok()
        );
        assert_eq!(ours.verify(&aud("other".into())), Err(TokenError::Invalid));
        assert_eq!(
            ours.verify(&ours.sign(&Claims {
                aud: None,
                ..Claims::clone(&plain.verify(&plain.mint("crm", &[], &[], 60)).unwrap())
            })),
            Err(TokenError::Invalid),
            "a token without aud"
        );
        // What it mints carries the audience.
        assert!(ours.verify(&ours.mint("crm", &[], &[], 60)).is_ok());
    }

    #[test]
    fn scopes_may_be_a_space_separated_string() {
        let c: Claims = serde_json::from_value(
            serde_json::json!({"sub": "x", "exp": 1, "scopes": "feasibility admin"}),
        )
        .unwrap();
        assert!(c.has(Scope::Admin));
    }
}
