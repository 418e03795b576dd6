use super::ApiError;
use super::error::Problem;
use crate::service::App;
use actix_web::{HttpResponse, web};

/// `status`: "ok".
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    status: &'static str,
}

/// Readiness, with the boxes in the index.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Ready {
    status: &'static str,
    boxes: usize,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations", responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers and the index is loaded.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations", responses((status = 200, description = "The database is reachable and the index loaded", body = Ready),
    (status = 503, description = "Not ready", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(app: web::Data<App>) -> Result<HttpResponse, ApiError> {
    let boxes = app
        .readiness()
        .await
        .map_err(|e| ApiError::NotReady(e.to_string()))?;
    Ok(HttpResponse::Ok().json(Ready {
        status: "ready",
        boxes,
    }))
}

/// Prometheus text.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(
    app: web::Data<App>,
    handle: web::Data<metrics_exporter_prometheus::PrometheusHandle>,
) -> HttpResponse {
    app.record_gauges();
    handle.run_upkeep();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}
