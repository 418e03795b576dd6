//! Batch feasibility: many points against one set of batch-level fields, each point
//! answered or refused on its own.

use super::Coord;
use super::feasibility::{OptionsIn, Reason, Text, parse_point};
use super::network::check_text;
use super::validation::{FieldError, Invalid};
use serde::{Deserialize, Serialize};

/// The most items one JSON batch takes (more is 413); CSV goes up to `batch_max_items`.
pub const MAX_JSON_ITEMS: usize = 10_000;
/// Candidates per item when the batch does not say.
pub const DEFAULT_BATCH_LIMIT: i64 = 1;

/// `POST /feasibility/batch` as JSON.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Every item's plan unless the item gives its own.
    #[schema(min_length = 1, max_length = 200)]
    pub plan_id: Option<String>,
    #[serde(default)]
    #[schema(inline, value_type = Vec<Text>)]
    pub tags: Vec<String>,
    /// Metres, up to the `max_radius_m` setting; default the `default_radius_m` setting.
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub radius_m: Option<f64>,
    /// Candidates answered per item at most (default 1).
    #[schema(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
    /// Narrows the token's projects.
    #[schema(value_type = Option<Vec<Text>>)]
    pub projects: Option<Vec<String>>,
    /// Counts the answers as demand (not counted by default).
    #[serde(default)]
    pub record_demand: bool,
    /// Up to 10,000 points. Each is checked on its own, so a bad one fails only itself.
    #[schema(value_type = Vec<BatchItem>, max_items = 10000)]
    pub items: Vec<serde_json::Value>,
}

/// One point of a batch, as documented (items are read by [`item_from_json`]).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct BatchItem {
    /// The caller's reference, echoed in the answer.
    #[schema(min_length = 1, max_length = 200)]
    r#ref: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    lon: f64,
    /// This item's plan, in place of the batch's.
    #[schema(min_length = 1, max_length = 200)]
    plan_id: Option<String>,
}

/// The batch-level fields, from a JSON batch or a CSV batch's query parameters.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    pub plan_id: Option<String>,
    pub tags: Vec<String>,
    pub radius_m: Option<f64>,
    pub limit: Option<i64>,
    pub projects: Option<Vec<String>>,
    pub record_demand: bool,
}

impl BatchOptions {
    pub fn as_sent(&self) -> OptionsIn<'_> {
        OptionsIn {
            radius_m: self.radius_m,
            limit: self.limit,
            plan_id: self.plan_id.as_deref(),
            tags: &self.tags,
            projects: self.projects.as_deref(),
        }
    }
}

impl BatchRequest {
    /// Splits the batch-level fields from the items.
    pub fn into_parts(self) -> (BatchOptions, Vec<serde_json::Value>) {
        let options = BatchOptions {
            plan_id: self.plan_id,
            tags: self.tags,
            radius_m: self.radius_m,
            limit: self.limit,
            projects: self.projects,
            record_demand: self.record_demand,
        };
        (options, self.items)
    }
}

/// A checked item: its point and its own plan, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemPoint<'a> {
    pub at: Coord,
    pub plan_id: Option<&'a str>,
}

/// Why one item was not answered. `code` is the contract's code of the same failure on
/// `POST /feasibility`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub code: &'static str,
    pub errors: Vec<FieldError>,
}

impl ItemError {
    /// The code of a streamed answer's last row when it was cut short.
    pub const TOO_LARGE: &'static str = "payload_too_large";

    pub fn invalid(invalid: Invalid) -> Self {
        Self {
            code: "validation_failed",
            errors: invalid.0,
        }
    }

    pub fn unknown_plan(id: &str) -> Self {
        Self {
            code: "not_found",
            errors: Invalid::one("plan_id", format!("no plan {id:?}")).0,
        }
    }
}

/// A JSON item's `ref` as answered: the caller's text, or null for anything else.
pub fn item_ref(item: &serde_json::Value) -> Option<&str> {
    item.get("ref").and_then(serde_json::Value::as_str)
}

/// Checks a JSON item; field names are the item's own (`lat`, `plan_id`).
pub fn item_from_json(item: &serde_json::Value) -> Result<ItemPoint<'_>, ItemError> {
    let Some(fields) = item.as_object() else {
        return Err(ItemError::invalid(Invalid::one(
            "item",
            "must be an object",
        )));
    };
    let mut invalid = Invalid::default();
    let mut number = |name: &str| match fields.get(name) {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => v.as_f64().or_else(|| {
            invalid.add(name, "must be a number");
            Some(0.0)
        }),
    };
    let (lat, lon) = (number("lat"), number("lon"));
    let mut text = |name: &str| match fields.get(name) {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            if let Err(m) = check_text(s) {
                invalid.add(name, m);
            }
            Some(s.as_str())
        }
        Some(_) => {
            invalid.add(name, "must be a string");
            None
        }
    };
    text("ref");
    let plan_id = text("plan_id");
    for name in fields.keys() {
        if !matches!(name.as_str(), "ref" | "lat" | "lon" | "plan_id") {
            invalid.add(name.as_str(), "is not a field of an item");
        }
    }
    point(lat, lon, plan_id, invalid)
}

