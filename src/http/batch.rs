//! `POST /feasibility/batch`: JSON in and out, or CSV in and CSV or NDJSON streamed out.

use super::ApiError;
use super::error::Problem;
use super::extract::{Caller, json_content_type, parse_json, parse_query, read_body};
use crate::auth::Scope;
use crate::domain::batch::{BatchOptions, BatchRequest, Summary};
use crate::service::App;
use crate::service::answer::{BatchOut, ItemOut};
use crate::service::batch::{BatchError, Format, StartError};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

/// Rows one CSV batch answers at most (`batch_max_items`).
#[derive(Debug, Clone, Copy)]
pub struct BatchLimit(pub usize);

/// The largest JSON batch body: 10,000 items with every text at its longest fit well.
const JSON_BODY_LIMIT: usize = 16 << 20;

/// A CSV batch's batch-level fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvParams {
    plan_id: Option<String>,
    radius_m: Option<f64>,
    limit: Option<i64>,
    /// Comma-separated.
    projects: Option<String>,
    /// Comma-separated.
    tags: Option<String>,
    record_demand: Option<bool>,
}

impl From<CsvParams> for BatchOptions {
    fn from(p: CsvParams) -> Self {
        let list = |s: Option<String>| s.map(|s| s.split(',').map(str::to_owned).collect());
        BatchOptions {
            plan_id: p.plan_id,
            tags: list(p.tags).unwrap_or_default(),
            radius_m: p.radius_m,
            limit: p.limit,
            projects: list(p.projects),
            record_demand: p.record_demand.unwrap_or(false),
        }
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::Refused(e) => e.into(),
            BatchError::TooManyItems(n) => ApiError::TooManyItems(n),
            BatchError::Header(invalid) => ApiError::Validation(invalid),
        }
    }
}

/// A JSON batch's answer, as documented.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BatchAnswer {
    /// In the order of the request's items.
    items: Vec<ItemOut<'static>>,
    summary: Summary,
}

/// `POST /feasibility/batch`
#[utoipa::path(post, path = "/feasibility/batch", operation_id = "check_feasibility_batch", tag = "feasibility",
    description = "Many points in one request, each answered as `POST /feasibility` would (candidates cut at `limit`, default 1) or refused on its own. JSON: up to 10,000 items, answered whole with a summary. CSV (`text/csv`, a header row with `ref`, `lat`, `lon` and optionally `plan_id`; the batch-level fields as query parameters): up to `batch_max_items` rows, answered as a stream in input order, as CSV (columns `ref,lat,lon,feasible,reason,box_id,distance_m,free_ports,error`, the nearest candidate) or, with `Accept: application/x-ndjson`, one JSON item a line. A bad row is answered with its error code and the rest go on; past `batch_max_items` the answer ends with one row whose `error` is `payload_too_large`.",
    params(
        ("plan_id" = Option<String>, Query, description = "CSV only: every row's plan unless the row has its own", min_length = 1, max_length = 200),
        ("radius_m" = Option<f64>, Query, description = "CSV only: metres, up to the `max_radius_m` setting", exclusive_minimum = 0, maximum = 100000),
        ("limit" = Option<i64>, Query, description = "CSV only: candidates per row in NDJSON (default 1)", minimum = 1, maximum = 50),
        ("projects" = Option<String>, Query, description = "CSV only: comma-separated projects narrowing the token's"),
        ("tags" = Option<String>, Query, description = "CSV only: comma-separated tags in force with the plan's"),
        ("record_demand" = Option<bool>, Query, description = "CSV only (a JSON batch with a query parameter is 422): count the answers as demand (default false)"),
    ),
    request_body(description = "A JSON batch, or CSV rows of points",
        content((BatchRequest = "application/json"), (String = "text/csv"))),
    responses(
        (status = 200, description = "Every item answered or refused, in input order", content(
            (BatchAnswer = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, malformed, forged or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown batch-level plan_id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 10,000 JSON items, or a body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid batch-level fields, or a CSV header without ref, lat or lon", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn batch(
    app: web::Data<App>,
    caller: Caller,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    caller.require(Scope::Feasibility)?;
    let scope = caller.projects();
    if !is_csv(&req) {
        json_content_type(&req)?;
        // A JSON batch's fields are in its body: a query parameter would pass silently.
        if let Some((name, _)) = form_urlencoded::parse(req.query_string().as_bytes()).next() {
            return Err(ApiError::invalid(
                &name,
                "is a query parameter of CSV batches: give it in the JSON body",
            ));
        }
        let bytes = read_body(&req, &mut payload, JSON_BODY_LIMIT).await?;
        let body: BatchRequest = parse_json(&bytes)?;
        // Ten thousand queries are tens of milliseconds: not on the threads that answer.
        let answered = web::block(move || app.batch_json(body, &scope).map(|b| json(&b.out())))
            .await
            .map_err(|e| ApiError::Internal(e.into()))??;
        return Ok(HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(answered));
    }
    let options: BatchOptions = parse_query::<CsvParams>(req.query_string())?.into();
    let format = if accepts_ndjson(&req) {
        Format::Ndjson
    } else {
        Format::Csv
    };
    let max_items = req.app_data::<BatchLimit>().map_or(1_000_000, |l| l.0);
    let stream = app
        .batch_csv(&options, &scope, payload, format, max_items)
        .await
        .map_err(|e| match e {
            StartError::Refused(e) => ApiError::from(e),
            StartError::Input(e) => ApiError::BadRequest(format!("could not read the body: {e}")),
        })?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .streaming(stream))
}

fn json(out: &BatchOut<'_>) -> Vec<u8> {
    serde_json::to_vec(out).expect("an answer serialises")
}

fn media_type(req: &HttpRequest, header: actix_web::http::header::HeaderName) -> Vec<String> {
    req.headers()
        .get_all(header)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect()
}

fn is_csv(req: &HttpRequest) -> bool {
    media_type(req, actix_web::http::header::CONTENT_TYPE)
        .first()
        .is_some_and(|t| t == "text/csv")
}

fn accepts_ndjson(req: &HttpRequest) -> bool {
    media_type(req, actix_web::http::header::ACCEPT)
        .iter()
        .any(|t| t == "application/x-ndjson")
}

#[cfg(test)]
mod tests {
    use crate::domain::batch::ItemError;
    use crate::domain::validation::Invalid;
    use crate::http::code::Code;

    #[test]
    fn an_items_code_is_that_of_the_same_failure_on_post_feasibility() {
        assert_eq!(
            ItemError::invalid(Invalid::one("lat", "x")).code,
            Code::ValidationFailed.name()
        );
        assert_eq!(ItemError::unknown_plan("x").code, Code::NotFound.name());
        assert_eq!(ItemError::TOO_LARGE, Code::PayloadTooLarge.name());
    }
}
