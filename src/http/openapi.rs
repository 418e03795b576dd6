//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations.

use super::{
    batch, check, demand, feasibility, features, health, integrations, interests, inventory, me,
    plans, reservations, settings, webhooks,
};
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
        batch::batch,
        check::check,
        check::preflight,
        reservations::create,
        reservations::list,
        reservations::get,
        reservations::confirm,
        reservations::cancel,
        reservations::complete,
        inventory::import,
        inventory::get_box,
        inventory::boxes_in_bbox,
        demand::demand,
        interests::create,
        interests::list,
        interests::get,
        interests::delete,
        inventory::map_boxes,
        me::me,
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
        integrations::create,
        integrations::list,
        integrations::get,
        integrations::patch,
        integrations::delete,
        integrations::issue_key,
        integrations::keys,
        integrations::revoke_key,
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::patch,
        webhooks::delete,
        webhooks::rotate_secret,
        webhooks::deliveries,
        webhooks::retry,
        health::healthz,
        health::readyz,
        health::metrics,
        openapi_json,
    ),
    modifiers(&BearerAuth, &CommonAnswers),
    tags(
        (name = "feasibility", description = "Can we install here?"),
        (name = "reservations", description = "Holding a port for a prospective customer"),
        (name = "inventory", description = "The network plant"),
        (name = "features", description = "The network plant as OGC API - Features (Part 1: Core, GeoJSON)"),
        (name = "demand", description = "Where answers were asked for, and what they came to"),
        (name = "interest", description = "Prospects told no, waiting to be told when the plan reaches them"),
        (name = "plans", description = "Commercial plans"),
        (name = "settings", description = "Operator settings"),
        (name = "integrations", description = "Partner systems, their contacts, modules and keys"),
        (name = "webhooks", description = "Where an integration's events are sent, and the secrets that sign them"),
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

/// The answers every operation can give besides its own, declared in one place: 405 for
/// another method, 503 when the database is away, 401/403 where a token is needed, and
/// for a request body 400, 413, 415 and 422.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    super::error::PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        let unguarded = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let mut answers = vec![(
                    "405",
                    "This path does not take this method (Allow names those it takes)",
                )];
                if !unguarded.contains(&path.as_str()) {
                    answers.extend([
                        ("401", "Missing, malformed, forged or expired token"),
                        ("403", "The token lacks the scope"),
                        ("503", "Database unavailable"),
                    ]);
                }
                if op.request_body.is_some() {
                    answers.extend([
                        ("400", "Malformed body"),
                        ("413", "Body too large"),
                        (
                            "415",
                            "A Content-Type or Content-Encoding this endpoint does not take",
                        ),
                        ("422", "Invalid fields"),
                    ]);
                }
                let has_query = op.parameters.iter().flatten().any(|p| {
                    matches!(p, utoipa::openapi::RefOr::T(p)
                        if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
                });
                if has_query {
                    answers.push(("422", "Invalid parameters"));
                }
                for (status, description) in answers {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
    }
}

/// The document as `GET /openapi.json` serves it.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serialises")
}

/// `GET /openapi.json`
#[utoipa::path(get, path = "/openapi.json", operation_id = "get_openapi", tag = "operations", responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The bounds the document states are those the code enforces (the annotations take
    /// only literals, so this is where the two are tied).
    #[test]
    fn documented_bounds_are_the_enforced_ones() {
        let doc: Value = serde_json::from_str(&super::document_json()).unwrap();
        let schema = |name: &str, field: &str, bound: &str| {
            doc["components"]["schemas"][name]["properties"][field][bound].as_f64()
        };
        let param = |path: &str, name: &str, bound: &str| {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .and_then(|p| p["schema"][bound].as_f64())
        };
        use crate::domain::{feasibility, network, reservation, settings};
        let max_radius = settings::MAX_RADIUS_M;
        for name in ["FeasibilityRequest", "ReservationRequest"] {
            assert_eq!(schema(name, "radius_m", "maximum"), Some(max_radius));
        }
        for name in ["FeasibilityRequest", "ReservationRequest", "CheckRequest"] {
            assert_eq!(
                schema(name, "plan_id", "maxLength"),
                Some(network::MAX_TEXT_LEN as f64)
            );
        }
        for field in ["default_radius_m", "max_radius_m"] {
            assert_eq!(schema("SettingsPatch", field, "maximum"), Some(max_radius));
        }
        assert_eq!(
            schema("SettingsPatch", "reservation_ttl_s", "maximum"),
            Some(settings::MAX_TTL_S as f64)
        );
        assert_eq!(
            schema("FeasibilityRequest", "limit", "maximum"),
            Some(feasibility::MAX_LIMIT as f64)
        );
        assert_eq!(
            schema("ReservationRequest", "address", "maxLength"),
            Some(reservation::MAX_ADDRESS as f64)
        );
        assert_eq!(
            param("/reservations", "limit", "maximum"),
            Some(super::super::reservations::MAX_LIMIT as f64)
        );
        assert_eq!(
            param("/boxes", "limit", "maximum"),
            Some(super::super::inventory::MAX_BBOX_LIMIT as f64)
        );
    }
}
