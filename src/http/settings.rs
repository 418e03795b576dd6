use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::auth::Scope;
use crate::domain::settings::Settings;
use crate::domain::settings::SettingsPatch;
use crate::service::{App, PatchError};
use actix_web::{HttpResponse, web};

/// `GET /settings`
#[utoipa::path(get, path = "/settings", operation_id = "get_settings", tag = "settings", responses((status = 200, description = "The settings in force", body = Settings), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get(app: web::Data<App>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(app.settings()))
}

/// `PATCH /settings`
#[utoipa::path(patch, path = "/settings", operation_id = "update_settings", tag = "settings", request_body = SettingsPatch,
    responses((status = 200, description = "The settings now in force", body = Settings), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn patch(
    app: web::Data<App>,
    caller: Caller,
    body: Json<SettingsPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    match app.patch_settings(&body.0).await {
        Ok(s) => Ok(HttpResponse::Ok().json(s)),
        Err(PatchError::Invalid(invalid)) => Err(ApiError::Validation(invalid)),
        Err(PatchError::Store(e)) => Err(e.into()),
    }
}
