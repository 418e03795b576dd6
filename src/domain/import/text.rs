//! Reading a FeatureCollection from its JSON text without building the whole document:
//! a parsed document (`serde_json::Value`) takes about ten times the text's size, and a
//! large import's text is hundreds of megabytes.
//!
//! A file is read in at most two passes over the text, neither of which holds more than one
//! feature besides the batch:
//!
//! 1. **Typed.** Each feature is deserialised into a small borrowed struct of exactly the
//!    shape a valid box or region has, and turned into its box or region at once. Anything
//!    else (a wrong type, a missing or repeated member, a value the rules refuse) ends the
//!    pass; so do duplicate ids, checked on the batch at the end. It only ever accepts what
//!    the rules accept, and builds the same batch from it.
//! 2. **Exact.** Otherwise each feature is parsed into a `Value` of its own and checked by
//!    the rules themselves ([`super::Collector`], as [`super::parse_collection`] does): the
//!    batch of an unusual but valid file, or every problem of a bad one, named by feature
//!    and field as when a parsed document is checked.

use super::{Collector, FeatureCheck, ImportBatch};
use crate::domain::Coord;
use crate::domain::network::{BoxStatus, NetBox, Ports, Splitter, SplitterKind, check_text};
use crate::domain::region_geometry::position;
use crate::domain::validation::Invalid;
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Why a file cannot be imported.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON: a syntax error, or the body ends early.
    #[error("malformed JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// JSON, but not a valid FeatureCollection: every problem, named by field.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// Reads a FeatureCollection from JSON text: the same batch, or the same problems, as
/// [`super::parse_collection`] gives for the parsed document.
pub fn read_collection(text: &[u8]) -> Result<ImportBatch, ReadError> {
    if let Some(batch) = read_typed(text) {
        return Ok(batch);
    }
    let (batch, invalid) = read_exact(text)?;
    Ok(invalid.or_ok(batch)?)
}

// --- The typed pass -----------------------------------------------------------------

/// The batch, when the typed pass finds the file valid.
fn read_typed(text: &[u8]) -> Option<ImportBatch> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let doc = TypedDocument::deserialize(&mut de).ok()?;
    de.end().ok()?;
    let batch = doc.features.0;
    (doc.kind.0 == "FeatureCollection" && !has_duplicates(&batch)).then_some(batch)
}

/// A string, borrowed from the text unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A member that, when present, must hold a `T` (`null` included: the rules refuse a null
/// `used` or `used_ports`, where a plain `Option` would take it for an absent one).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct TypedDocument<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    features: TypedFeatures,
}

/// The features, each turned into its box or region as it is read.
struct TypedFeatures(ImportBatch);

impl<'de> Deserialize<'de> for TypedFeatures {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypedFeatures;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of valid features")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TypedFeatures, A::Error> {
                let mut batch = ImportBatch::default();
                let mut i = 0;
                while let Some(feature) = seq.next_element::<TypedFeature>()? {
                    if !feature.add_to(i, &mut batch) {
                        return Err(serde::de::Error::custom("not a valid feature"));
                    }
                    i += 1;
                }
                Ok(TypedFeatures(batch))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Deserialize)]
struct TypedFeature<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    geometry: TypedGeometry<'a>,
    #[serde(borrow)]
    properties: TypedProperties<'a>,
}

#[derive(Deserialize)]
struct TypedGeometry<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    /// As the rules read it (a point's, or a region's rings).
    coordinates: Value,
}

#[derive(Deserialize)]
struct TypedProperties<'a> {
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    id: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow)]
    splitters: Option<Vec<TypedSplitter<'a>>>,
    tags: Option<Value>,
}

#[derive(Deserialize)]
struct TypedSplitter<'a> {
    #[serde(borrow)]
    id: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    ports: u64,
    #[serde(default, deserialize_with = "present")]
    used: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    used_ports: Option<Vec<u64>>,
}

/// A text the rules take as an id, name or tag.
fn checked(text: Text<'_>) -> Option<String> {
    check_text(&text.0).ok()?;
    Some(text.0.into_owned())
}

impl TypedFeature<'_> {
    /// Adds the feature's box or region; false when the rules would refuse it (or this
    /// pass cannot tell).
    fn add_to(self, i: usize, batch: &mut ImportBatch) -> bool {
        if self.kind.0 != "Feature" {
            return false;
        }
        match self.properties.kind.as_ref().map(|k| k.0.as_ref()) {
            Some("box") => match self.into_box() {
                Some(b) => batch.boxes.push((i, b)),
                None => return false,
            },
            Some("region") => match self.into_region(i) {
                Some(r) => batch.regions.push((i, r)),
                None => return false,
            },
            _ => return false,
        }
        true
    }

    fn into_box(self) -> Option<NetBox> {
        let p = self.properties;
        if self.geometry.kind.0 != "Point" {
            return None;
        }
        let (lon, lat) = position(&self.geometry.coordinates)?;
        let location = Coord::parse(lat, lon).ok()?;
        let id = checked(p.id?)?;
        let name = match p.name {
            Some(name) => checked(name)?,
            None => id.clone(),
        };
        let status = BoxStatus::parse(&p.status?.0)?;
        let splitters = p
            .splitters
            .unwrap_or_default()
            .into_iter()
            .map(TypedSplitter::into_splitter)
            .collect::<Option<Vec<_>>>()?;
        Some(NetBox {
            id,
            name,
            status,
            location,
            splitters,
        })
    }

    /// Regions are few: the rules' own checks, on the members they read.
    fn into_region(self, i: usize) -> Option<crate::domain::network::Region> {
        let p = self.properties;
        let mut props = Map::new();
        props.insert("id".into(), Value::String(p.id?.0.into_owned()));
        if let Some(name) = p.name {
            props.insert("name".into(), Value::String(name.0.into_owned()));
        }
        props.insert("tags".into(), p.tags?);
        let mut geometry = Map::new();
        geometry.insert(
            "type".into(),
            Value::String(self.geometry.kind.0.into_owned()),
        );
        geometry.insert("coordinates".into(), self.geometry.coordinates);
        let mut invalid = Invalid::default();
        let mut check = FeatureCheck {
            index: i,
            invalid: &mut invalid,
        };
        check
            .region(&Value::Object(geometry), &props)
            .filter(|_| invalid.is_empty())
    }
}

