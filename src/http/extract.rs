//! Extractors: the authenticated caller and JSON bodies that fail as problems, never with
//! actix's plain-text defaults.

use super::error::ApiError;
use crate::auth::{Claims, Scope, TokenKeys};
use crate::domain::feasibility::ProjectScope;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// The authenticated integration behind a request.
#[derive(Debug, Clone)]
pub struct Caller(pub std::sync::Arc<Claims>);

impl Caller {
    /// Refuses the call unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.has(scope) {
            Ok(())
        } else {
            Err(ApiError::scope(scope))
        }
    }

    /// Refuses the call unless the token carries one of `scopes`.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        match scopes.iter().find(|s| self.0.has(**s)) {
            Some(_) => Ok(()),
            None => Err(ApiError::scope(scopes[0])),
        }
    }

    pub fn projects(&self) -> ProjectScope {
        self.0.project_scope()
    }

    /// Objects of projects the token cannot see do not exist for it.
    pub fn see(&self, project: &str, what: impl FnOnce() -> String) -> Result<(), ApiError> {
        if self.projects().allows(project) {
            Ok(())
        } else {
            Err(ApiError::NotFound(what()))
        }
    }

    pub fn sub(&self) -> &str {
        &self.0.sub
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
    keys.verify(token)
        .map(Caller)
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
    let field = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_data() {
        let field = if field == "." {
            "body".to_owned()
        } else {
            field
        };
        Err(ApiError::invalid(&field, inner.to_string()))
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
            let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
            let bytes = read_body(&req, &mut payload, limit).await?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Query-string and path errors as problems.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::invalid("query", err.to_string()).into()
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
        assert_eq!(
            code(r#"{"lat": 1}"#),
            ("validation_failed", Some("body".into()))
        );
        assert_eq!(code(r#"[1, 2]"#).0, "validation_failed");
    }
}
