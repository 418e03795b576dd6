//! Reading a FeatureCollection from its JSON text without building the whole document:
//! a parsed document (`serde_json::Value`) takes about ten times the text's size, and a
//! large import's text is hundreds of megabytes.
//!
//! A file is read in at most two passes over the text, neither of which holds more than one
//! feature besides the batch:
//!
//! 1. **Typed** ([`typed`]). Each feature is deserialised into a small borrowed struct of
//!    the shape a valid box or region has, and turned into its box or region at once.
//!    Anything else (a wrong type, a repeated member, a splitter member the rules do not
//!    read, a value the rules refuse) ends the pass; so do duplicate ids, checked on the
//!    batch at the end. It only ever accepts what the rules accept, and builds the same
//!    batch (with the same ignored properties) from it.
//! 2. **Exact** ([`exact`]). Otherwise each feature is parsed into a `Value` of its own and
//!    checked by the rules themselves ([`super::Collector`], as [`super::parse_collection`]
//!    does): the batch of an unusual but valid file, or every problem of a bad one, named by
//!    feature and field as when a parsed document is checked.

use super::dialect::strip_bom;
use super::{ImportBatch, ReadError};

mod exact;
mod typed;

/// Reads a FeatureCollection from JSON text (after a byte-order mark, if any): the same
/// batch, or the same problems, as [`super::parse_collection`] gives for the parsed
/// document.
pub fn read_collection(text: &[u8]) -> Result<ImportBatch, ReadError> {
    let text = strip_bom(text);
    if let Some(batch) = typed::read_typed(text) {
        return Ok(batch);
    }
    let read = exact::read_exact(text)?;
    if let Some(crs) = read.crs {
        return Err(crs.into());
    }
    Ok(read.invalid.or_ok(read.batch)?)
}

#[cfg(test)]
mod tests {
    use super::exact::read_exact;
    use super::typed::read_typed;
    use super::*;
    use crate::domain::import::parse_collection;
    use crate::domain::validation::Invalid;
    use serde_json::{Value, json};

    /// The rules' verdict, as a comparable value.
    fn parsed(doc: &Value) -> Result<ImportBatch, Invalid> {
        match parse_collection(doc) {
            Ok(batch) => Ok(batch),
            Err(ReadError::Invalid(invalid)) => Err(invalid),
            Err(e) => panic!("{doc}: {e}"),
        }
    }