impl TypedSplitter<'_> {
    fn into_splitter(self) -> Option<Splitter> {
        let total = u32::try_from(self.ports).ok().filter(|&n| n > 0)?;
        let ports = match (self.used, self.used_ports) {
            (Some(_), Some(_)) => return None,
            (used, None) => Ports::with_used_count(total, u32::try_from(used.unwrap_or(0)).ok()?),
            (None, Some(list)) => {
                let numbers = list
                    .into_iter()
                    .map(|n| u32::try_from(n).ok())
                    .collect::<Option<Vec<u32>>>()?;
                Ports::with_used_ports(total, &numbers)
            }
        }
        .ok()?;
        Some(Splitter {
            id: checked(self.id)?,
            kind: SplitterKind::parse(&self.kind.0)?,
            ports,
        })
    }
}

/// Whether two boxes, two splitters or two regions of the batch share an id. (Sorted
/// lists of borrowed ids: half the memory of sets, and files usually come in id order.)
fn has_duplicates(batch: &ImportBatch) -> bool {
    fn repeats(mut ids: Vec<&str>) -> bool {
        ids.sort_unstable();
        ids.windows(2).any(|w| w[0] == w[1])
    }
    let boxes = || batch.boxes.iter().map(|(_, b)| b);
    repeats(boxes().map(|b| b.id.as_str()).collect())
        || repeats(
            boxes()
                .flat_map(|b| b.splitters.iter().map(|s| s.id.as_str()))
                .collect(),
        )
        || repeats(batch.regions.iter().map(|(_, r)| r.id.as_str()).collect())
}

// --- The exact pass -----------------------------------------------------------------

/// The batch and the problems, by the rules, feature by feature.
fn read_exact(text: &[u8]) -> Result<(ImportBatch, Invalid), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let read = serde::Deserializer::deserialize_any(&mut de, DocumentVisitor)?;
    de.end()?;
    Ok(read)
}

/// The top level of a document: `type` and `features` read, anything else skipped.
struct DocumentVisitor;

/// Neither a `type` nor `features`: the document is not an object.
fn not_an_object() -> (ImportBatch, Invalid) {
    let mut invalid = Invalid::default();
    invalid.add("type", "must be \"FeatureCollection\"");
    invalid.add("features", "must be an array of features");
    (ImportBatch::default(), invalid)
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = (ImportBatch, Invalid);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a GeoJSON FeatureCollection")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // As in a parsed document, a repeated member counts once: its last value.
        let mut is_collection = false;
        let mut features: Option<Option<Collector>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => {
                    is_collection =
                        map.next_value::<Value>()?.as_str() == Some("FeatureCollection");
                }
                "features" => {
                    // The previous value's batch goes before the next is read.
                    drop(features.take());
                    features = Some(map.next_value_seed(FeaturesSeed)?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut invalid = Invalid::default();
        if !is_collection {
            invalid.add("type", "must be \"FeatureCollection\"");
        }
        let batch = match features.flatten() {
            Some(mut c) => {
                invalid.0.append(&mut c.invalid.0);
                c.batch
            }
            None => {
                invalid.add("features", "must be an array of features");
                ImportBatch::default()
            }
        };
        Ok((batch, invalid))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_an_object())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
}

/// The `features` member: the features checked one by one when it is an array, `None`
/// when it is anything else.
struct FeaturesSeed;

impl<'de> DeserializeSeed<'de> for FeaturesSeed {
    type Value = Option<Collector>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FeaturesSeed {
    type Value = Option<Collector>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut c = Collector::default();
        let mut i = 0;
        while let Some(feature) = seq.next_element::<Value>()? {
            c.feature(i, &feature);
            i += 1;
        }
        Ok(Some(c))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import::parse_collection;
    use serde_json::json;

    fn point(props: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.633, -23.5507]}, "properties": props})
    }

    /// What the rules make of `doc`, checking that the exact pass says the same and that
    /// the typed pass, when it reads `doc` at all, builds the same batch.
    #[track_caller]
    fn same_as_parsed(doc: &Value) -> Result<ImportBatch, Invalid> {
        let text = doc.to_string();
        let parsed = parse_collection(doc);
        let exact = read_exact(text.as_bytes()).unwrap();
        assert_eq!(exact.1.clone().or_ok(exact.0.clone()), parsed, "{doc}");
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
        assert_eq!(Ok(typed), parse_collection(&doc));
        same_as_parsed(&doc).unwrap();
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
            match (read_collection(text.as_bytes()), parse_collection(&doc)) {
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
        let parsed = parse_collection(&serde_json::from_str(text).unwrap()).unwrap();
        assert_eq!(read_collection(text.as_bytes()).unwrap(), parsed);
        assert_eq!(parsed.boxes[0].1.id, "B");
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
