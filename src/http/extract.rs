//! Extractors: the authenticated caller and JSON bodies that fail as problems, never with
//! actix's plain-text defaults.

use super::error::ApiError;
use crate::auth::{Claims, Scope, TokenKeys};
use crate::domain::feasibility::ProjectScope;
use crate::domain::integration::{self, KeyKind};
use crate::service::App;
use crate::service::credentials::{KeyPowers, KeyRecord};
use actix_web::HttpMessage;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// Who is calling, and what it may do now.
#[derive(Debug, Clone)]
pub struct Caller {
    principal: Principal,
}

#[derive(Debug, Clone)]
enum Principal {
    /// A JWT (the provider's own systems).
    Token(std::sync::Arc<Claims>),
    /// An integration's key: its powers as they were when the request came in.
    Key(std::sync::Arc<KeyPowers>),
}

impl Caller {
    pub fn token(claims: std::sync::Arc<Claims>) -> Self {
        Self {
            principal: Principal::Token(claims),
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        match &self.principal {
            Principal::Token(claims) => claims.has(scope),
            // A publishable key is public: it may only call `POST /check` (`check_caller`).
            Principal::Key(k) => k.key.kind == KeyKind::Secret && k.scopes.contains(&scope),
        }
    }

    /// Refuses the call unless the caller holds `scope`, naming what is missing: for a key,
    /// the module its integration would need.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.has(scope) {
            return Ok(());
        }
        Err(match &self.principal {
            Principal::Token(_) => ApiError::scope(scope),
            Principal::Key(k) if k.key.kind == KeyKind::Publishable => ApiError::InsufficientScope(
                "a publishable key may only call POST /check; use a secret key here".into(),
            ),
            Principal::Key(_) => ApiError::InsufficientScope(format!(
                "{}: ask the provider to add it to this integration, or use a key that has it",
                integration::scope_needed(scope)
            )),
        })
    }

    /// Refuses the call unless the caller holds one of `scopes`.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|s| self.has(**s)) {
            Some(_) => Ok(()),
            None => self.require(scopes[0]),
        }
    }

    pub fn projects(&self) -> ProjectScope {
        match &self.principal {
            Principal::Token(claims) => claims.project_scope(),
            Principal::Key(k) => k.projects(),
        }
    }

    /// Objects of projects the caller cannot see do not exist for it.
    pub fn see(&self, project: &str, what: impl FnOnce() -> String) -> Result<(), ApiError> {
        if self.projects().allows(project) {
            Ok(())
        } else {
            Err(ApiError::NotFound(what()))
        }
    }

    /// The scopes this caller holds (none for a publishable key, which may only check).
    pub fn scopes(&self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.has(*s)).collect()
    }

    /// `token`, `secret_key` or `publishable_key`.
    pub fn kind(&self) -> &'static str {
        match &self.principal {
            Principal::Token(_) => "token",
            Principal::Key(k) if k.key.kind == KeyKind::Publishable => "publishable_key",
            Principal::Key(_) => "secret_key",
        }
    }

    /// What a reservation's `created_by` records: the token's `sub`, or the key's
    /// integration.
    pub fn creator(&self) -> &str {
        match &self.principal {
            Principal::Token(claims) => &claims.sub,
            Principal::Key(k) => &k.integration.id,
        }
    }

    /// For an integration's webhooks and deliveries: `admin`, or `events` for the caller's
    /// own integration. Another integration's are 404 (they do not exist for it), a caller
    /// with neither scope 403.
    pub fn require_events_of(&self, integration_id: &str) -> Result<(), ApiError> {
        if self.has(Scope::Admin) {
            return Ok(());
        }
        self.require_any(&[Scope::Events, Scope::Admin])?;
        // The caller's integration: a key's own, or the one whose id is a token's `sub`.
        if self.creator() == integration_id {
            Ok(())
        } else {
            Err(ApiError::NotFound("the integration".into()))
        }
    }

    /// The integration whose reservations alone this caller sees: a key without
    /// `reservations:manage` (personal data stays with the partner that brought it).
    pub fn own_reservations_only(&self) -> Option<&str> {
        match &self.principal {
            Principal::Key(k) if !k.scopes.contains(&Scope::ReservationsManage) => {
                Some(&k.integration.id)
            }
            _ => None,
        }
    }

    /// Whether the caller is an integration's key (else a JWT).
    pub fn is_key(&self) -> bool {
        matches!(self.principal, Principal::Key(_))
    }

    /// The publishable key behind the call, if it is one (for `POST /check`'s origins).
    pub fn publishable_key(&self) -> Option<&KeyRecord> {
        match &self.principal {
            Principal::Key(k) if k.key.kind == KeyKind::Publishable => Some(&k.key),
            _ => None,
        }
    }

    /// For `POST /check`: the `feasibility` scope, or a publishable key called from one of
    /// its origins.
    pub fn require_check(&self, origin: Option<&str>) -> Result<(), ApiError> {
        match self.publishable_key() {
            Some(key) if origin.is_some_and(|o| key.allowed_origins.iter().any(|a| a == o)) => {
                Ok(())
            }
            Some(_) => Err(ApiError::OriginNotAllowed),
            None => self.require(Scope::Feasibility),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let keys = req
        .app_data::<web::Data<TokenKeys>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("token keys are not configured")))?;
    // Exactly one: with two, a proxy and the service could each read a different one.
    let mut headers = req
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION);
    let header = match (headers.next(), headers.next()) {
        (Some(one), None) => one.to_str().ok(),
        _ => None,
    }
    .ok_or(ApiError::Unauthenticated(crate::auth::TokenError::Invalid))?;
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(ApiError::Unauthenticated(crate::auth::TokenError::Invalid)),
    };
    if integration::looks_like_key(token).is_some() {
        let app = req
            .app_data::<web::Data<App>>()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the service is not configured")))?;
        let powers = app.verify_key(token).map_err(ApiError::Key)?;
        let address = super::client_address::of_request(req);
        match app.rate_limit(&powers.key, address) {
            Ok(Some(allowance)) => {
                req.extensions_mut().insert(allowance);
            }
            Ok(None) => {}
            Err(limited) => return Err(ApiError::RateLimited(limited)),
        }
        return Ok(Caller {
            principal: Principal::Key(powers),
        });
    }
    keys.verify(token)
        .map(Caller::token)
        .map_err(ApiError::Unauthenticated)
}

