//! The HTTP API: one router function used by the server and the tests.

pub mod code;
pub mod error;
pub mod extract;
mod feasibility;
mod features;
mod health;
mod inventory;
pub mod middleware;
pub mod openapi;
mod plans;
mod reservations;
mod settings;

pub use error::ApiError;

/// The import body limit as app data.
pub fn inventory_limit(bytes: usize) -> inventory::ImportLimit {
    inventory::ImportLimit(bytes)
}

use actix_web::{HttpResponse, web};

/// A resource whose other methods answer 405 as a problem.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
    }))
}

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(extract::query_error))
        .app_data(web::PathConfig::default().error_handler(extract::path_error))
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/metrics").route(web::get().to(health::metrics)))
        .service(resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
        .service(resource("/").route(web::get().to(features::landing)))
        .service(resource("/conformance").route(web::get().to(features::conformance)))
        .service(resource("/collections").route(web::get().to(features::collections)))
        .service(resource("/collections/{collectionId}").route(web::get().to(features::collection)))
        .service(
            resource("/collections/{collectionId}/items").route(web::get().to(features::items)),
        )
        .service(
            resource("/collections/{collectionId}/items/{featureId}")
                .route(web::get().to(features::item)),
        )
        .service(resource("/feasibility").route(web::post().to(feasibility::feasibility)))
        .service(resource("/inventory/import").route(web::post().to(inventory::import)))
        .service(resource("/boxes").route(web::get().to(inventory::boxes_in_bbox)))
        .service(resource("/boxes/{id}").route(web::get().to(inventory::get_box)))
        .service(
            resource("/reservations")
                .route(web::post().to(reservations::create))
                .route(web::get().to(reservations::list)),
        )
        .service(resource("/reservations/{id}").route(web::get().to(reservations::get)))
        .service(
            resource("/reservations/{id}/confirm").route(web::post().to(reservations::confirm)),
        )
        .service(resource("/reservations/{id}/cancel").route(web::post().to(reservations::cancel)))
        .service(
            resource("/reservations/{id}/complete").route(web::post().to(reservations::complete)),
        )
        .service(resource("/plans").route(web::get().to(plans::list)))
        .service(
            resource("/plans/{id}")
                .route(web::get().to(plans::get))
                .route(web::put().to(plans::put))
                .route(web::delete().to(plans::delete)),
        )
        .service(
            resource("/settings")
                .route(web::get().to(settings::get))
                .route(web::patch().to(settings::patch)),
        );
}
