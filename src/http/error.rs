//! `ApiError`: every failure the HTTP layer reports, each with a stable `code` and one
//! status, rendered as `application/problem+json` (RFC 9457).

use super::code::Code;
use crate::auth::{Scope, TokenError};
use crate::domain::validation::{FieldError, Invalid};
use crate::service::credentials::KeyRefusal;
use crate::service::rate_limits::{Allowance, Limited};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("some fields are invalid")]
    Validation(Invalid),
    #[error("{0}")]
    Unauthenticated(TokenError),
    /// The detail names the scope or module that is missing.
    #[error("{0}")]
    InsufficientScope(String),
    /// An integration's key refused: unknown, expired, revoked, or its integration suspended.
    #[error("{}", key_detail(.0))]
    Key(KeyRefusal),
    #[error(
        "this publishable key does not allow the request's Origin: call from one of its \
         allowed_origins"
    )]
    OriginNotAllowed,
    #[error("too many requests for this key: retry after {} s", .0.retry_after_s)]
    RateLimited(Limited),
    #[error("{0} already exists (ids of deleted ones stay taken)")]
    AlreadyExists(String),
    #[error("the integration's contacts are incomplete: give every field named in errors first")]
    ContactsIncomplete(Invalid),
    #[error("{0} not found")]
    NotFound(String),
    /// Names the methods the path has (its `Allow` header).
    #[error("this path takes {0}")]
    MethodNotAllowed(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// A JSON batch with more items than it may have.
    #[error("more than {0} items: send at most {0} in one JSON batch, or the points as CSV")]
    TooManyItems(usize),
    /// The body's `Content-Type` is not one the endpoint takes; the detail names those.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A 409: `code` is one of the conflict rows of the table.
    #[error("{detail}")]
    Conflict {
        code: Code,
        detail: String,
        reservations: Vec<serde_json::Value>,
    },
    /// A 422 with its own code (not a field validation).
    #[error("{detail}")]
    Unprocessable { code: Code, detail: String },
    #[error("calls from this address are not allowed")]
    ForbiddenAddress,
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("the service is not ready: {0}")]
    NotReady(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// This failure's row of the code table.
    pub fn code(&self) -> Code {
        match self {
            Self::MalformedJson(_) => Code::MalformedJson,
            Self::BadRequest(_) => Code::BadRequest,
            Self::Validation(_) => Code::ValidationFailed,
            Self::Unauthenticated(TokenError::Expired) => Code::TokenExpired,
            Self::Unauthenticated(TokenError::Invalid) => Code::InvalidCredentials,
            Self::InsufficientScope(_) => Code::InsufficientScope,
            Self::Key(KeyRefusal::Unknown) => Code::InvalidCredentials,
            Self::Key(KeyRefusal::Expired) => Code::KeyExpired,
            Self::Key(KeyRefusal::Revoked) => Code::KeyRevoked,
            Self::Key(KeyRefusal::Suspended) => Code::IntegrationSuspended,
            Self::OriginNotAllowed => Code::OriginNotAllowed,
            Self::RateLimited(_) => Code::RateLimited,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::ContactsIncomplete(_) => Code::ContactsIncomplete,
            Self::ForbiddenAddress => Code::ForbiddenAddress,
            Self::NotFound(_) => Code::NotFound,
            Self::MethodNotAllowed(_) => Code::MethodNotAllowed,
            Self::PayloadTooLarge(_) | Self::TooManyItems(_) => Code::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => Code::UnsupportedMediaType,
            Self::Conflict { code, .. } | Self::Unprocessable { code, .. } => *code,
            Self::Unavailable => Code::ServiceUnavailable,
            Self::NotReady(_) => Code::NotReady,
            Self::Internal(_) => Code::InternalError,
        }
    }

    pub fn scope(scope: Scope) -> Self {
        Self::InsufficientScope(format!("this call needs the {:?} scope", scope.as_str()))
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(Invalid::one(field, message))
    }
}

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem<'a> {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: String,
    pub code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<&'a [serde_json::Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let Self::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let problem = Problem {
            kind: format!("urn:problem:ftth-feasibility:{}", self.code().name()),
            title: self.code().title(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().name(),
            errors: match self {
                Self::Validation(invalid) | Self::ContactsIncomplete(invalid) => Some(&invalid.0),
                _ => None,
            },
            reservations: match self {
                Self::Conflict { reservations, .. } if !reservations.is_empty() => {
                    Some(reservations)
                }
                _ => None,
            },
            request_id: super::middleware::current_request_id(),
        };
        let mut response = HttpResponse::build(status);
        response.content_type(PROBLEM_JSON);
        match self {
            Self::Unauthenticated(_) => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            Self::MethodNotAllowed(allow) => {
                response.insert_header(("Allow", allow.as_str()));
            }
            Self::Key(KeyRefusal::Unknown | KeyRefusal::Expired | KeyRefusal::Revoked) => {
                response.insert_header(("WWW-Authenticate", "Bearer"));
            }
            Self::RateLimited(limited) => {
                response.insert_header(("Retry-After", limited.retry_after_s.to_string()));
                for (name, value) in rate_limit_headers(&limited.allowance) {
                    response.insert_header((name, value));
                }
            }
            _ => {}
        }
        response.body(serde_json::to_string(&problem).expect("problems serialise"))
    }
}

