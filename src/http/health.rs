use super::ApiError;
use crate::service::App;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// The database answers and the index is loaded.
pub async fn readyz(app: web::Data<App>) -> Result<HttpResponse, ApiError> {
    if !app.index.is_loaded() {
        return Err(ApiError::NotReady("the index is not loaded yet".into()));
    }
    if app.store.ping().await.is_err() {
        return Err(ApiError::NotReady("the database does not answer".into()));
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "boxes": app.index.len()})))
}
