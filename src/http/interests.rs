//! Interests: `POST /interest`, `GET /interest/{id}`, `GET /interest`, `DELETE
//! /interest/{id}`. Who sees one follows the rule for reservations: a key without
//! `reservations:manage` sees only its own integration's.

use super::ApiError;
use super::code::Code;
use super::error::Problem;
use super::extract::{BodyLimit, Caller, Query, parse_json, read_body};
use crate::auth::Scope;
use crate::domain::interest::{
    Interest, InterestRequest, InterestStatus, Registrant, StoredInterest,
};
use crate::service::{App, InterestError};
use crate::store::{InterestFilter, StoreError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

impl From<InterestError> for ApiError {
    fn from(e: InterestError) -> Self {
        match e {
            InterestError::Invalid(invalid) => ApiError::Validation(invalid),
            InterestError::UnknownPlan(id) => ApiError::NotFound(format!("plan {id:?}")),
            InterestError::AlreadyFeasible => ApiError::Conflict {
                code: Code::AlreadyFeasible,
                detail: "the plan can be sold here now: reserve a port instead".into(),
                reservations: Vec::new(),
            },
            InterestError::Store(e) => e.into(),
        }
    }
}

/// `POST /interest`
#[utoipa::path(post, path = "/interest", operation_id = "create_interest", tag = "interest", request_body = InterestRequest,
    responses((status = 201, description = "Registered, waiting", body = Interest), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields (consent, contact, ...)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Unknown plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "already_feasible: the plan can be sold there now", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsWrite)?;
    let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
    let bytes = read_body(&req, &mut payload, limit).await?;
    let request: InterestRequest = parse_json(&bytes)?;
    let registrant = Registrant {
        created_by: caller.creator().to_owned(),
        by_key: caller.is_key(),
        projects: caller.projects(),
    };
    let interest = app.register_interest(&request, &registrant).await?;
    Ok(HttpResponse::Created().json(interest))
}

/// The interest, when the caller may see it: its own integration's for a key without
/// `reservations:manage`, and within the caller's projects.
async fn visible(app: &App, caller: &Caller, id: &str) -> Result<StoredInterest, ApiError> {
    let not_found = || ApiError::NotFound(format!("interest {id:?}"));
    let s = app.interest(id).await.map_err(|e| match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    let own = caller
        .own_reservations_only()
        .is_none_or(|creator| s.interest.created_by == creator);
    if own && s.visible_in(&caller.projects()) {
        Ok(s)
    } else {
        Err(not_found())
    }
}

/// `GET /interest/{id}`
#[utoipa::path(get, path = "/interest/{id}", operation_id = "get_interest", tag = "interest", params(("id" = String, Path, description = "Interest id")),
    responses((status = 200, description = "The interest", body = Interest), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or not the caller's to see)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsRead)?;
    Ok(HttpResponse::Ok().json(visible(&app, &caller, &id).await?.interest))
}

/// `DELETE /interest/{id}`: the contact erased, the record kept (`withdrawn`).
#[utoipa::path(delete, path = "/interest/{id}", operation_id = "delete_interest", tag = "interest", params(("id" = String, Path, description = "Interest id")),
    responses((status = 204, description = "Withdrawn: the contact is erased, the record stays"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or not the caller's to see)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsWrite)?;
    let s = visible(&app, &caller, &id).await?;
    app.withdraw_interest(&s.interest.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(inline, value_type = Option<InterestStatus>)]
    status: Option<String>,
    /// Default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

/// A page of interests, newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct InterestPage {
    items: Vec<Interest>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// `GET /interest?status=&limit=&cursor=`: newest first, cursor-paginated.
#[utoipa::path(get, path = "/interest", operation_id = "list_interests", tag = "interest", params(ListParams),
    responses((status = 200, description = "A page of interests, newest first", body = InterestPage), (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn list(
    app: web::Data<App>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsRead)?;
    let max = super::reservations::MAX_LIMIT;
    let limit = params.limit.unwrap_or(100);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}"),
        ));
    }
    let status = match &params.status {
        Some(s) => Some(InterestStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "must be one of waiting, notified, withdrawn, lapsed",
            )
        })?),
        None => None,
    };
    let mut filter = InterestFilter {
        status,
        created_by: caller.own_reservations_only().map(str::to_owned),
        after: params
            .cursor
            .as_deref()
            .map(super::cursor::decode)
            .transpose()?,
    };
    // Those outside the caller's projects are left out: read on until the page is full.
    let scope = caller.projects();
    let mut items: Vec<Interest> = Vec::new();
    loop {
        let batch = app.interests(&filter, limit + 1).await?;
        let done = batch.len() <= limit;
        filter.after = batch.last().map(|s| {
            (
                s.interest.created_at.timestamp_micros(),
                s.interest.id.clone(),
            )
        });
        items.extend(
            batch
                .into_iter()
                .filter(|s| s.visible_in(&scope))
                .map(|s| s.interest),
        );
        if done || items.len() > limit {
            break;
        }
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|i| super::cursor::encode(i.created_at.timestamp_micros(), &i.id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(InterestPage { items, next_cursor }))
}