/// What to tell the holder of a refused key.
fn key_detail(refusal: &KeyRefusal) -> &'static str {
    match refusal {
        KeyRefusal::Unknown => {
            "invalid credential: this key is not one the provider issued; check that it is \
             sent whole, or ask the provider for new credentials"
        }
        KeyRefusal::Expired => {
            "this key has expired: ask the provider for a new key and update the credentials"
        }
        KeyRefusal::Revoked => {
            "this key was revoked: ask the provider for a new key and update the credentials"
        }
        KeyRefusal::Suspended => {
            "this integration is suspended: contact the provider to have it reactivated"
        }
    }
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` of a limited key's answer.
pub fn rate_limit_headers(a: &Allowance) -> [(&'static str, String); 3] {
    [
        ("ratelimit-limit", a.limit.to_string()),
        ("ratelimit-remaining", a.remaining.to_string()),
        ("ratelimit-reset", a.reset_s.to_string()),
    ]
}

impl From<crate::service::integrations::IntegrationError> for ApiError {
    fn from(e: crate::service::integrations::IntegrationError) -> Self {
        use crate::service::integrations::IntegrationError as E;
        match e {
            E::Invalid(invalid) => Self::Validation(invalid),
            E::ContactsIncomplete(fields) => Self::ContactsIncomplete(Invalid(
                fields
                    .into_iter()
                    .map(|field| crate::domain::validation::FieldError {
                        field,
                        message: "is required before keys can be issued".into(),
                    })
                    .collect(),
            )),
            E::Store(StoreError::AlreadyExists) => {
                Self::AlreadyExists("an integration with this id".into())
            }
            E::Store(StoreError::NotFound) => Self::NotFound("the integration or key".into()),
            E::Store(other) => other.into(),
        }
    }
}

impl From<crate::service::webhooks::WebhookError> for ApiError {
    fn from(e: crate::service::webhooks::WebhookError) -> Self {
        use crate::service::webhooks::WebhookError as E;
        match e {
            E::Invalid(invalid) => Self::Validation(invalid),
            E::NotFound => Self::NotFound("the integration or webhook".into()),
            E::Store(other) => other.into(),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::Validation(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("the object".into()),
            StoreError::AlreadyExists => Self::AlreadyExists("an object with this id".into()),
            StoreError::PortsHeld {
                detail,
                reservations,
            } => Self::Conflict {
                code: Code::PortsHeld,
                detail,
                reservations,
            },
            StoreError::Invalid(invalid) => Self::Validation(invalid),
            e if e.is_unavailable() => {
                tracing::warn!(error = ?e, "database unavailable");
                Self::Unavailable
            }
            other => Self::Internal(other.into()),
        }
    }
}
