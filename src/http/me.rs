//! `GET /me`: who the credential is and what it may do, so that a client (the console)
//! shows only what it can use instead of learning it from refusals.

use super::ApiError;
use super::error::Problem;
use super::extract::Caller;
use crate::auth::Scope;
use crate::domain::feasibility::ProjectScope;
use actix_web::HttpResponse;
use serde::Serialize;

/// The caller as the service sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    /// `token` or `secret_key`.
    kind: &'static str,
    /// What its reservations' `created_by` records: a token's `sub`, a key's integration.
    subject: String,
    /// The scopes it holds now (a key's within its integration's modules).
    scopes: Vec<Scope>,
    /// The projects it sees, `["*"]` for all.
    projects: Vec<String>,
}

/// `GET /me`
#[utoipa::path(get, path = "/me", operation_id = "me", tag = "operations",
    responses((status = 200, description = "Who the credential is, its scopes and projects", body = Me), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "A publishable key, which may only call POST /check", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn me(caller: Caller) -> Result<HttpResponse, ApiError> {
    // A publishable key may only call `POST /check`, this too (refused with that advice).
    if caller.publishable_key().is_some() {
        caller.require(Scope::Feasibility)?;
    }
    let projects = match caller.projects() {
        ProjectScope::All => vec!["*".to_owned()],
        ProjectScope::Only(set) => set.into_iter().collect(),
    };
    Ok(HttpResponse::Ok().json(Me {
        kind: caller.kind(),
        subject: caller.creator().to_owned(),
        scopes: caller.scopes(),
        projects,
    }))
}