/// Checks a CSV row's cells (already split); an empty cell is a missing value.
pub fn item_from_cells<'a>(
    reference: Option<&str>,
    lat: Option<&str>,
    lon: Option<&str>,
    plan_id: Option<&'a str>,
) -> Result<ItemPoint<'a>, ItemError> {
    let mut invalid = Invalid::default();
    let mut number = |name: &str, cell: Option<&str>| {
        let cell = cell.map(str::trim).filter(|c| !c.is_empty())?;
        Some(cell.parse::<f64>().unwrap_or_else(|_| {
            invalid.add(name, "must be a number");
            0.0
        }))
    };
    let (lat, lon) = (number("lat", lat), number("lon", lon));
    if let Some(r) = reference
        && let Err(m) = check_text(r)
    {
        invalid.add("ref", m);
    }
    let plan_id = plan_id.filter(|p| !p.is_empty());
    if let Some(p) = plan_id
        && let Err(m) = check_text(p)
    {
        invalid.add("plan_id", m);
    }
    point(lat, lon, plan_id, invalid)
}

fn point<'a>(
    lat: Option<f64>,
    lon: Option<f64>,
    plan_id: Option<&'a str>,
    mut invalid: Invalid,
) -> Result<ItemPoint<'a>, ItemError> {
    // A number refused above already has its message; only a missing one is added here.
    let at = parse_point(lat, lon, &mut invalid);
    invalid
        .or_ok(ItemPoint { at, plan_id })
        .map_err(ItemError::invalid)
}

/// What a batch's items came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Every item.
    pub total: u64,
    /// The feasible ones.
    pub feasible: u64,
    /// The refused ones.
    pub errors: u64,
    /// The answered infeasible ones, by reason (all four, zeros included).
    pub by_reason: ByReason,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ByReason {
    pub no_coverage: u64,
    pub network_not_deployed: u64,
    pub plan_not_available: u64,
    pub no_free_ports: u64,
}

impl Summary {
    /// Counts one item: answered with `reason` (`None`: feasible), or refused.
    pub fn add(&mut self, outcome: Result<Option<Reason>, ()>) {
        self.total += 1;
        match outcome {
            Ok(None) => self.feasible += 1,
            Ok(Some(reason)) => {
                let slot = match reason {
                    Reason::NoCoverage => &mut self.by_reason.no_coverage,
                    Reason::NetworkNotDeployed => &mut self.by_reason.network_not_deployed,
                    Reason::PlanNotAvailable => &mut self.by_reason.plan_not_available,
                    Reason::NoFreePorts => &mut self.by_reason.no_free_ports,
                };
                *slot += 1;
            }
            Err(()) => self.errors += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(r: Result<ItemPoint<'_>, ItemError>) -> Vec<String> {
        r.unwrap_err().errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_json_item_is_checked_field_by_field() {
        let item = json!({"ref": "l1", "lat": -23.5, "lon": -46.6, "plan_id": "p"});
        let p = item_from_json(&item).unwrap();
        assert_eq!((p.at.lat(), p.plan_id), (-23.5, Some("p")));
        assert_eq!(fields(item_from_json(&json!({"lat": "x"}))), ["lat", "lon"]);
        assert_eq!(
            fields(item_from_json(&json!({"lat": 91, "lon": 0}))),
            ["lat"]
        );
        assert_eq!(
            fields(item_from_json(
                &json!({"lat": 0, "lon": 0, "lng": 1, "ref": 5})
            )),
            ["ref", "lng"]
        );
        assert_eq!(fields(item_from_json(&json!([1, 2]))), ["item"]);
        assert_eq!(item_ref(&json!({"ref": 5})), None);
    }

    #[test]
    fn csv_cells_are_numbers_or_missing() {
        let p = item_from_cells(Some("a"), Some(" -23.5"), Some("-46.6"), Some("")).unwrap();
        assert_eq!((p.at.lon(), p.plan_id), (-46.6, None));
        assert_eq!(
            fields(item_from_cells(None, Some("north"), None, None)),
            ["lat", "lon"]
        );
        assert_eq!(
            item_from_cells(None, Some("0"), Some("0"), Some("x\u{1}"))
                .unwrap_err()
                .code,
            "validation_failed"
        );
    }

    #[test]
    fn the_summary_counts_every_item_once() {
        let mut s = Summary::default();
        for o in [Ok(None), Ok(Some(Reason::NoFreePorts)), Err(()), Ok(None)] {
            s.add(o);
        }
        assert_eq!((s.total, s.feasible, s.errors), (4, 2, 1));
        assert_eq!(s.by_reason.no_free_ports, 1);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["by_reason"].as_object().unwrap().len(), Reason::ALL.len());
    }
}
