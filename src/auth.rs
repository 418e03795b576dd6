//! Tokens: HS256 JWTs naming the integration user, its projects and scopes.

use crate::domain::feasibility::ProjectScope;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Self::Feasibility,
        Self::ReservationsWrite,
        Self::ReservationsRead,
        Self::ReservationsManage,
        Self::InventoryWrite,
        Self::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feasibility => "feasibility",
            Self::ReservationsWrite => "reservations:write",
            Self::ReservationsRead => "reservations:read",
            Self::ReservationsManage => "reservations:manage",
            Self::InventoryWrite => "inventory:write",
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
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default)]
    pub projects: Vec<String>,
    /// Scopes as an array, or as one space-separated string (OAuth style). Unknown scopes
    /// are ignored.
    #[serde(default, deserialize_with = "scopes_from_list_or_string")]
    pub scopes: Vec<String>,
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
    #[error("the token is missing, malformed or wrongly signed")]
    Invalid,
}

/// Signs and verifies tokens with one HS256 secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
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
        // An expired token is expired: no grace period.
        validation.leeway = 0;
        validation.validate_aud = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Arc::default(),
        }
    }

    /// Verifies signature, algorithm (only HS256; `none` and all others refused) and expiry.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        if let Some(claims) = self.verified.get(token) {
            // At the last second of its life a token goes through the full check, so that
            // the cache never decides an expiry differently from it.
            if now_s() < claims.exp {
                return Ok(claims);
            }
        }
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) if !data.claims.usable() => Err(TokenError::Invalid),
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

    #[test]
    fn scopes_may_be_a_space_separated_string() {
        let c: Claims = serde_json::from_value(
            serde_json::json!({"sub": "x", "exp": 1, "scopes": "feasibility admin"}),
        )
        .unwrap();
        assert!(c.has(Scope::Admin));
    }
}
