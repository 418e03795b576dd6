//! `POST /check`: a yes or no for a sales page, with the plans sold at the point.

use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::auth::Scope;
use crate::domain::check::{CheckAnswer, CheckRequest};
use crate::service::App;
use actix_web::web;

/// `POST /check`
#[utoipa::path(post, path = "/check", operation_id = "check_coverage", tag = "feasibility", request_body = CheckRequest,
    description = "Whether the plan (or, without `plan_id`, any plan) is feasible at the point at the default radius, why not when it is not, and the ids of every plan feasible there. Never shows a box, a coordinate, a distance or a port count.",
    responses((status = 200, description = "Feasible or not, the reason, and the plans feasible at the point", body = CheckAnswer), (status = 404, description = "Unknown plan_id", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn check(
    app: web::Data<App>,
    caller: Caller,
    body: Json<CheckRequest>,
) -> Result<web::Json<CheckAnswer>, ApiError> {
    caller.require(Scope::Feasibility)?;
    Ok(web::Json(app.check(&body.0, &caller.projects())?))
}
