//! Every `code` the API answers with, with its HTTP status and title: one exhaustive table
//! (as meilisearch's `Code`), so that a new failure needs a row of its own and can never
//! borrow another's code.

use crate::domain::feasibility::Reason;
use actix_web::http::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    MalformedJson,
    BadRequest,
    ValidationFailed,
    InvalidCredentials,
    TokenExpired,
    KeyExpired,
    KeyRevoked,
    IntegrationSuspended,
    InsufficientScope,
    OriginNotAllowed,
    ForbiddenAddress,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnsupportedCrs,
    NoCoverage,
    NetworkNotDeployed,
    PlanNotAvailable,
    NoFreePorts,
    InvalidTransition,
    PortsHeld,
    AlreadyExists,
    AlreadyFeasible,
    ContactsIncomplete,
    RateLimited,
    IdempotencyKeyReused,
    ServiceUnavailable,
    NotReady,
    InternalError,
}

impl Code {
    pub const ALL: [Code; 30] = [
        Self::MalformedJson,
        Self::BadRequest,
        Self::ValidationFailed,
        Self::InvalidCredentials,
        Self::TokenExpired,
        Self::KeyExpired,
        Self::KeyRevoked,
        Self::IntegrationSuspended,
        Self::InsufficientScope,
        Self::OriginNotAllowed,
        Self::ForbiddenAddress,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::UnsupportedCrs,
        Self::NoCoverage,
        Self::NetworkNotDeployed,
        Self::PlanNotAvailable,
        Self::NoFreePorts,
        Self::InvalidTransition,
        Self::PortsHeld,
        Self::AlreadyExists,
        Self::AlreadyFeasible,
        Self::ContactsIncomplete,
        Self::RateLimited,
        Self::IdempotencyKeyReused,
        Self::ServiceUnavailable,
        Self::NotReady,
        Self::InternalError,
    ];

    /// The code as sent, its status and its title.
    const fn row(self) -> (&'static str, StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            Self::MalformedJson => ("malformed_json", S::BAD_REQUEST, "Malformed JSON"),
            Self::BadRequest => ("bad_request", S::BAD_REQUEST, "Bad request"),
            Self::ValidationFailed => (
                "validation_failed",
                S::UNPROCESSABLE_ENTITY,
                "Validation failed",
            ),
            Self::InvalidCredentials => ("invalid_credentials", S::UNAUTHORIZED, "Unauthenticated"),
            Self::TokenExpired => ("token_expired", S::UNAUTHORIZED, "Unauthenticated"),
            Self::KeyExpired => ("key_expired", S::UNAUTHORIZED, "Unauthenticated"),
            Self::KeyRevoked => ("key_revoked", S::UNAUTHORIZED, "Unauthenticated"),
            Self::IntegrationSuspended => (
                "integration_suspended",
                S::FORBIDDEN,
                "Integration suspended",
            ),
            Self::InsufficientScope => ("insufficient_scope", S::FORBIDDEN, "Insufficient scope"),
            Self::OriginNotAllowed => ("origin_not_allowed", S::FORBIDDEN, "Origin not allowed"),
            Self::ForbiddenAddress => ("forbidden_address", S::FORBIDDEN, "Forbidden address"),
            Self::NotFound => ("not_found", S::NOT_FOUND, "Not found"),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                S::METHOD_NOT_ALLOWED,
                "Method not allowed",
            ),
            Self::PayloadTooLarge => (
                "payload_too_large",
                S::PAYLOAD_TOO_LARGE,
                "Payload too large",
            ),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported media type",
            ),
            Self::UnsupportedCrs => (
                "unsupported_crs",
                S::UNPROCESSABLE_ENTITY,
                "Unsupported coordinate reference system",
            ),
            Self::NoCoverage => ("no_coverage", S::CONFLICT, "No coverage"),
            Self::NetworkNotDeployed => {
                ("network_not_deployed", S::CONFLICT, "Network not deployed")
            }
            Self::PlanNotAvailable => ("plan_not_available", S::CONFLICT, "Plan not available"),
            Self::NoFreePorts => ("no_free_ports", S::CONFLICT, "No free ports"),
            Self::InvalidTransition => ("invalid_transition", S::CONFLICT, "Invalid transition"),
            Self::PortsHeld => ("ports_held", S::CONFLICT, "Ports held"),
            Self::AlreadyExists => ("already_exists", S::CONFLICT, "Already exists"),
            Self::AlreadyFeasible => ("already_feasible", S::CONFLICT, "Already feasible"),
            Self::ContactsIncomplete => ("contacts_incomplete", S::CONFLICT, "Contacts incomplete"),
            Self::RateLimited => ("rate_limited", S::TOO_MANY_REQUESTS, "Rate limited"),
            Self::IdempotencyKeyReused => (
                "idempotency_key_reused",
                S::UNPROCESSABLE_ENTITY,
                "Idempotency key reused",
            ),
            Self::ServiceUnavailable => (
                "service_unavailable",
                S::SERVICE_UNAVAILABLE,
                "Service unavailable",
            ),
            Self::NotReady => ("not_ready", S::SERVICE_UNAVAILABLE, "Not ready"),
            Self::InternalError => ("internal_error", S::INTERNAL_SERVER_ERROR, "Internal error"),
        }
    }

    pub const fn name(self) -> &'static str {
        self.row().0
    }

    pub const fn status(self) -> StatusCode {
        self.row().1
    }

    pub const fn title(self) -> &'static str {
        self.row().2
    }
}

impl From<Reason> for Code {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::NoCoverage => Self::NoCoverage,
            Reason::NetworkNotDeployed => Self::NetworkNotDeployed,
            Reason::PlanNotAvailable => Self::PlanNotAvailable,
            Reason::NoFreePorts => Self::NoFreePorts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case_words() {
        let mut names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Code::ALL.len());
    }

    #[test]
    fn a_feasibility_reason_is_answered_with_its_own_code() {
        for reason in Reason::ALL {
            let code = Code::from(reason);
            assert_eq!(code.name(), reason.as_str());
            assert_eq!(code.status(), StatusCode::CONFLICT);
        }
    }
}
