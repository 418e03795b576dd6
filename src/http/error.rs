//! `ApiError`: every failure the HTTP layer reports, each with a stable `code` and one
//! status, rendered as `application/problem+json` (RFC 9457).

use super::code::Code;
use crate::auth::{Scope, TokenError};
use crate::domain::validation::{FieldError, Invalid};
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
    #[error("this call needs the {0:?} scope")]
    InsufficientScope(&'static str),
    #[error("{0} not found")]
    NotFound(String),
    /// Names the methods the path has (its `Allow` header).
    #[error("this path takes {0}")]
    MethodNotAllowed(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
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
            Self::ForbiddenAddress => Code::ForbiddenAddress,
            Self::NotFound(_) => Code::NotFound,
            Self::MethodNotAllowed(_) => Code::MethodNotAllowed,
            Self::PayloadTooLarge(_) => Code::PayloadTooLarge,
            Self::UnsupportedMediaType(_) => Code::UnsupportedMediaType,
            Self::Conflict { code, .. } | Self::Unprocessable { code, .. } => *code,
            Self::Unavailable => Code::ServiceUnavailable,
            Self::NotReady(_) => Code::NotReady,
            Self::Internal(_) => Code::InternalError,
        }
    }

    pub fn scope(scope: Scope) -> Self {
        Self::InsufficientScope(scope.as_str())
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
                Self::Validation(invalid) => Some(&invalid.0),
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
            _ => {}
        }
        response.body(serde_json::to_string(&problem).expect("problems serialise"))
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
