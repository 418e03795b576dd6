use super::ApiError;
use super::extract::{Caller, read_body};
use crate::auth::Scope;
use crate::domain::import::{ImportMode, parse_collection};
use crate::domain::network::check_text;
use crate::service::App;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

const READ: [Scope; 2] = [Scope::Feasibility, Scope::ReservationsRead];
/// Boxes one `GET /boxes` returns at most.
const MAX_BBOX_LIMIT: usize = 10_000;

/// The largest import body, bytes.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub usize);

#[derive(Deserialize)]
pub struct ImportParams {
    project: Option<String>,
    mode: Option<ImportMode>,
}

/// `POST /inventory/import?project=ID&mode=upsert|replace`
pub async fn import(
    app: web::Data<App>,
    caller: Caller,
    params: web::Query<ImportParams>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::InventoryWrite)?;
    let project = params
        .project
        .as_deref()
        .ok_or_else(|| ApiError::invalid("project", "is required"))?;
    check_text(project).map_err(|m| ApiError::invalid("project", m))?;
    caller.see(project, || format!("project {project:?}"))?;
    let mode = params.mode.unwrap_or_default();
    let limit = req.app_data::<ImportLimit>().map_or(256 << 20, |l| l.0);
    let bytes = read_body(&req, &mut payload, limit).await?;
    let doc: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let batch = parse_collection(&doc)?;
    let outcome = app.import(project, &batch, mode).await?;
    Ok(HttpResponse::Ok().json(json!({
        "project": project,
        "mode": mode,
        "boxes": outcome.boxes,
        "regions": outcome.regions,
    })))
}

/// `GET /boxes/{id}`
pub async fn get_box(
    app: web::Data<App>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    caller.require_any(&READ)?;
    let not_found = || ApiError::NotFound(format!("box {:?}", id.as_str()));
    let b = app.store.box_detail(&id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => not_found(),
        other => other.into(),
    })?;
    if !caller.projects().allows(&b.project) {
        return Err(not_found());
    }
    let free: u32 = b
        .splitters
        .iter()
        .filter(|s| s.kind == crate::domain::network::SplitterKind::Attendance)
        .map(|s| s.free)
        .sum();
    let mut body = serde_json::to_value(&b).map_err(|e| ApiError::Internal(e.into()))?;
    body["free_ports"] = json!(free);
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
pub struct BboxParams {
    bbox: Option<String>,
    project: Option<String>,
    limit: Option<usize>,
}

fn parse_bbox(text: &str) -> Result<[f64; 4], ApiError> {
    let bad = || ApiError::invalid("bbox", "must be minLon,minLat,maxLon,maxLat in degrees");
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [min_lon, min_lat, max_lon, max_lat] = <[f64; 4]>::try_from(parts).map_err(|_| bad())?;
    let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
    let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
    if !(lon_ok(min_lon) && lon_ok(max_lon) && lat_ok(min_lat) && lat_ok(max_lat))
        || min_lat > max_lat
    {
        return Err(bad());
    }
    Ok([min_lon, min_lat, max_lon, max_lat])
}

/// `GET /boxes?bbox=minLon,minLat,maxLon,maxLat&project=&limit=` as GeoJSON.
pub async fn boxes_in_bbox(
    app: web::Data<App>,
    caller: Caller,
    params: web::Query<BboxParams>,
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
    let boxes = app.store.boxes_in_bbox(bbox, &scope, limit + 1).await?;
    let truncated = boxes.len() > limit;
    let features: Vec<_> = boxes
        .iter()
        .take(limit)
        .map(|b| {
            json!({"type": "Feature", "id": b.id,
                   "geometry": {"type": "Point", "coordinates": [b.lon, b.lat]},
                   "properties": {"id": b.id, "project": b.project, "name": b.name, "status": b.status, "free_ports": b.free_ports}})
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .json(json!({"type": "FeatureCollection", "features": features, "truncated": truncated})))
}