    fn point(props: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.633, -23.5507]}, "properties": props})
    }

    /// What the rules make of `doc`, checking that the exact pass says the same and that
    /// the typed pass, when it reads `doc` at all, builds the same batch.
    #[track_caller]
    fn same_as_parsed(doc: &Value) -> Result<ImportBatch, Invalid> {
        let text = doc.to_string();
        let parsed = parsed(doc);
        let exact = read_exact(text.as_bytes()).unwrap();
        assert_eq!(exact.invalid.or_ok(exact.batch), parsed, "{doc}");
        if let Some(batch) = read_typed(text.as_bytes()) {
            assert_eq!(Ok(batch), parsed, "typed pass on {doc}");
        }
        parsed
    }

    #[test]
    fn the_typed_pass_builds_what_the_rules_build() {
        let region = json!({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[[-47, -24], [-46, -24], [-46, -23], [-47, -23], [-47, -24]]]},
            "properties": {"kind": "region", "id": "centro", "name": "Centro", "tags": ["centro", "b"]}});
        let doc = json!({"type": "FeatureCollection", "bbox": [0, 0, 1, 1], "features": [
            point(json!({"kind": "box", "id": "CTO-1", "status": "deployed", "name": "Caixa \u{e7}\"1\"",
                "splitters": [{"id": "S1", "kind": "attendance", "ports": 8, "used": 3},
                              {"id": "S2", "kind": "connection", "ports": 4, "used_ports": [4, 1]},
                              {"id": "S3", "kind": "attendance", "ports": 2}]})),
            point(json!({"kind": "box", "id": "CTO-2", "status": "in_project", "name": null, "splitters": null,
                         "free_ports": 3, "project": "x"})),
            region,
        ]});
        let text = doc.to_string();
        let typed = read_typed(text.as_bytes()).expect("the typed pass reads it");
        assert_eq!(Ok(typed), parsed(&doc));
        same_as_parsed(&doc).unwrap();
    }

    #[test]
    fn both_passes_read_the_dialects_alike() {
        let doc = json!({"type": "FeatureCollection", "bbox": [0, 0, 1, 1],
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
            "features": [
            {"type": "Feature", "id": 1001, "bbox": [0, 0, 0, 0],
             "geometry": {"type": "Point", "coordinates": [-46.633, -23.5507, 800.0]},
             "properties": {"status": "Deployed", "ports": 8.0, "used": 3.0, "note": "x",
                            "free_ports": 5, "lat": -23.5507}},
            point(json!({"kind": "Box", "id": "B", "status": "IN_PROJECT", "tags": ["t"],
                "splitters": [{"id": "B-S1", "kind": "Connection", "ports": 4, "used": 1, "used_ports": [2]}]})),
            {"type": "Feature", "id": "r", "geometry": {"type": "Polygon", "coordinates": [[[-47, -24], [-46, -24], [-46, -23], [-47, -23], [-47, -24]]]},
             "properties": {"tags": ["t"], "status": "deployed"}},
        ]});
        let typed = read_typed(doc.to_string().as_bytes()).expect("the typed pass reads it");
        assert_eq!(Ok(typed.clone()), same_as_parsed(&doc));
        assert_eq!(typed.boxes[0].1.id, "1001");
        assert_eq!(typed.boxes[0].1.splitters[0].id, "1001-S1");
        assert_eq!(typed.boxes[0].1.splitters[0].ports.used(), &[1, 2, 3]);
        assert_eq!(typed.regions[0].1.id, "r");
        let ignored: Vec<(&str, usize)> = typed
            .ignored
            .iter()
            .map(|(k, &n)| (k.as_str(), n))
            .collect();
        assert_eq!(ignored, [("note", 1), ("status", 1), ("tags", 1)]);
        // A byte-order mark first is skipped; a splitter member the rules do not read is
        // counted by the exact pass.
        let mut text = b"\xEF\xBB\xBF".to_vec();
        text.extend(doc.to_string().into_bytes());
        assert_eq!(read_collection(&text).unwrap(), typed);
        let mut extra = doc.clone();
        extra["features"][1]["properties"]["splitters"][0]["colour"] = json!("blue");
        let read = read_collection(extra.to_string().as_bytes()).unwrap();
        assert_eq!(read.ignored.get("splitters[].colour"), Some(&1));
    }

    #[test]
    fn a_projected_crs_is_refused_by_both_passes() {
        let doc = json!({"type": "FeatureCollection",
            "features": [point(json!({"kind": "box", "id": "A", "status": "deployed"}))],
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::31983"}}});
        assert!(read_typed(doc.to_string().as_bytes()).is_none());
        assert!(matches!(
            read_collection(doc.to_string().as_bytes()),
            Err(ReadError::UnsupportedCrs(_))
        ));
        assert!(matches!(
            parse_collection(&doc),
            Err(ReadError::UnsupportedCrs(_))
        ));
    }

    #[test]
    fn anything_the_typed_pass_cannot_read_goes_by_the_rules() {
        let b = |props: Value| json!({"type": "FeatureCollection", "features": [point(props)]});
        let splitter = |extra: Value| {
            let mut s = json!({"id": "S", "kind": "attendance", "ports": 8});
            s.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            b(json!({"kind": "box", "id": "A", "status": "deployed", "splitters": [s]}))
        };
        let cases = [
            splitter(json!({"used": null})),
            splitter(json!({"used_ports": null})),
            splitter(json!({"used": 2, "used_ports": [1, 2]})),
            splitter(json!({"used": 8.0})),
            splitter(json!({"used": 9})),
            splitter(json!({"used_ports": [0]})),
            splitter(json!({"ports": 0})),
            splitter(json!({"ports": 5_000_000_000_u64})),
            splitter(json!({"kind": "pole"})),
            splitter(json!({"id": 7})),
            b(json!({"kind": "box", "id": "A", "status": "Deployed"})),
            b(json!({"kind": "box", "id": "A", "status": null})),
            b(json!({"kind": "box", "id": "", "status": "deployed"})),
            b(json!({"kind": "box", "id": "A", "name": 3, "status": "deployed"})),
            b(json!({"kind": "box", "status": "deployed"})),
            b(json!({"kind": "region", "id": "A", "tags": []})),
            b(json!({"id": "A", "status": "deployed"})),
            json!({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, "properties": {}}]}),
            json!({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2, "up"]},
                   "properties": {"kind": "box", "id": "A", "status": "deployed"}}]}),
            json!({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2, 3, 4]},
                   "properties": {"kind": "box", "id": "A", "status": "deployed"}}]}),
            json!({"type": "Collection", "features": []}),
            json!({"type": "FeatureCollection", "features": "none"}),
            json!([]),
        ];
        for doc in cases {
            same_as_parsed(&doc).ok();
            let text = doc.to_string();
            match (read_collection(text.as_bytes()), parsed(&doc)) {
                (Ok(read), Ok(parsed)) => assert_eq!(read, parsed, "{doc}"),
                (Err(ReadError::Invalid(read)), Err(parsed)) => assert_eq!(read, parsed, "{doc}"),
                (read, parsed) => panic!("{doc}: read {read:?}, parsed {parsed:?}"),
            }
        }
    }

    #[test]
    fn a_member_given_twice_is_read_by_the_rules() {
        let text = r#"{"type": "FeatureCollection", "features": [{"type": "Feature",
            "geometry": {"type": "Point", "coordinates": [0, 0]},
            "properties": {"kind": "box", "id": "A", "id": "B", "status": "deployed"}}]}"#;
        assert!(read_typed(text.as_bytes()).is_none());
        let whole = parse_collection(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(read_collection(text.as_bytes()).unwrap(), whole);
        assert_eq!(whole.boxes[0].1.id, "B");
    }

    #[test]
    fn text_that_is_not_json_is_malformed_even_after_a_bad_feature() {
        for text in [
            r#"{"type": "FeatureCollection", "features": ["#,
            r#"{"type": "FeatureCollection", "features": [{"type": "Feature"}, {"#,
            r#"{"type": "FeatureCollection", "features": []} x"#,
            "",
        ] {
            assert!(
                matches!(
                    read_collection(text.as_bytes()),
                    Err(ReadError::Malformed(_))
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn a_repeated_member_counts_with_its_last_value_as_when_parsed_whole() {
        let text = r#"{"type": "Feature", "features": [1], "type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
                          "properties": {"kind": "box", "id": "A", "status": "deployed"}}]}"#;
        let whole = parse_collection(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(read_collection(text.as_bytes()).unwrap(), whole);
        assert_eq!(whole.boxes.len(), 1);
    }
}
