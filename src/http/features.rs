//! The inventory as OGC API – Features (Part 1: Core, GeoJSON), so that GIS tools (QGIS,
//! GDAL's OAPIF driver) read whole layers page by page. Same tokens and scopes as the
//! other inventory reads.

use super::ApiError;
use super::error::Problem;
use super::extract::Caller;
use crate::auth::Scope;
use crate::domain::features::{CRS84, ItemKey, Layer, Page, parse_items_query};
use crate::domain::network::{BoxStatus, SplitterKind};
use crate::domain::region_geometry::area_to_geojson;
use crate::service::{App, region_item_id};
use crate::store::{BoxDetail, SplitterDetail, StoreError, StoredRegion};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

const READ: [Scope; 2] = [Scope::Feasibility, Scope::ReservationsRead];
const GEO_JSON: &str = "application/geo+json";
const JSON: &str = "application/json";

/// The conformance classes met: Core and GeoJSON. Not `oas30`: `/openapi.json` is
/// OpenAPI 3.1.
const CONFORMANCE: [&str; 2] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];

/// A link of an OGC API document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Link {
    href: String,
    rel: &'static str,
    #[serde(rename = "type")]
    media_type: &'static str,
    title: &'static str,
}

/// The landing page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Landing {
    title: &'static str,
    description: &'static str,
    links: Vec<Link>,
}

/// The conformance classes the service meets.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Conformance {
    #[serde(rename = "conformsTo")]
    conforms_to: Vec<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SpatialExtent {
    /// One `[minLon, minLat, maxLon, maxLat]`; the whole world when the layer is empty.
    bbox: Vec<[f64; 4]>,
    crs: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Extent {
    spatial: SpatialExtent,
}

/// A collection (layer) of features.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Collection {
    /// `boxes` or `regions`
    id: &'static str,
    title: &'static str,
    description: &'static str,
    extent: Extent,
    #[serde(rename = "itemType")]
    item_type: &'static str,
    crs: Vec<&'static str>,
    links: Vec<Link>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Collections {
    links: Vec<Link>,
    collections: Vec<Collection>,
}

/// A splitter as imported (`used_ports`), with its port states (read-only: an import
/// ignores them).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SplitterItem {
    id: String,
    kind: SplitterKind,
    ports: u32,
    used_ports: Vec<u32>,
    held_ports: Vec<u32>,
    installed_ports: Vec<u32>,
    holds: u32,
    free: u32,
}

/// A box's properties: those of the import, plus the read-only `project` and `free_ports`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BoxItemProperties {
    /// Always `box`
    kind: &'static str,
    id: String,
    name: String,
    status: BoxStatus,
    splitters: Vec<SplitterItem>,
    project: String,
    free_ports: u32,
}

/// A GeoJSON geometry.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Geometry {
    #[serde(rename = "type")]
    kind: &'static str,
    /// `[longitude, latitude]` for a box; the rings of a MultiPolygon for a region.
    #[schema(value_type = Vec<serde_json::Value>)]
    coordinates: serde_json::Value,
}

/// A region's properties: those of the import, plus the read-only `project`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RegionItemProperties {
    /// Always `region`
    kind: &'static str,
    id: String,
    name: String,
    tags: Vec<String>,
    project: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ItemProperties {
    Box(BoxItemProperties),
    Region(RegionItemProperties),
}

/// A GeoJSON Feature: a box (`id` is the box id) or a region (`id` is `project:region id`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Feature {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    geometry: Geometry,
    properties: ItemProperties,
}

/// A page of a layer; `next` is among the links until the last page.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FeatureCollection {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<Feature>,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    /// The layer's items the token sees (boxes without `bbox` only).
    #[serde(rename = "numberMatched", skip_serializing_if = "Option::is_none")]
    number_matched: Option<usize>,
    #[serde(rename = "timeStamp")]
    time_stamp: String,
    links: Vec<Link>,
}

