//! `/integrations/{id}/webhooks`: where an integration's events go (scope `admin`, or
//! `events` for the caller's own integration).

use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Json};
use crate::domain::webhook::{NewWebhook, WebhookPatch};
use crate::service::App;
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
