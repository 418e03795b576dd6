use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::auth::Scope;
use crate::domain::feasibility::{FeasibilityRequest, Reason};
use crate::index::Candidate;
use crate::service::{App, FeasibilityError, FeasibilityOutcome};
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SplitterOut<'a> {
    id: &'a str,
    free_ports: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CandidateOut<'a> {
    box_id: &'a str,
    project: &'a str,
    name: &'a str,
    lat: f64,
    lon: f64,
    distance_m: f64,
    free_ports: u32,
    splitters: Vec<SplitterOut<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FeasibilityOut<'a> {
    feasible: bool,
    reason: Option<Reason>,
    radius_m: f64,
    tags: &'a [String],
    candidates: Vec<CandidateOut<'a>>,
}

fn candidate_out(c: &Candidate) -> CandidateOut<'_> {
    CandidateOut {
        box_id: c.box_id(),
        project: c.project(),
        name: c.name(),
        lat: c.lat(),
        lon: c.lon(),
        distance_m: c.distance_m,
        free_ports: c.free_ports,
        splitters: c
            .splitters()
            .map(|(id, free_ports)| SplitterOut { id, free_ports })
            .collect(),
    }
}

impl From<FeasibilityError> for ApiError {
    fn from(e: FeasibilityError) -> Self {
        match e {
            FeasibilityError::Invalid(invalid) => ApiError::Validation(invalid),
            FeasibilityError::UnknownPlan(id) => ApiError::NotFound(format!("plan {id:?}")),
        }
    }
}

/// `POST /feasibility`
#[utoipa::path(post, path = "/feasibility", tag = "feasibility", request_body = FeasibilityRequest,
    responses((status = 200, description = "Candidates, or the reason there are none", body = FeasibilityOut), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn feasibility(
    app: web::Data<App>,
    caller: Caller,
    body: Json<FeasibilityRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Feasibility)?;
    let FeasibilityOutcome {
        radius_m,
        tags,
        answer,
    } = app.feasibility(&body.0, &caller.projects())?;
    Ok(HttpResponse::Ok().json(FeasibilityOut {
        feasible: answer.reason.is_none(),
        reason: answer.reason,
        radius_m,
        tags: &tags,
        candidates: answer.candidates.iter().map(candidate_out).collect(),
    }))
}
