use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, Query, read_body};
use crate::auth::Scope;
use crate::domain::import::{Format, ImportMode, ReadError, Warning, read};
use crate::domain::network::BoxStatus;
use crate::domain::network::check_project_id;
use crate::service::App;
use crate::store::{BoxDetail, Counts, MovedHold};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

const READ: [Scope; 2] = [Scope::Feasibility, Scope::ReservationsRead];
/// Boxes one `GET /boxes` returns at most.
pub(crate) const MAX_BBOX_LIMIT: usize = 10_000;

/// The largest import body, bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub usize);

#[derive(Deserialize)]
pub struct ImportParams {
    project: Option<String>,
    mode: Option<ImportMode>,
}

/// What `POST /inventory/import` reads as JSON (described here for the document; the
/// reader is `domain::import`, which streams the file without building this).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ImportFile {
    /// `FeatureCollection`
    r#type: String,
    /// Boxes (Point) and regions (Polygon, MultiPolygon), as the README's import section
    /// describes.
    features: Vec<serde_json::Value>,
}

/// What an import changed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportResponse {
    project: String,
    mode: ImportMode,
    boxes: Counts,
    regions: Counts,
    /// Reservations whose hold the import moved to another port of their box.
    moved: Vec<MovedHold>,
    /// What the file gave that the import did not use, and boxes no customer can get.
    warnings: Vec<Warning>,
}

/// The file's format by its `Content-Type` (GeoJSON when none is given).
fn import_format(req: &HttpRequest) -> Result<Format, ApiError> {
    let Some(value) = req.headers().get(actix_web::http::header::CONTENT_TYPE) else {
        return Ok(Format::GeoJson);
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    match essence.to_ascii_lowercase().as_str() {
        "application/json" | "application/geo+json" => Ok(Format::GeoJson),
        "text/csv" => Ok(Format::Csv),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "an import is GeoJSON (application/json or application/geo+json) or CSV \
             (text/csv), not {text:?}"
        ))),
    }
}

/// A GeoJSON point.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PointGeometry {
    #[serde(rename = "type")]
    kind: &'static str,
    /// `[longitude, latitude]`
    coordinates: [f64; 2],
}

/// What a map shows of a box.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BoxProperties {
    id: String,
    project: String,
    name: String,
    status: BoxStatus,
    free_ports: u32,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BoxFeature {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    geometry: PointGeometry,
    properties: BoxProperties,
}

/// Boxes as a GeoJSON FeatureCollection; `truncated` when `limit` cut the list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BoxCollection {
    #[serde(rename = "type")]
    kind: &'static str,
    features: Vec<BoxFeature>,
    truncated: bool,
}

