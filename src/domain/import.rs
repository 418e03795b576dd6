//! Reading an inventory file (a GeoJSON FeatureCollection, or CSV) into boxes and regions.
//!
//! Every feature (or row) is checked and every problem reported
//! (`features[3].properties.status`, `rows[2].ports`), so a rejected file can be fixed in
//! one pass. The dialects GIS tools write are taken as they are ([`dialect`]).

use super::network::{NetBox, Region};
use super::validation::Invalid;
use serde_json::Value;
use std::collections::BTreeMap;

mod crs;
mod csv;
mod dialect;
mod feature;
mod text;
mod warnings;
pub use crs::UnsupportedCrs;
pub use csv::read_csv;
use feature::{Collector, FeatureCheck};
pub use text::read_collection;
pub use warnings::Warning;

/// What a file asks to store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportBatch {
    /// Each box with the index of its feature (or its first row) in the file.
    pub boxes: Vec<(usize, NetBox)>,
    /// Each region with the index of its feature in the file.
    pub regions: Vec<(usize, Region)>,
    /// Properties the import does not use, by name, with how many features gave each.
    pub ignored: BTreeMap<String, usize>,
    /// Where the boxes' fields are in the file.
    pub layout: Layout,
}

/// Where a batch's boxes came from, to name their fields in problems found later (ids
/// that belong to another project).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Layout {
    /// GeoJSON: a box's index is its feature's.
    #[default]
    Features,
    /// CSV: a box's index is its first row; for each box, in batch order, its splitters'
    /// rows.
    Rows(Vec<Vec<usize>>),
}

impl ImportBatch {
    /// The field of the id of the `k`-th box of the batch.
    pub fn box_id_field(&self, k: usize) -> String {
        let i = self.boxes[k].0;
        match self.layout {
            Layout::Features => format!("features[{i}].properties.id"),
            Layout::Rows(_) => format!("rows[{i}].box_id"),
        }
    }

    /// The field of the id of splitter `j` of the `k`-th box of the batch.
    pub fn splitter_id_field(&self, k: usize, j: usize) -> String {
        match &self.layout {
            Layout::Features => {
                format!("features[{}].properties.splitters[{j}].id", self.boxes[k].0)
            }
            Layout::Rows(rows) => format!("rows[{}].splitter_id", rows[k][j]),
        }
    }
}

/// Why a file cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON: a syntax error, or the body ends early.
    #[error("malformed JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Coordinates in another reference system than WGS84 longitude/latitude.
    #[error(transparent)]
    UnsupportedCrs(#[from] UnsupportedCrs),
    /// Not a valid FeatureCollection (or CSV): every problem, named by field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
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

/// The formats an import file comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Csv,
}

/// Reads an import file of either format into its batch.
pub fn read(text: &[u8], format: Format) -> Result<ImportBatch, ReadError> {
    match format {
        Format::GeoJson => read_collection(text),
        Format::Csv => read_csv(text),
    }
}

/// Parses a whole FeatureCollection; any bad feature refuses the whole file.
pub fn parse_collection(doc: &Value) -> Result<ImportBatch, ReadError> {
    crs::check_crs(doc.get("crs").unwrap_or(&Value::Null))?;
    let mut invalid = Invalid::default();
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        invalid.add("type", "must be \"FeatureCollection\"");
    }
    let Some(features) = doc.get("features").and_then(Value::as_array) else {
        invalid.add("features", "must be an array of features");
        return Err(invalid.into());
    };
    let mut c = Collector::default();
    for (i, feature) in features.iter().enumerate() {
        c.feature(i, feature);
    }
    invalid.0.append(&mut c.invalid.0);
    Ok(invalid.or_ok(c.batch)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Coord;
    use crate::domain::region_geometry::{area_to_geojson, parse_area};
    use serde_json::json;

    fn box_feature(props: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.633, -23.5507]}, "properties": props})
    }

    /// The fields refused, the same whether the file is parsed whole or read as text.
    fn fields(doc: Value) -> Vec<String> {
        let Err(ReadError::Invalid(whole)) = parse_collection(&doc) else {
            panic!("{doc} is refused field by field");
        };
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
