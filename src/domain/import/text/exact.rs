//! The exact pass: each feature parsed into a `Value` of its own and checked by the rules
//! ([`Collector`]), so problems are named as when a parsed document is checked.

use super::super::crs::{UnsupportedCrs, check_crs};
use super::super::{Collector, ImportBatch};
use crate::domain::validation::Invalid;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// What the rules make of a file.
#[derive(Debug)]
pub(super) struct Exact {
    pub batch: ImportBatch,
    pub invalid: Invalid,
    /// A `crs` the import does not take: the file is refused for it alone.
    pub crs: Option<UnsupportedCrs>,
}

/// The batch and the problems, by the rules, feature by feature.
pub(super) fn read_exact(text: &[u8]) -> Result<Exact, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let read = serde::Deserializer::deserialize_any(&mut de, DocumentVisitor)?;
    de.end()?;
    Ok(read)
}

/// The top level of a document: `type`, `crs` and `features` read, anything else skipped.
struct DocumentVisitor;

/// Neither a `type` nor `features`: the document is not an object.
fn not_an_object() -> Exact {
    let mut invalid = Invalid::default();
    invalid.add("type", "must be \"FeatureCollection\"");
    invalid.add("features", "must be an array of features");
    Exact {
        batch: ImportBatch::default(),
        invalid,
        crs: None,
    }
}

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Exact;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a GeoJSON FeatureCollection")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // As in a parsed document, a repeated member counts once: its last value.
        let mut is_collection = false;
        let mut features: Option<Option<Collector>> = None;
        let mut crs = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "crs" => crs = check_crs(&map.next_value::<Value>()?).err(),
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
        Ok(Exact {
            batch,
            invalid,
            crs,
        })
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
