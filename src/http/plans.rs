use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::auth::Scope;
use crate::domain::network::{Plan, check_text, normalise_tags};
use crate::domain::validation::Invalid;
use crate::service::App;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

const READ: [Scope; 2] = [Scope::Feasibility, Scope::ReservationsRead];

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    /// Default: the plan's id.
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// All plans.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PlanList {
    items: Vec<Plan>,
}

/// `GET /plans`
#[utoipa::path(get, path = "/plans", operation_id = "list_plans", tag = "plans", responses((status = 200, description = "Every plan", body = PlanList), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn list(app: web::Data<App>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    Ok(HttpResponse::Ok().json(PlanList { items: app.plans() }))
}

/// `GET /plans/{id}`
#[utoipa::path(get, path = "/plans/{id}", operation_id = "get_plan", tag = "plans", params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, description = "The plan", body = Plan), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let plan = app
        .plan(&id)
        .ok_or_else(|| ApiError::NotFound(format!("plan {:?}", id.as_str())))?;
    Ok(HttpResponse::Ok().json(plan))
}

/// `PUT /plans/{id}`: creates (201) or replaces (200).
#[utoipa::path(put, path = "/plans/{id}", operation_id = "put_plan", tag = "plans", params(("id" = String, Path, description = "Plan id")), request_body = PlanBody,
    responses((status = 200, description = "Replaced", body = Plan), (status = 201, description = "Created", body = Plan), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn put(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
    body: Json<PlanBody>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::InventoryWrite)?;
    let mut invalid = Invalid::default();
    if let Err(m) = check_text(&id) {
        invalid.add("id", m);
    }
    let name = body.0.name.unwrap_or_else(|| id.to_string());
    if let Err(m) = check_text(&name) {
        invalid.add("name", m);
    }
    for (i, t) in body.0.tags.iter().enumerate() {
        if let Err(m) = check_text(t) {
            invalid.add(format!("tags[{i}]"), m);
        }
    }
    let plan = invalid.or_ok(Plan {
        id: id.into_inner(),
        name,
        tags: normalise_tags(body.0.tags),
    })?;
    let created = app.put_plan(&plan).await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(plan))
}

/// `DELETE /plans/{id}`
#[utoipa::path(delete, path = "/plans/{id}", operation_id = "delete_plan", tag = "plans", params(("id" = String, Path, description = "Plan id")),
    responses((status = 204, description = "Deleted"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn delete(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::InventoryWrite)?;
    app.delete_plan(&id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::NotFound(format!("plan {:?}", id.as_str())),
        other => other.into(),
    })?;
    Ok(HttpResponse::NoContent().finish())
}