/// `scheme://host` of the request, as the caller reached the service.
fn base(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn link(href: String, rel: &'static str, media_type: &'static str, title: &'static str) -> Link {
    Link {
        href,
        rel,
        media_type,
        title,
    }
}

fn layer(id: &str) -> Result<Layer, ApiError> {
    Layer::parse(id).ok_or_else(|| ApiError::NotFound(format!("collection {id:?}")))
}

fn geo_json(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok().content_type(GEO_JSON).json(body)
}

fn box_feature(b: BoxDetail) -> Feature {
    let splitters = b.splitters.into_iter().map(splitter_item).collect();
    Feature {
        kind: "Feature",
        id: b.id.clone(),
        geometry: Geometry {
            kind: "Point",
            coordinates: serde_json::json!([b.lon, b.lat]),
        },
        properties: ItemProperties::Box(BoxItemProperties {
            kind: "box",
            id: b.id,
            name: b.name,
            status: b.status,
            splitters,
            project: b.project,
            free_ports: b.free_ports,
        }),
    }
}

/// `used` is left out: `used_ports` says the same, and an import takes only one of them.
fn splitter_item(s: SplitterDetail) -> SplitterItem {
    SplitterItem {
        id: s.id,
        kind: s.kind,
        ports: s.ports,
        used_ports: s.used_ports,
        held_ports: s.held_ports,
        installed_ports: s.installed_ports,
        holds: s.holds,
        free: s.free,
    }
}

fn region_feature(r: StoredRegion) -> Feature {
    let geometry = area_to_geojson(&r.region.area);
    Feature {
        kind: "Feature",
        id: region_item_id(&r.project, &r.region.id),
        geometry: Geometry {
            kind: "MultiPolygon",
            coordinates: geometry["coordinates"].clone(),
        },
        properties: ItemProperties::Region(RegionItemProperties {
            kind: "region",
            id: r.region.id,
            name: r.region.name,
            tags: r.region.tags,
            project: r.project,
        }),
    }
}

/// `GET /`: the landing page.
#[utoipa::path(get, path = "/", tag = "features", operation_id = "getLandingPage",
    responses((status = 200, description = "Links to the API description, the conformance classes and the collections", body = Landing), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn landing(caller: Caller, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let base = base(&req);
    Ok(HttpResponse::Ok().json(Landing {
        title: "ftth-feasibility",
        description: "The network inventory (boxes and regions) as OGC API - Features",
        links: vec![
            link(format!("{base}/"), "self", JSON, "This document"),
            link(
                format!("{base}/openapi.json"),
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.1",
                "The API definition",
            ),
            link(
                format!("{base}/conformance"),
                "conformance",
                JSON,
                "Conformance classes",
            ),
            link(
                format!("{base}/collections"),
                "data",
                JSON,
                "The collections",
            ),
        ],
    }))
}

/// `GET /conformance`
#[utoipa::path(get, path = "/conformance", tag = "features", operation_id = "getConformanceDeclaration",
    responses((status = 200, description = "The conformance classes met", body = Conformance), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn conformance(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    Ok(HttpResponse::Ok().json(Conformance {
        conforms_to: CONFORMANCE.to_vec(),
    }))
}

async fn describe(
    app: &App,
    caller: &Caller,
    base: &str,
    layer: Layer,
) -> Result<Collection, ApiError> {
    let extent = app.layer_extent(layer, &caller.projects()).await?;
    let href = format!("{base}/collections/{}", layer.id());
    Ok(Collection {
        id: layer.id(),
        title: layer.title(),
        description: layer.description(),
        extent: Extent {
            spatial: SpatialExtent {
                bbox: vec![extent.unwrap_or([-180.0, -90.0, 180.0, 90.0])],
                crs: CRS84,
            },
        },
        item_type: "feature",
        crs: vec![CRS84],
        links: vec![
            link(format!("{href}/items"), "items", GEO_JSON, "The items"),
            link(href, "self", JSON, "This collection"),
        ],
    })
}

/// `GET /collections`
#[utoipa::path(get, path = "/collections", tag = "features", operation_id = "getCollections",
    responses((status = 200, description = "The collections: boxes and regions", body = Collections), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn collections(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let base = base(&req);
    let mut collections = Vec::new();
    for l in Layer::ALL {
        collections.push(describe(&app, &caller, &base, l).await?);
    }
    Ok(HttpResponse::Ok().json(Collections {
        links: vec![link(
            format!("{base}/collections"),
            "self",
            JSON,
            "This document",
        )],
        collections,
    }))
}

/// `GET /collections/{collectionId}`
#[utoipa::path(get, path = "/collections/{collectionId}", tag = "features", operation_id = "describeCollection",
    params(("collectionId" = String, Path, description = "`boxes` or `regions`")),
    responses((status = 200, description = "The collection", body = Collection), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such collection", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn collection(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let layer = layer(&id)?;
    Ok(HttpResponse::Ok().json(describe(&app, &caller, &base(&req), layer).await?))
}

/// The query of this request with `cursor` set to `next`'s, the other parameters kept.
fn next_query(query: &str, next: &ItemKey) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "cursor") {
        out.append_pair(&k, &v);
    }
    out.append_pair("cursor", &next.cursor());
    out.finish()
}

/// `GET /collections/{collectionId}/items?bbox=&limit=&project=&cursor=`
#[utoipa::path(get, path = "/collections/{collectionId}/items", tag = "features", operation_id = "getFeatures",
    params(("collectionId" = String, Path, description = "`boxes` or `regions`"),
        ("bbox" = Option<String>, Query, description = "`minLon,minLat,maxLon,maxLat` (CRS84); `minLon > maxLon` crosses the antimeridian"),
        ("limit" = Option<u64>, Query, description = "Items per page, at least 1 (default 1000; more than 10000 is served as 10000)", minimum = 1),
        ("project" = Option<String>, Query, description = "Comma-separated project ids: narrows the token's projects"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: taken from the `next` link"),
        ("datetime" = Option<String>, Query, description = "Accepted; no item has a time, so it filters nothing"),
        ("crs" = Option<String>, Query, description = "Only CRS84"),
        ("bbox-crs" = Option<String>, Query, description = "Only CRS84"),
        ("f" = Option<String>, Query, description = "`json` or `geojson`")),
    responses((status = 200, description = "A page of features in id order", body = FeatureCollection, content_type = "application/geo+json"), (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such collection", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn items(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let layer = layer(&id)?;
    let query = parse_items_query(req.query_string())?;
    let scope = caller.projects();
    let (features, next, matched) = match layer {
        Layer::Boxes => {
            let (page, matched) = app.box_items(&query, &scope).await?;
            let Page { items, next } = page;
            (items.into_iter().map(box_feature).collect(), next, matched)
        }
        Layer::Regions => {
            let Page { items, next } = app.region_items(&query, &scope).await?;
            let features: Vec<Feature> = items.into_iter().map(region_feature).collect();
            (features, next, None)
        }
    };
    let here = format!("{}{}", base(&req), req.path());
    let mut links = vec![link(
        match req.query_string() {
            "" => here.clone(),
            q => format!("{here}?{q}"),
        },
        "self",
        GEO_JSON,
        "This page",
    )];
    if let Some(next) = next {
        let href = format!("{here}?{}", next_query(req.query_string(), &next));
        links.push(link(href, "next", GEO_JSON, "The next page"));
    }
    Ok(geo_json(&FeatureCollection {
        kind: "FeatureCollection",
        number_returned: features.len(),
        features,
        number_matched: matched,
        time_stamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        links,
    }))
}

/// `GET /collections/{collectionId}/items/{featureId}`
#[utoipa::path(get, path = "/collections/{collectionId}/items/{featureId}", tag = "features", operation_id = "getFeature",
    params(("collectionId" = String, Path, description = "`boxes` or `regions`"),
        ("featureId" = String, Path, description = "A box id, or `project:region id`")),
    responses((status = 200, description = "The feature", body = Feature, content_type = "application/geo+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such collection or feature (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn item(
    app: web::Data<App>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let (collection, id) = path.into_inner();
    let layer = layer(&collection)?;
    let not_found = |e: StoreError| match e {
        StoreError::NotFound => ApiError::NotFound(format!("feature {id:?} of {collection}")),
        other => other.into(),
    };
    let feature = match layer {
        Layer::Boxes => box_feature(
            app.box_detail(&id, &caller.projects())
                .await
                .map_err(not_found)?,
        ),
        Layer::Regions => region_feature(
            app.region_item(&id, &caller.projects())
                .await
                .map_err(not_found)?,
        ),
    };
    Ok(geo_json(&feature))
}
