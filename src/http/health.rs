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
    if app.is_stopping() {
        return Err(ApiError::NotReady("the service is shutting down".into()));
    }
    if !app.index.is_loaded() {
        return Err(ApiError::NotReady("the index is not loaded yet".into()));
    }
    if app.store.ping().await.is_err() {
        return Err(ApiError::NotReady("the database does not answer".into()));
    }
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "boxes": app.index.len()})))
}

/// Prometheus text.
pub async fn metrics(
    app: web::Data<App>,
    handle: web::Data<metrics_exporter_prometheus::PrometheusHandle>,
) -> HttpResponse {
    let (idle, size) = app.store.pool_usage();
    let ready = app.index.is_loaded() && !app.is_stopping();
    crate::metrics::scrape_gauges(app.index.len(), app.index.memory_bytes(), ready, idle, size);
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
