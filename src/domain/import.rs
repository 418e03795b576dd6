//! Reading an inventory GeoJSON FeatureCollection into boxes and regions.
//!
//! Every feature is checked and every problem reported (`features[3].properties.status`),
//! so a rejected file can be fixed in one pass.

use super::Coord;
use super::network::{BoxStatus, NetBox, Ports, Region, Splitter, SplitterKind, check_text};
use super::region_geometry::{parse_region_geometry, position};
use super::validation::Invalid;
use serde_json::{Map, Value};
use std::collections::HashSet;

mod text;
pub use text::{ReadError, read_collection};

/// What a file asks to store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportBatch {
    /// Each box with the index of its feature in the file.
    pub boxes: Vec<(usize, NetBox)>,
    /// Each region with the index of its feature in the file.
    pub regions: Vec<(usize, Region)>,
}

/// How an import treats what the file does not mention.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    /// Add and update by id; keep the rest.
    #[default]
    Upsert,
    /// Also delete the project's boxes and regions absent from the file.
    Replace,
}

/// Parses a whole FeatureCollection; any bad feature refuses the whole file.
pub fn parse_collection(doc: &Value) -> Result<ImportBatch, Invalid> {
    let mut invalid = Invalid::default();
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        invalid.add("type", "must be \"FeatureCollection\"");
    }
    let Some(features) = doc.get("features").and_then(Value::as_array) else {
        invalid.add("features", "must be an array of features");
        return Err(invalid);
    };
    let mut c = Collector::default();
    for (i, feature) in features.iter().enumerate() {
        c.feature(i, feature);
    }
    invalid.0.append(&mut c.invalid.0);
    invalid.or_ok(c.batch)
}

/// Ids already used in the file, by kind.
#[derive(Default)]
struct SeenIds {
    boxes: HashSet<String>,
    splitters: HashSet<String>,
    regions: HashSet<String>,
}

/// Features checked one at a time, in file order, into a batch and a list of problems.
#[derive(Default)]
struct Collector {
    batch: ImportBatch,
    invalid: Invalid,
    seen: SeenIds,
}

impl Collector {
    /// Checks feature `i` and, when it is valid, adds its box or region to the batch.
    fn feature(&mut self, i: usize, feature: &Value) {
        let mut f = FeatureCheck {
            index: i,
            invalid: &mut self.invalid,
        };
        let Some(obj) = feature.as_object() else {
            f.fail("", "must be a GeoJSON Feature object");
            return;
        };
        if obj.get("type").and_then(Value::as_str) != Some("Feature") {
            f.fail("type", "must be \"Feature\"");
        }
        let empty = Map::new();
        let props = match obj.get("properties") {
            Some(Value::Object(p)) => p,
            _ => {
                f.fail("properties", "must be an object");
                &empty
            }
        };
        let geometry = obj.get("geometry").unwrap_or(&Value::Null);
        match props.get("kind").and_then(Value::as_str) {
            Some("box") => {
                let seen = &mut self.seen;
                // Duplicates are checked on the raw ids, so a bad first copy still counts.
                if let Some(id) = props.get("id").and_then(Value::as_str)
                    && !seen.boxes.insert(id.to_owned())
                {
                    f.fail("properties.id", "is used by another box of this file");
                }
                let raw_splitters = props
                    .get("splitters")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for (j, s) in raw_splitters.iter().enumerate() {
                    if let Some(id) = s.get("id").and_then(Value::as_str)
                        && !seen.splitters.insert(id.to_owned())
                    {
                        let field = format!("properties.splitters[{j}].id");
                        f.fail(&field, "is used by another splitter of this file");
                    }
                }
                if let Some(b) = f.net_box(geometry, props) {
                    self.batch.boxes.push((i, b));
                }
            }
            Some("region") => {
                if let Some(id) = props.get("id").and_then(Value::as_str)
                    && !self.seen.regions.insert(id.to_owned())
                {
                    f.fail("properties.id", "is used by another region of this file");
                }
                if let Some(r) = f.region(geometry, props) {
                    self.batch.regions.push((i, r));
                }
            }
            _ => f.fail("properties.kind", "must be \"box\" or \"region\""),
        }
    }
}

