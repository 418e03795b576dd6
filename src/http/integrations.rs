//! `/integrations`: partner systems, their contacts and modules, and the keys the provider
//! issues them (scope `admin`).

use super::ApiError;
use super::error::Problem;
use super::extract::{BodyLimit, Caller, Json, parse_json, read_body};
use crate::auth::Scope;
use crate::domain::integration::{Integration, NewIntegration, NewKey};
use crate::service::App;
use crate::service::integrations::KeyView;
use actix_web::{HttpRequest, HttpResponse, web};

/// `POST /integrations`
#[utoipa::path(post, path = "/integrations", operation_id = "create_integration", tag = "integrations",
    request_body = NewIntegration,
    responses((status = 201, description = "Created: `onboarding` until every contact is given, then `active`", body = Integration),
        (status = 409, description = "The id is taken (already_exists)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    app: web::Data<App>,
    caller: Caller,
    body: Json<NewIntegration>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Created().json(app.create_integration(&body.0).await?))
}

/// `GET /integrations`
#[utoipa::path(get, path = "/integrations", operation_id = "list_integrations", tag = "integrations",
    responses((status = 200, description = "Every integration, in id order", body = Vec<Integration>)),
    security(("bearer" = [])))]
pub async fn list(app: web::Data<App>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(app.integrations().await?))
}

/// `GET /integrations/{id}`
#[utoipa::path(get, path = "/integrations/{id}", operation_id = "get_integration", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    responses((status = 200, description = "The integration", body = Integration),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(app.integration(&id).await?))
}

/// `PATCH /integrations/{id}`: a JSON Merge Patch (RFC 7396) of any field but `id`.
#[utoipa::path(patch, path = "/integrations/{id}", operation_id = "update_integration", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    request_body(content = Object, description = "JSON Merge Patch: members given replace the stored ones whole, null removes, members left out stay",
        content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The integration as now stored", body = Integration),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`status: active` with contacts missing (contacts_incomplete)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn patch(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    // `application/merge-patch+json` is a `+json` type: taken like JSON.
    super::extract::json_content_type(&req)?;
    let limit = req.app_data::<BodyLimit>().map_or(64 * 1024, |l| l.0);
    let patch: serde_json::Value = parse_json(&read_body(&req, &mut payload, limit).await?)?;
    Ok(HttpResponse::Ok().json(app.patch_integration(&id, &patch).await?))
}

/// `DELETE /integrations/{id}`: its keys stop working; its reservations keep `created_by`.
#[utoipa::path(delete, path = "/integrations/{id}", operation_id = "delete_integration", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    responses((status = 204, description = "Deleted; its id stays taken"),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    app.delete_integration(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /integrations/{id}/keys`: the key is in this answer only.
#[utoipa::path(post, path = "/integrations/{id}/keys", operation_id = "issue_key", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    request_body = NewKey,
    responses((status = 201, description = "Issued: `key` is shown this once", body = KeyView),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The integration's contacts are incomplete (contacts_incomplete, errors naming each)", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn issue_key(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
    body: Json<NewKey>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Created().json(app.issue_key(&id, &body.0).await?))
}

/// `GET /integrations/{id}/keys`
#[utoipa::path(get, path = "/integrations/{id}/keys", operation_id = "list_keys", tag = "integrations",
    params(("id" = String, Path, description = "Integration id")),
    responses((status = 200, description = "Its keys, without the keys themselves", body = Vec<KeyView>),
        (status = 404, description = "No such integration", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn keys(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(HttpResponse::Ok().json(app.keys(&id).await?))
}

/// `DELETE /integrations/{id}/keys/{key_id}`: revoked at once on every replica; the record
/// stays with `revoked_at`.
#[utoipa::path(delete, path = "/integrations/{id}/keys/{key_id}", operation_id = "revoke_key", tag = "integrations",
    params(("id" = String, Path, description = "Integration id"), ("key_id" = String, Path, description = "Key id")),
    responses((status = 204, description = "Revoked"),
        (status = 404, description = "No such integration or key", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn revoke_key(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Admin)?;
    let (id, key_id) = path.into_inner();
    app.revoke_key(&id, &key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