/// The body size limit of one kind of request.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_body<S>(
    req: &HttpRequest,
    payload: &mut S,
    limit: usize,
) -> Result<web::Bytes, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses JSON: syntax errors are 400 `malformed_json`; a wrong type or missing field is 422
/// naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is an object; serde would also take a struct's fields as a list.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
            .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    // Good bodies take one plain pass; only bad ones pay for finding the field at fault
    // (tracking the path allocates for every key).
    if let Ok(v) = serde_json::from_slice(bytes) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let failed = match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        Ok(v) if de.end().is_ok() => return Ok(v),
        // Trailing characters: the syntax check below names them.
        Ok(_) => None,
        Err(e) => Some(e),
    };
    // Syntax first, so a truncated body is 400 even when a field before the cut is wrong.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let Some(e) = failed else {
        return Err(ApiError::MalformedJson("trailing characters".into()));
    };
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_data() {
        let (field, message) = super::serde_words::describe(&path, &inner.to_string());
        Err(ApiError::invalid(&field, message))
    } else {
        Err(ApiError::MalformedJson(inner.to_string()))
    }
}

/// A JSON body within the ordinary (small) limit.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            json_content_type(&req)?;
            let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
            let bytes = read_body(&req, &mut payload, limit).await?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// JSON bodies are `application/json` (or a `+json` type); a body declared as anything
/// else is 415. A body sent without a type is read as JSON.
pub fn json_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(declared) = req.headers().get(actix_web::http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = declared
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "this endpoint takes application/json, not {essence:?}"
        )))
    }
}

/// Query parameters: a wrong value is 422 naming the parameter (`limit`), in the API's
/// words; one given twice is 422 naming it.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let (field, message) =
            super::serde_words::describe(&e.path().to_string(), &e.inner().to_string());
        ApiError::invalid(&field, message)
    })
}

pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound(format!("path ({err})")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        lat: f64,
        name: String,
    }

    fn code(body: &str) -> (&'static str, Option<String>) {
        match parse_json::<Body>(body.as_bytes()) {
            Ok(_) => ("ok", None),
            Err(ApiError::Validation(invalid)) => {
                ("validation_failed", Some(invalid.0[0].field.clone()))
            }
            Err(e) => (e.code().name(), None),
        }
    }

    #[test]
    fn bodies_are_parsed_or_refused_by_kind() {
        assert_eq!(code(r#"{"lat": 1, "name": "a"}  "#), ("ok", None));
        assert_eq!(
            code(r#"{"lat": 1, "name": "a"} x"#),
            ("malformed_json", None)
        );
        assert_eq!(
            code(r#"{"lat": 1, "name": "a"}{}"#),
            ("malformed_json", None)
        );
        // Truncated after a wrong field: the syntax is what is reported.
        assert_eq!(code(r#"{"lat": "x", "name": "#), ("malformed_json", None));
        assert_eq!(
            code(r#"{"lat": "x", "name": "a"}"#),
            ("validation_failed", Some("lat".into()))
        );
        // A missing field is named, not its parent.
        assert_eq!(
            code(r#"{"lat": 1}"#),
            ("validation_failed", Some("name".into()))
        );
        assert_eq!(
            code(r#"[1, 2]"#),
            ("validation_failed", Some("body".into()))
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        limit: Option<u32>,
        lat: Option<f64>,
    }

    fn query_error(query: &str) -> (String, String) {
        match parse_query::<Params>(query) {
            Err(ApiError::Validation(invalid)) => {
                (invalid.0[0].field.clone(), invalid.0[0].message.clone())
            }
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn query_errors_name_the_parameter_in_the_apis_words() {
        assert!(parse_query::<Params>("limit=5&lat=1.5").is_ok());
        assert_eq!(
            query_error("limit=abc"),
            ("limit".into(), "must be a whole number".into())
        );
        assert_eq!(
            query_error("lat=north"),
            ("lat".into(), "must be a number".into())
        );
        assert_eq!(query_error("limit=1&limit=2").0, "limit");
        assert_eq!(query_error("radius=1").0, "radius");
    }
}
