//! `POST /check`: a yes or no for a sales page, with the plans sold at the point.

use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::domain::check::{CheckAnswer, CheckRequest};
use crate::service::App;
use actix_web::{HttpRequest, HttpResponse, web};

/// `POST /check`
#[utoipa::path(post, path = "/check", operation_id = "check_coverage", tag = "feasibility", request_body = CheckRequest,
    description = "Whether the plan (or, without `plan_id`, any plan) is feasible at the point at the default radius, why not when it is not, and the ids of every plan feasible there. Never shows a box, a coordinate, a distance or a port count.",
    responses((status = 200, description = "Feasible or not, the reason, and the plans feasible at the point", body = CheckAnswer), (status = 404, description = "Unknown plan_id", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn check(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    body: Json<CheckRequest>,
) -> Result<HttpResponse, ApiError> {
    let origin = origin(&req);
    caller.require_check(origin)?;
    let answer = app.check(&body.0, &caller.projects())?;
    let mut response = HttpResponse::Ok();
    if let Some(o) = origin.filter(|o| app.origin_allowed(o)) {
        response.insert_header(("Access-Control-Allow-Origin", o));
        response.insert_header(("Vary", "Origin"));
    }
    Ok(response.json(answer))
}

fn origin(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

#[utoipa::path(options, path = "/check", operation_id = "check_coverage_preflight", tag = "feasibility",
    responses((status = 204, description = "CORS preflight: `Access-Control-Allow-Origin` (with `POST` and the headers `authorization`, `content-type`) only for an origin some live publishable key allows")))]
/// `OPTIONS /check`: the CORS preflight of a browser on a page some live publishable key
/// allows; any other origin gets no `Access-Control-Allow-Origin`, so the browser stops.
pub async fn preflight(app: web::Data<App>, req: HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response.insert_header(("Vary", "Origin"));
    if let Some(o) = origin(&req).filter(|o| app.origin_allowed(o)) {
        response.insert_header(("Access-Control-Allow-Origin", o));
        response.insert_header(("Access-Control-Allow-Methods", "POST"));
        response.insert_header((
            "Access-Control-Allow-Headers",
            "authorization, content-type",
        ));
        response.insert_header(("Access-Control-Max-Age", "600"));
    }
    response.finish()
}
