use super::ApiError;
use super::code::Code;
use super::error::Problem;
use super::extract::{BodyLimit, Caller, Query, parse_json, read_body};
use crate::auth::Scope;
use crate::domain::reservation::Reservation;
use crate::domain::reservation::{ReservationRequest, Status, Transition, valid_idempotency_key};
use crate::service::{App, IdempotentRequest, ReserveError};
use crate::store::{ReservationFilter, StoreError, TransitionError};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub(crate) const MAX_LIMIT: usize = 500;

impl From<ReserveError> for ApiError {
    fn from(e: ReserveError) -> Self {
        match e {
            ReserveError::Invalid(invalid) => ApiError::Validation(invalid),
            ReserveError::UnknownPlan(id) => ApiError::NotFound(format!("plan {id:?}")),
            ReserveError::NotFeasible(reason) => ApiError::Conflict {
                code: reason.into(),
                detail: format!("no port can be held here: {}", reason.as_str()),
                reservations: Vec::new(),
            },
            ReserveError::KeyReused => ApiError::Unprocessable {
                code: Code::IdempotencyKeyReused,
                detail: "this Idempotency-Key was already used with another body".into(),
            },
            ReserveError::Store(e) => e.into(),
        }
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> Self {
        match e {
            TransitionError::Invalid { .. } => ApiError::Conflict {
                code: Code::InvalidTransition,
                detail: e.to_string(),
                reservations: Vec::new(),
            },
            TransitionError::NotCreator => ApiError::scope(Scope::ReservationsManage),
            TransitionError::Store(StoreError::NotFound) => {
                ApiError::NotFound("reservation".into())
            }
            TransitionError::Store(e) => e.into(),
        }
    }
}

/// `POST /reservations`
#[utoipa::path(post, path = "/reservations", operation_id = "create_reservation", tag = "reservations", request_body = ReservationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters")),
    responses((status = 201, description = "Held, durably stored", body = Reservation), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing can be held: code is the feasibility reason", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsWrite)?;
    let key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str().ok().filter(|k| valid_idempotency_key(k)) {
            Some(k) => Some(k.to_owned()),
            None => {
                return Err(ApiError::invalid(
                    "Idempotency-Key",
                    "must be 1 to 255 visible ASCII characters",
                ));
            }
        },
    };
    let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
    let bytes = read_body(&req, &mut payload, limit).await?;
    let request: ReservationRequest = parse_json(&bytes)?;
    // The same body means the same JSON value, whatever its spacing or key order.
    let canonical: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let idempotency = key.map(|key| IdempotentRequest {
        key,
        canonical_body: canonical.to_string(),
    });
    let reserved = app
        .reserve(&request, caller.creator(), &caller.projects(), idempotency)
        .await?;
    let status = actix_web::http::StatusCode::from_u16(reserved.status)
        .unwrap_or(actix_web::http::StatusCode::CREATED);
    Ok(HttpResponse::build(status).json(reserved.reservation))
}

/// The reservation, when the caller may see it: in its projects, and created by its own
/// integration when it is a key without `reservations:manage`.
async fn visible(app: &App, caller: &Caller, key: &str) -> Result<Reservation, ApiError> {
    let not_found = || ApiError::NotFound(format!("reservation {key:?}"));
    let r = app
        .reservation(key, &caller.projects())
        .await
        .map_err(|e| match e {
            StoreError::NotFound => not_found(),
            other => other.into(),
        })?;
    match caller.own_reservations_only() {
        Some(creator) if r.created_by != creator => Err(not_found()),
        _ => Ok(r),
    }
}

/// `GET /reservations/{id or code}`
#[utoipa::path(get, path = "/reservations/{id}", operation_id = "get_reservation", tag = "reservations", params(("id" = String, Path, description = "Reservation id or code")),
    responses((status = 200, description = "The reservation", body = Reservation), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    app: web::Data<App>,
    caller: Caller,
    key: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsRead)?;
    Ok(HttpResponse::Ok().json(visible(&app, &caller, &key).await?))
}

