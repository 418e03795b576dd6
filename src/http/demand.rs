//! `GET /demand`: where answers were asked for and what they came to, as H3 hexagons.

use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Query};
use crate::auth::Scope;
use crate::domain::demand::{CellCounts, DemandParams};
use crate::service::App;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DemandQueryParams {
    /// `minLon,minLat,maxLon,maxLat`: cells whose centre lies in it.
    #[param(required = true)]
    bbox: Option<String>,
    /// H3 resolution, 5 to 9 (default 8); a coarser cell sums its children.
    #[param(value_type = Option<u8>, minimum = 5, maximum = 9)]
    resolution: Option<String>,
    /// First day counted (UTC, inclusive), `YYYY-MM-DD`; default: all days.
    #[param(format = Date)]
    from: Option<String>,
    /// Last day counted (UTC, inclusive), `YYYY-MM-DD`.
    #[param(format = Date)]
    to: Option<String>,
    /// Only the answers for this plan.
    plan_id: Option<String>,
    /// Only the answers refused for this reason.
    #[param(inline, value_type = Option<crate::domain::feasibility::Reason>)]
    reason: Option<String>,
}

/// A cell's hexagon (or pentagon): one closed ring of `[lon, lat]`.
#[derive(Serialize, utoipa::ToSchema)]
struct CellPolygon {
    #[serde(rename = "type")]
    kind: &'static str,
    coordinates: Vec<Vec<[f64; 2]>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DemandFeature {
    #[serde(rename = "type")]
    kind: &'static str,
    /// The cell, as in `properties.cell`.
    id: String,
    geometry: CellPolygon,
    properties: CellCounts,
}

/// Demand cells as a GeoJSON FeatureCollection.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DemandCollection {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<DemandFeature>,
}

/// `GET /demand?bbox=&resolution=&from=&to=&plan_id=&reason=`
#[utoipa::path(get, path = "/demand", operation_id = "demand_map", tag = "demand", params(DemandQueryParams),
    responses((status = 200, description = "The H3 cells in the bbox with their counts, as GeoJSON", body = DemandCollection, content_type = "application/geo+json"), (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn demand(
    app: web::Data<App>,
    caller: Caller,
    Query(params): Query<DemandQueryParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::DemandRead)?;
    let query = DemandParams {
        bbox: params.bbox.as_deref(),
        resolution: params.resolution.as_deref(),
        from: params.from.as_deref(),
        to: params.to.as_deref(),
        plan_id: params.plan_id.as_deref(),
        reason: params.reason.as_deref(),
    }
    .parse()
    .map_err(ApiError::Validation)?;
    let features = app
        .demand_map(&query)
        .await?
        .into_iter()
        .map(|(counts, ring)| DemandFeature {
            kind: "Feature",
            id: counts.cell.clone(),
            geometry: CellPolygon {
                kind: "Polygon",
                coordinates: vec![ring],
            },
            properties: counts,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(DemandCollection {
            kind: "FeatureCollection",
            features,
        }))
}
