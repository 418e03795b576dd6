use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::auth::Scope;
use crate::domain::feasibility::{FeasibilityRequest, Reason};
use crate::service::answer::{CandidateOut, CandidatesOut};
use crate::service::{App, FeasibilityError, FeasibilityOutcome};
use actix_web::{HttpResponse, web};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct FeasibilityOut<'a> {
    feasible: bool,
    reason: Option<Reason>,
    radius_m: f64,
    tags: &'a [String],
    #[schema(value_type = Vec<CandidateOut>)]
    candidates: CandidatesOut<'a>,
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
#[utoipa::path(post, path = "/feasibility", operation_id = "check_feasibility", tag = "feasibility", request_body = FeasibilityRequest,
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
    let out = FeasibilityOut {
        feasible: answer.reason.is_none(),
        reason: answer.reason,
        radius_m,
        tags: &tags,
        candidates: CandidatesOut(&answer.candidates),
    };
    // Sized for a typical answer (a candidate is ~250 bytes), so the buffer is not regrown
    // while writing: this is the hottest response of the service.
    let mut body = Vec::with_capacity(128 + 256 * answer.candidates.len());
    serde_json::to_writer(&mut body, &out).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}
