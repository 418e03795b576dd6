//! `/integrations/{id}/webhooks`: where an integration's events go (scope `admin`, or
//! `events` for the caller's own integration).

use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json, Query};
use crate::domain::webhook::{NewWebhook, WebhookPatch};
use crate::service::App;
use crate::service::delivery::DeliveryView;
use crate::service::webhooks::{UrlPolicy, WebhookView};
use actix_web::{HttpResponse, web};

/// `POST /integrations/{id}/webhooks`: the secret is in this answer only.
#[utoipa::path(post, path = "/integrations/{id}/webhooks", operation_id = "create_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id")),
    request_body = NewWebhook,
    responses((status = 201, description = "Created and enabled: `secret` is shown this once", body = WebhookView),
        (status = 404, description = "No such integration (or not the caller's)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a URL that is not https, carries credentials, does not resolve or resolves to an internal address; an unknown event type or pattern", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    app: web::Data<App>,
    policy: web::Data<UrlPolicy>,
    caller: Caller,
    id: web::Path<String>,
    body: Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    caller.require_events_of(&id)?;
    let created = app.create_webhook(&id, &body.0, **policy).await?;
    Ok(HttpResponse::Created().json(created))
}

/// `GET /integrations/{id}/webhooks`
#[utoipa::path(get, path = "/integrations/{id}/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id")),
    responses((status = 200, description = "Its webhooks, oldest first, without secrets", body = Vec<WebhookView>),
        (status = 404, description = "No such integration (or not the caller's)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_events_of(&id)?;
    Ok(HttpResponse::Ok().json(app.webhooks(&id).await?))
}

/// `GET /integrations/{id}/webhooks/{wid}`
#[utoipa::path(get, path = "/integrations/{id}/webhooks/{wid}", operation_id = "get_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id"), ("wid" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The webhook, without its secret", body = WebhookView),
        (status = 404, description = "No such integration or webhook", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, wid) = path.into_inner();
    caller.require_events_of(&id)?;
    Ok(HttpResponse::Ok().json(app.webhook(&id, &wid).await?))
}

/// `PATCH /integrations/{id}/webhooks/{wid}`: members given replace the stored ones.
#[utoipa::path(patch, path = "/integrations/{id}/webhooks/{wid}", operation_id = "update_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id"), ("wid" = String, Path, description = "Webhook id")),
    request_body = WebhookPatch,
    responses((status = 200, description = "The webhook as now stored", body = WebhookView),
        (status = 404, description = "No such integration or webhook", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn patch(
    app: web::Data<App>,
    policy: web::Data<UrlPolicy>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: Json<WebhookPatch>,
) -> Result<HttpResponse, ApiError> {
    let (id, wid) = path.into_inner();
    caller.require_events_of(&id)?;
    let updated = app.update_webhook(&id, &wid, &body.0, **policy).await?;
    Ok(HttpResponse::Ok().json(updated))
}

/// `DELETE /integrations/{id}/webhooks/{wid}`
#[utoipa::path(delete, path = "/integrations/{id}/webhooks/{wid}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id"), ("wid" = String, Path, description = "Webhook id")),
    responses((status = 204, description = "Deleted; nothing more is sent to it"),
        (status = 404, description = "No such integration or webhook", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, wid) = path.into_inner();
    caller.require_events_of(&id)?;
    app.delete_webhook(&id, &wid).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /integrations/{id}/webhooks/{wid}/rotate-secret`: the new secret is in this
/// answer only; for 24 hours the old one signs too.
#[utoipa::path(post, path = "/integrations/{id}/webhooks/{wid}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id"), ("wid" = String, Path, description = "Webhook id")),
    responses((status = 200, description = "The webhook with its new `secret`, shown this once", body = WebhookView),
        (status = 404, description = "No such integration or webhook", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn rotate_secret(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, wid) = path.into_inner();
    caller.require_events_of(&id)?;
    Ok(HttpResponse::Ok().json(app.rotate_webhook_secret(&id, &wid).await?))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    #[param(inline, value_type = Option<DeliveryStatus>)]
    status: Option<String>,
    /// Default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Where a delivery stands.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// A page of a webhook's deliveries, newest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryPage {
    items: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<String>,
}

/// `GET /integrations/{id}/webhooks/{wid}/deliveries`: kept 30 days.
#[utoipa::path(get, path = "/integrations/{id}/webhooks/{wid}/deliveries", operation_id = "list_deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id"), ("wid" = String, Path, description = "Webhook id"), DeliveryParams),
    responses((status = 200, description = "A page of deliveries, newest first", body = DeliveryPage),
        (status = 404, description = "No such integration or webhook", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn deliveries(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String)>,
    Query(params): Query<DeliveryParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, wid) = path.into_inner();
    caller.require_events_of(&id)?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=super::reservations::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {}", super::reservations::MAX_LIMIT),
        ));
    }
    let status = match params.status.as_deref() {
        None => None,
        Some(s @ ("pending" | "delivered" | "failed")) => Some(s),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "must be one of pending, delivered, failed",
            ));
        }
    };
    let after = params
        .cursor
        .as_deref()
        .map(super::cursor::decode)
        .transpose()?;
    let mut items = app.deliveries(&id, &wid, status, after, limit + 1).await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|d| super::cursor::encode(d.created_at, &d.event_id))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(DeliveryPage { items, next_cursor }))
}

/// `POST /integrations/{id}/webhooks/{wid}/deliveries/{event_id}/retry`: tried once at
/// once; failing, it follows the retry delays again.
#[utoipa::path(post, path = "/integrations/{id}/webhooks/{wid}/deliveries/{event_id}/retry", operation_id = "retry_delivery", tag = "webhooks",
    params(("id" = String, Path, description = "Integration id"), ("wid" = String, Path, description = "Webhook id"), ("event_id" = String, Path, description = "Event id")),
    responses((status = 202, description = "Due at once"),
        (status = 404, description = "No such integration, webhook or delivery", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn retry(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, wid, event_id) = path.into_inner();
    caller.require_events_of(&id)?;
    app.retry_delivery(&id, &wid, &event_id).await?;
    Ok(HttpResponse::Accepted().finish())
}
