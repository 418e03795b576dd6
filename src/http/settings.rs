use super::ApiError;
use super::extract::{Caller, Json};
use crate::auth::Scope;
use crate::domain::settings::SettingsPatch;
use crate::service::{App, PatchError};
use actix_web::{HttpResponse, web};

/// `GET /settings`
pub async fn get(app: web::Data<App>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(app.settings()))
}

/// `PATCH /settings`
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