/// The checks of one feature, naming fields below `features[index]`.
struct FeatureCheck<'a> {
    index: usize,
    invalid: &'a mut Invalid,
}

impl FeatureCheck<'_> {
    fn fail(&mut self, field: &str, message: impl ToString) {
        let name = if field.is_empty() {
            format!("features[{}]", self.index)
        } else {
            format!("features[{}].{field}", self.index)
        };
        self.invalid.add(name, message);
    }

    fn text(&mut self, props: &Map<String, Value>, key: &str, required: bool) -> Option<String> {
        match props.get(key) {
            None | Some(Value::Null) if !required => None,
            Some(Value::String(s)) => match check_text(s) {
                Ok(()) => Some(s.clone()),
                Err(m) => {
                    self.fail(&format!("properties.{key}"), m);
                    None
                }
            },
            None | Some(Value::Null) => {
                self.fail(&format!("properties.{key}"), "is required");
                None
            }
            Some(_) => {
                self.fail(&format!("properties.{key}"), "must be a string");
                None
            }
        }
    }

    fn net_box(&mut self, geometry: &Value, props: &Map<String, Value>) -> Option<NetBox> {
        let before = self.invalid.0.len();
        let location = self.point(geometry);
        let id = self.text(props, "id", true);
        let name = self.text(props, "name", false);
        let status = match props
            .get("status")
            .and_then(Value::as_str)
            .map(BoxStatus::parse)
        {
            Some(Some(s)) => Some(s),
            _ => {
                self.fail(
                    "properties.status",
                    "must be one of deployed, in_project, out_of_service",
                );
                None
            }
        };
        let splitters = match props.get("splitters") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(j, s)| self.splitter(j, s))
                .collect(),
            Some(_) => {
                self.fail("properties.splitters", "must be an array");
                Vec::new()
            }
        };
        if self.invalid.0.len() > before {
            return None;
        }
        let id = id?;
        Some(NetBox {
            name: name.unwrap_or_else(|| id.clone()),
            id,
            status: status?,
            location: location?,
            splitters,
        })
    }

    fn splitter(&mut self, j: usize, value: &Value) -> Option<Splitter> {
        let at = format!("properties.splitters[{j}]");
        let Some(s) = value.as_object() else {
            self.fail(&at, "must be an object");
            return None;
        };
        let before = self.invalid.0.len();
        let id = match s.get("id").and_then(Value::as_str) {
            Some(id) => check_text(id)
                .map(|()| id.to_owned())
                .map_err(|m| self.fail(&format!("{at}.id"), m))
                .ok(),
            None => {
                self.fail(&format!("{at}.id"), "is required and must be a string");
                None
            }
        };
        let kind = s
            .get("kind")
            .and_then(Value::as_str)
            .and_then(SplitterKind::parse);
        if kind.is_none() {
            self.fail(
                &format!("{at}.kind"),
                "must be \"attendance\" or \"connection\"",
            );
        }
        let total = self.count(s.get("ports"), &format!("{at}.ports"), true);
        let ports = match (total, s.get("used"), s.get("used_ports")) {
            (_, Some(_), Some(_)) => {
                self.fail(&at, "give either used or used_ports, not both");
                None
            }
            (Some(total), used, None) => {
                let used = match used {
                    None => Some(0),
                    Some(_) => self.count(used, &format!("{at}.used"), false),
                };
                used.and_then(|u| {
                    Ports::with_used_count(total, u)
                        .map_err(|e| self.fail(&format!("{at}.used"), e))
                        .ok()
                })
            }
            (Some(total), None, Some(list)) => {
                let numbers: Option<Vec<u32>> = list.as_array().and_then(|l| {
                    l.iter()
                        .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                        .collect()
                });
                match numbers {
                    Some(n) => Ports::with_used_ports(total, &n)
                        .map_err(|e| self.fail(&format!("{at}.used_ports"), e))
                        .ok(),
                    None => {
                        self.fail(
                            &format!("{at}.used_ports"),
                            "must be an array of port numbers",
                        );
                        None
                    }
                }
            }
            (None, _, _) => None,
        };
        if self.invalid.0.len() > before {
            return None;
        }
        Some(Splitter {
            id: id?,
            kind: kind?,
            ports: ports?,
        })
    }

    /// A non-negative integer (positive when `positive`).
    fn count(&mut self, v: Option<&Value>, field: &str, positive: bool) -> Option<u32> {
        match v
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
        {
            Some(n) if n > 0 || !positive => Some(n),
            _ => {
                let what = if positive {
                    "a positive integer"
                } else {
                    "a non-negative integer"
                };
                self.fail(field, format!("must be {what}"));
                None
            }
        }
    }

    fn point(&mut self, geometry: &Value) -> Option<Coord> {
        if geometry.get("type").and_then(Value::as_str) != Some("Point") {
            self.fail("geometry", "a box must have a Point geometry");
            return None;
        }
        let c = geometry.get("coordinates");
        match c.and_then(position) {
            Some((lon, lat)) => Coord::parse(lat, lon)
                .map_err(|e| self.fail("geometry.coordinates", e))
                .ok(),
            None => {
                self.fail("geometry.coordinates", "must be [longitude, latitude]");
                None
            }
        }
    }

    fn region(&mut self, geometry: &Value, props: &Map<String, Value>) -> Option<Region> {
        let before = self.invalid.0.len();
        let area = match parse_region_geometry(geometry) {
            Ok(a) => Some(a),
            Err(problems) => {
                for e in problems.0 {
                    self.fail(&e.field, e.message);
                }
                None
            }
        };
        let id = self.text(props, "id", true);
        let name = self.text(props, "name", false);
        let tags: Vec<String> = match props.get("tags") {
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(k, t)| match t.as_str().map(|s| (s, check_text(s))) {
                    Some((s, Ok(()))) => Some(s.to_owned()),
                    Some((_, Err(m))) => {
                        self.fail(&format!("properties.tags[{k}]"), m);
                        None
                    }
                    None => {
                        self.fail(&format!("properties.tags[{k}]"), "must be a string");
                        None
                    }
                })
                .collect(),
            _ => {
                self.fail("properties.tags", "must be an array of strings");
                Vec::new()
            }
        };
        if self.invalid.0.len() > before {
            return None;
        }
        let id = id?;
        Some(Region {
            name: name.unwrap_or_else(|| id.clone()),
            id,
            tags: super::network::normalise_tags(tags),
            area: area?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::region_geometry::{area_to_geojson, parse_area};
    use serde_json::json;

    fn box_feature(props: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.633, -23.5507]}, "properties": props})
    }

    /// The fields refused, the same whether the file is parsed whole or read as text.
    fn fields(doc: Value) -> Vec<String> {
        let whole = parse_collection(&doc).unwrap_err();
        match read_collection(doc.to_string().as_bytes()) {
            Err(ReadError::Invalid(read)) => assert_eq!(read, whole),
            other => panic!("read as text: {other:?}"),
        }
        whole.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_valid_collection_is_read_whole() {
        let doc = json!({"type": "FeatureCollection", "features": [
            box_feature(json!({"kind": "box", "id": "CTO-1", "status": "deployed",
                "splitters": [{"id": "S1", "kind": "attendance", "ports": 8, "used": 3},
                              {"id": "S2", "kind": "connection", "ports": 4, "used_ports": [4]}]})),
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[-47, -24], [-46, -24], [-46, -23], [-47, -23], [-47, -24]]]},
             "properties": {"kind": "region", "id": "centro", "tags": ["centro", "b", "centro"]}}
        ]});
        let batch = parse_collection(&doc).unwrap();
        assert_eq!(read_collection(doc.to_string().as_bytes()).unwrap(), batch);
        assert_eq!(batch.boxes[0].1.name, "CTO-1");
        assert_eq!(batch.boxes[0].1.splitters[0].ports.used(), &[1, 2, 3]);
        assert_eq!(batch.boxes[0].1.splitters[1].ports.used(), &[4]);
        assert_eq!(batch.regions[0].1.tags, ["b", "centro"]);
        let at = Coord::parse(-23.55, -46.63).unwrap();
        assert!(batch.regions[0].1.covers(at));
        let back = parse_area(&area_to_geojson(&batch.regions[0].1.area)).unwrap();
        assert_eq!(back, batch.regions[0].1.area);
    }

    #[test]
    fn each_bad_feature_is_named_by_index_and_field() {
        let doc = json!({"type": "FeatureCollection", "features": [
            box_feature(json!({"kind": "box", "id": "A", "status": "built"})),
            box_feature(json!({"kind": "box", "id": "B", "status": "deployed",
                "splitters": [{"id": "S", "kind": "attendance", "ports": 8, "used": 9}]})),
            box_feature(json!({"kind": "box", "id": "C", "status": "deployed",
                "splitters": [{"id": "T", "kind": "attendance", "ports": 8, "used_ports": [0]}]})),
            box_feature(json!({"kind": "box", "id": "A", "status": "deployed"})),
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {"kind": "region", "id": "r", "tags": []}},
            box_feature(json!({"kind": "pole"})),
        ]});
        assert_eq!(
            fields(doc),
            [
                "features[0].properties.status",
                "features[1].properties.splitters[0].used",
                "features[2].properties.splitters[0].used_ports",
                "features[3].properties.id",
                "features[4].geometry",
                "features[5].properties.kind",
            ]
        );
    }

    #[test]
    fn a_box_outside_the_globe_is_refused() {
        let doc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [200, 0]},
             "properties": {"kind": "box", "id": "A", "status": "deployed"}}]});
        assert_eq!(fields(doc), ["features[0].geometry.coordinates"]);
    }

    #[test]
    fn an_open_ring_is_refused() {
        let g = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]});
        assert!(parse_area(&g).is_err());
    }

    #[test]
    fn a_region_feature_is_refused_at_its_ring() {
        let doc = json!({"type": "FeatureCollection", "features": [
            box_feature(json!({"kind": "box", "id": "A", "status": "deployed"})),
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]},
             "properties": {"kind": "region", "id": "r", "tags": ["t"]}}]});
        assert_eq!(fields(doc), ["features[1].geometry.coordinates[0]"]);
    }

    #[test]
    fn a_repeated_id_is_named_at_each_later_copy_even_after_a_bad_first_copy() {
        let splitter = |id: &str| json!({"id": id, "kind": "attendance", "ports": 8});
        let doc = json!({"type": "FeatureCollection", "features": [
            box_feature(json!({"kind": "box", "id": "A", "status": "built", "splitters": [splitter("S")]})),
            box_feature(json!({"kind": "box", "id": "A", "status": "deployed", "splitters": [splitter("S")]})),
            box_feature(json!({"kind": "box", "id": "B", "status": "deployed",
                "splitters": [splitter("T"), splitter("T")]})),
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
             "properties": {"kind": "region", "id": "A", "tags": ["t"]}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
             "properties": {"kind": "region", "id": "A", "tags": ["t"]}},
        ]});
        assert_eq!(
            fields(doc),
            [
                "features[0].properties.status",
                "features[1].properties.id",
                "features[1].properties.splitters[0].id",
                "features[2].properties.splitters[1].id",
                "features[4].properties.id",
            ]
        );
    }

    #[test]
    fn valid_features_that_share_an_id_are_refused_when_read_as_text() {
        let doc = json!({"type": "FeatureCollection", "features": [
            box_feature(json!({"kind": "box", "id": "A", "status": "deployed"})),
            box_feature(json!({"kind": "box", "id": "A", "status": "deployed"})),
        ]});
        assert_eq!(fields(doc), ["features[1].properties.id"]);
    }

    #[test]
    fn a_document_that_is_not_a_collection_is_named_as_a_whole() {
        for doc in [
            json!([]),
            json!(null),
            json!("x"),
            json!({"type": "FeatureCollection"}),
            json!({"type": "Feature", "features": {}}),
        ] {
            let expected: &[&str] =
                if doc.get("type").and_then(Value::as_str) == Some("FeatureCollection") {
                    &["features"]
                } else {
                    &["type", "features"]
                };
            assert_eq!(fields(doc.clone()), expected, "{doc}");
        }
    }
}
