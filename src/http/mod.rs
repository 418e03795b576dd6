//! The HTTP API: one router function used by the server and the tests.

mod batch;
mod check;
pub mod client_address;
pub mod code;
pub mod console;
mod cursor;
mod demand;
pub mod error;
pub mod extract;
mod feasibility;
mod features;
mod health;
mod integrations;
mod interests;
mod inventory;
mod me;
pub mod middleware;
pub mod openapi;
mod plans;
mod reservations;
mod serde_words;
mod settings;
mod webhooks;

pub use error::ApiError;

/// The most rows of one CSV batch, as app data.
pub fn batch_limit(rows: usize) -> batch::BatchLimit {
    batch::BatchLimit(rows)
}

/// The import body limit as app data.
pub fn inventory_limit(bytes: usize) -> inventory::ImportLimit {
    inventory::ImportLimit(bytes)
}

use actix_web::{HttpResponse, web};

/// A path's routes, and for any other method 405 with an `Allow` header naming those it has.
struct Methods {
    resource: actix_web::Resource,
    allow: Vec<actix_web::http::Method>,
}

fn resource(path: &str) -> Methods {
    Methods {
        resource: web::resource(path),
        allow: Vec::new(),
    }
}

impl Methods {
    fn on<F, Args>(mut self, method: actix_web::http::Method, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.allow.push(method.clone());
        self.resource = self.resource.route(web::method(method).to(handler));
        self
    }

    fn get<F, Args>(self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.on(actix_web::http::Method::GET, handler)
    }

    fn post<F, Args>(self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.on(actix_web::http::Method::POST, handler)
    }

    fn done(self) -> actix_web::Resource {
        let allow = self
            .allow
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
        }))
    }
}

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(extract::path_error))
        .service(resource("/healthz").get(health::healthz).done())
        .service(resource("/readyz").get(health::readyz).done())
        .service(resource("/metrics").get(health::metrics).done())
        .service(resource("/openapi.json").get(openapi::openapi_json).done())
        // The console's page and files: for browsers, not part of the API's document.
        .service(resource("/console").get(console::page).done())
        .service(resource("/console/config.json").get(console::config).done())
        .service(resource("/console/{path:.*}").get(console::asset).done())
        .service(resource("/").get(features::landing).done())
        .service(resource("/conformance").get(features::conformance).done())
        .service(resource("/collections").get(features::collections).done())
        .service(
            resource("/collections/{collectionId}")
                .get(features::collection)
                .done(),
        )
        .service(
            resource("/collections/{collectionId}/items")
                .get(features::items)
                .done(),
        )
        .service(
            resource("/collections/{collectionId}/items/{featureId}")
                .get(features::item)
                .done(),
        )
        .service(
            resource("/check")
                .post(check::check)
                .on(actix_web::http::Method::OPTIONS, check::preflight)
                .done(),
        )
        .service(
            resource("/feasibility")
                .post(feasibility::feasibility)
                .done(),
        )
        .service(resource("/feasibility/batch").post(batch::batch).done())
        .service(resource("/inventory/import").post(inventory::import).done())
        .service(resource("/boxes").get(inventory::boxes_in_bbox).done())
        .service(resource("/demand").get(demand::demand).done())
        .service(
            resource("/interest")
                .post(interests::create)
                .get(interests::list)
                .done(),
        )
        .service(
            resource("/interest/{id}")
                .get(interests::get)
                .on(actix_web::http::Method::DELETE, interests::delete)
                .done(),
        )
        .service(resource("/boxes/{id}").get(inventory::get_box).done())
        .service(resource("/map/boxes").get(inventory::map_boxes).done())
        .service(resource("/me").get(me::me).done())
        .service(
            resource("/reservations")
                .post(reservations::create)
                .get(reservations::list)
                .done(),
        )
        .service(resource("/reservations/{id}").get(reservations::get).done())
        .service(
            resource("/reservations/{id}/confirm")
                .post(reservations::confirm)
                .done(),
        )
        .service(
            resource("/reservations/{id}/cancel")
                .post(reservations::cancel)
                .done(),
        )
        .service(
            resource("/reservations/{id}/complete")
                .post(reservations::complete)
                .done(),
        )
        .service(resource("/plans").get(plans::list).done())
        .service(
            resource("/plans/{id}")
                .get(plans::get)
                .on(actix_web::http::Method::PUT, plans::put)
                .on(actix_web::http::Method::DELETE, plans::delete)
                .done(),
        )
        .service(
            resource("/integrations")
                .post(integrations::create)
                .get(integrations::list)
                .done(),
        )
        .service(
            resource("/integrations/{id}")
                .get(integrations::get)
                .on(actix_web::http::Method::PATCH, integrations::patch)
                .on(actix_web::http::Method::DELETE, integrations::delete)
                .done(),
        )
        .service(
            resource("/integrations/{id}/keys")
                .post(integrations::issue_key)
                .get(integrations::keys)
                .done(),
        )
        .service(
            resource("/integrations/{id}/keys/{key_id}")
                .on(actix_web::http::Method::DELETE, integrations::revoke_key)
                .done(),
        )
        .service(
            resource("/integrations/{id}/webhooks")
                .post(webhooks::create)
                .get(webhooks::list)
                .done(),
        )
        .service(
            resource("/integrations/{id}/webhooks/{wid}")
                .get(webhooks::get)
                .on(actix_web::http::Method::PATCH, webhooks::patch)
                .on(actix_web::http::Method::DELETE, webhooks::delete)
                .done(),
        )
        .service(
            resource("/integrations/{id}/webhooks/{wid}/rotate-secret")
                .post(webhooks::rotate_secret)
                .done(),
        )
        .service(
            resource("/integrations/{id}/webhooks/{wid}/deliveries")
                .get(webhooks::deliveries)
                .done(),
        )
        .service(
            resource("/integrations/{id}/webhooks/{wid}/deliveries/{event_id}/retry")
                .post(webhooks::retry)
                .done(),
        )
        .service(
            resource("/settings")
                .get(settings::get)
                .on(actix_web::http::Method::PATCH, settings::patch)
                .done(),
        );
}