async fn transition(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
    t: Transition,
) -> Result<HttpResponse, ApiError> {
    // Cancelling is also open to the creator holding only reservations:write.
    let creator = if caller.has(Scope::ReservationsManage) {
        None
    } else if t == Transition::Cancel && caller.has(Scope::ReservationsWrite) {
        Some(caller.creator().to_owned())
    } else {
        return Err(ApiError::scope(Scope::ReservationsManage));
    };
    let r = visible(&app, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(app.transition(&r.id, t, creator.as_deref()).await?))
}

/// `POST /reservations/{id}/confirm`: pending to confirmed.
#[utoipa::path(post, path = "/reservations/{id}/confirm", operation_id = "confirm_reservation", tag = "reservations", params(("id" = String, Path, description = "Reservation id")),
    responses((status = 200, description = "The reservation, confirmed", body = Reservation), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Not allowed from the current status", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn confirm(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    transition(app, caller, id, Transition::Confirm).await
}

/// `POST /reservations/{id}/cancel`: pending or confirmed to cancelled.
#[utoipa::path(post, path = "/reservations/{id}/cancel", operation_id = "cancel_reservation", tag = "reservations", params(("id" = String, Path, description = "Reservation id")),
    responses((status = 200, description = "The reservation, cancelled", body = Reservation), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Not allowed from the current status", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn cancel(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    transition(app, caller, id, Transition::Cancel).await
}

/// `POST /reservations/{id}/complete`: confirmed to installed.
#[utoipa::path(post, path = "/reservations/{id}/complete", operation_id = "complete_reservation", tag = "reservations", params(("id" = String, Path, description = "Reservation id")),
    responses((status = 200, description = "The reservation, installed", body = Reservation), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Not allowed from the current status", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn complete(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    transition(app, caller, id, Transition::Complete).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    #[param(inline, value_type = Option<crate::domain::reservation::Status>)]
    status: Option<String>,
    project: Option<String>,
    box_id: Option<String>,
    code: Option<String>,
    external_ref: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    created_from: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    created_to: Option<String>,
    /// `true` or `false`: installs whose port an import has or has not shown used.
    #[param(value_type = Option<bool>)]
    inventory_confirmed: Option<String>,
    /// Default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

fn time_param(field: &str, v: &Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    v.as_deref()
        .map(|s| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)))
        .transpose()
        .map_err(|_| ApiError::invalid(field, "must be an RFC 3339 time"))
}

/// The cursor is the (created_at, id) of the last item served, opaque to callers.
/// A page of reservations, newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReservationPage {
    items: Vec<Reservation>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// `GET /reservations?...`: newest first, cursor-paginated.
#[utoipa::path(get, path = "/reservations", operation_id = "list_reservations", tag = "reservations", params(ListParams),
    responses((status = 200, description = "A page of reservations, newest first", body = ReservationPage), (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn list(
    app: web::Data<App>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::ReservationsRead)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let status = match &params.status {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "must be one of pending, confirmed, cancelled, installed, expired",
            )
        })?),
        None => None,
    };
    let filter = ReservationFilter {
        status,
        project: params.project.clone(),
        box_id: params.box_id.clone(),
        code: params.code.clone(),
        external_ref: params.external_ref.clone(),
        created_by: caller.own_reservations_only().map(str::to_owned),
        created_from: time_param("created_from", &params.created_from)?,
        created_to: time_param("created_to", &params.created_to)?,
        inventory_confirmed: match params.inventory_confirmed.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                return Err(ApiError::invalid(
                    "inventory_confirmed",
                    "must be true or false",
                ));
            }
        },
        after: params
            .cursor
            .as_deref()
            .map(super::cursor::decode)
            .transpose()?,
    };
    let mut items = app
        .reservations(&filter, &caller.projects(), limit + 1)
        .await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|r| super::cursor::encode(r.created_at.timestamp_micros(), &r.id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ReservationPage { items, next_cursor }))
}