/// `POST /inventory/import?project=ID&mode=upsert|replace`
#[utoipa::path(post, path = "/inventory/import", operation_id = "import_inventory", tag = "inventory",
    params(("project" = String, Query, description = "Project id"), ("mode" = Option<ImportMode>, Query, description = "upsert (default) or replace")),
    request_body(description = "A GeoJSON FeatureCollection of boxes and regions, or CSV of boxes (one row per splitter)",
        content((ImportFile = "application/json"), (ImportFile = "application/geo+json"), (String = "text/csv"))),
    responses((status = 200, description = "Imported: counts, moved holds and warnings", body = ImportResponse), (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"), (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"), (status = 415, description = "Neither GeoJSON nor CSV", body = Problem, content_type = "application/problem+json"), (status = 422, description = "Invalid fields (validation_failed), or coordinates not in WGS84 longitude/latitude (unsupported_crs)", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 409, description = "Boxes or splitters with held ports would be removed", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn import(
    app: web::Data<App>,
    caller: Caller,
    Query(params): Query<ImportParams>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::InventoryWrite)?;
    let project = params
        .project
        .as_deref()
        .ok_or_else(|| ApiError::invalid("project", "is required"))?;
    check_project_id(project).map_err(|m| ApiError::invalid("project", m))?;
    caller.see(project, || format!("project {project:?}"))?;
    let mode = params.mode.unwrap_or_default();
    let format = import_format(&req)?;
    let limit = req.app_data::<ImportLimit>().map_or(256 << 20, |l| l.0);
    let bytes = read_body(&req, &mut payload, limit).await?;
    // Reading a large file is seconds of CPU: not on the threads that answer requests.
    let batch = web::block(move || {
        let started = std::time::Instant::now();
        let read = read(&bytes, format);
        tracing::debug!(
            bytes = bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import file read"
        );
        read
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| match e {
        ReadError::Malformed(e) => ApiError::MalformedJson(e.to_string()),
        ReadError::UnsupportedCrs(crs) => ApiError::Unprocessable {
            code: crate::http::code::Code::UnsupportedCrs,
            detail: crs.to_string(),
        },
        ReadError::Invalid(invalid) => ApiError::Validation(invalid),
    })?;
    let warnings = batch.warnings();
    let outcome = app.import(project, &batch, mode).await;
    // Freeing a million boxes' strings takes a while too.
    tokio::task::spawn_blocking(move || drop(batch));
    let outcome = outcome?;
    Ok(HttpResponse::Ok().json(ImportResponse {
        project: project.to_owned(),
        mode,
        boxes: outcome.boxes,
        regions: outcome.regions,
        moved: outcome.moved,
        warnings,
    }))
}

/// `GET /boxes/{id}`
#[utoipa::path(get, path = "/boxes/{id}", operation_id = "get_box", tag = "inventory", params(("id" = String, Path, description = "Box id")),
    responses((status = 200, description = "The box with its splitters and port states", body = BoxDetail), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not found (or in a project the token cannot see)", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn get_box(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let b = app
        .box_detail(&id, &caller.projects())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => {
                ApiError::NotFound(format!("box {:?}", id.as_str()))
            }
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(b))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BboxParams {
    /// `minLon,minLat,maxLon,maxLat`
    bbox: Option<String>,
    project: Option<String>,
    /// Default 1,000.
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
}

fn parse_bbox(text: &str) -> Result<[f64; 4], ApiError> {
    crate::domain::features::parse_bbox(text).map_err(|m| ApiError::invalid("bbox", m))
}

/// `GET /boxes?bbox=minLon,minLat,maxLon,maxLat&project=&limit=` as GeoJSON.
#[utoipa::path(get, path = "/boxes", operation_id = "list_boxes", tag = "inventory", params(BboxParams),
    responses((status = 200, description = "Boxes in the bounding box, as GeoJSON", body = BoxCollection, content_type = "application/geo+json"), (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn boxes_in_bbox(
    app: web::Data<App>,
    caller: Caller,
    Query(params): Query<BboxParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let bbox = parse_bbox(
        params
            .bbox
            .as_deref()
            .ok_or_else(|| ApiError::invalid("bbox", "is required"))?,
    )?;
    let limit = params.limit.unwrap_or(1000);
    if !(1..=MAX_BBOX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_BBOX_LIMIT}"),
        ));
    }
    let scope = match &params.project {
        Some(p) => caller.projects().narrow(Some(std::slice::from_ref(p))),
        None => caller.projects(),
    };
    let boxes = app.boxes_in_bbox(bbox, &scope, limit + 1).await?;
    let truncated = boxes.len() > limit;
    let features = boxes
        .into_iter()
        .take(limit)
        .map(|b| BoxFeature {
            kind: "Feature",
            id: b.id.clone(),
            geometry: PointGeometry {
                kind: "Point",
                coordinates: [b.lon, b.lat],
            },
            properties: BoxProperties {
                id: b.id,
                project: b.project,
                name: b.name,
                status: b.status,
                free_ports: b.free_ports,
            },
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(BoxCollection {
            kind: "FeatureCollection",
            features,
            truncated,
        }))
}

/// Boxes one `GET /map/boxes` returns at most.
pub(crate) const MAX_MAP_LIMIT: usize = 200_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MapParams {
    /// `minLon,minLat,maxLon,maxLat`
    bbox: Option<String>,
    project: Option<String>,
    /// Default and most 200,000.
    #[param(minimum = 1, maximum = 200000)]
    limit: Option<usize>,
}

/// `GET /map/boxes?bbox=&project=&limit=`: a map window's boxes as parallel lists.
#[utoipa::path(get, path = "/map/boxes", operation_id = "map_boxes", tag = "inventory", params(MapParams),
    responses((status = 200, description = "The window's boxes as parallel lists (id, position, status, free ports): what a map draws, compactly", body = crate::service::MapBoxes), (status = 422, description = "Invalid parameters", body = Problem, content_type = "application/problem+json"), (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"), (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"), (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
pub async fn map_boxes(
    app: web::Data<App>,
    caller: Caller,
    Query(params): Query<MapParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let bbox = parse_bbox(
        params
            .bbox
            .as_deref()
            .ok_or_else(|| ApiError::invalid("bbox", "is required"))?,
    )?;
    let limit = params.limit.unwrap_or(MAX_MAP_LIMIT);
    if !(1..=MAX_MAP_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_MAP_LIMIT}"),
        ));
    }
    let scope = match &params.project {
        Some(p) => caller.projects().narrow(Some(std::slice::from_ref(p))),
        None => caller.projects(),
    };
    Ok(HttpResponse::Ok().json(app.map_boxes(bbox, &scope, limit)))
}
