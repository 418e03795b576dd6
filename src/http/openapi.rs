//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations.

use super::{feasibility, features, health, inventory, plans, reservations, settings};
use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ftth-feasibility",
        description = "FTTH feasibility and port reservations: can we install here, and on which port?"
    ),
    paths(
        feasibility::feasibility,
        reservations::create,
        reservations::list,
        reservations::get,
        reservations::confirm,
        reservations::cancel,
        reservations::complete,
        inventory::import,
        inventory::get_box,
        inventory::boxes_in_bbox,
        features::landing,
        features::conformance,
        features::collections,
        features::collection,
        features::items,
        features::item,
        plans::list,
        plans::get,
        plans::put,
        plans::delete,
        settings::get,
        settings::patch,
        health::healthz,
        health::readyz,
        health::metrics,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "feasibility", description = "Can we install here?"),
        (name = "reservations", description = "Holding a port for a prospective customer"),
        (name = "inventory", description = "The network plant"),
        (name = "features", description = "The network plant as OGC API - Features (Part 1: Core, GeoJSON)"),
        (name = "plans", description = "Commercial plans"),
        (name = "settings", description = "Operator settings"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
