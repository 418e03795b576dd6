//! The typed pass: each feature deserialised into a small borrowed struct of the shape a
//! valid box or region has, and turned into its box or region at once, with the same
//! dialect rules ([`dialect`]) as the exact pass. Any doubt ends the pass (`None`).

use super::super::crs::check_crs;
use super::super::dialect::{
    self, FeatureKind, box_status, feature_kind, id_text, splitter_kind, splitter_ports,
};
use super::super::{FeatureCheck, ImportBatch};
use crate::domain::Coord;
use crate::domain::network::{NetBox, Ports, Region, Splitter, SplitterKind, check_text};
use crate::domain::region_geometry::position;
use crate::domain::validation::Invalid;
use serde::Deserialize;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The batch, when the typed pass finds the file valid.
pub(super) fn read_typed(text: &[u8]) -> Option<ImportBatch> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let doc = TypedDocument::deserialize(&mut de).ok()?;
    de.end().ok()?;
    check_crs(doc.crs.as_ref().unwrap_or(&Value::Null)).ok()?;
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
    #[serde(default)]
    crs: Option<Value>,
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
    /// The Feature's own id, the box's or region's when `properties.id` is absent.
    #[serde(default)]
    id: Option<Value>,
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

/// The members the rules read, and the names of all members (for the warnings). A member
/// given twice ends the pass (a parsed document keeps its last value).
#[derive(Default)]
struct TypedProperties<'a> {
    kind: Option<Text<'a>>,
    id: Option<Value>,
    name: Option<Text<'a>>,
    status: Option<Text<'a>>,
    splitters: Option<Vec<TypedSplitter<'a>>>,
    tags: Option<Value>,
    ports: Option<Value>,
    used: Option<Value>,
    used_ports: Option<Value>,
    names: Vec<Text<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for TypedProperties<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = TypedProperties<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the properties of a box or region")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut p = TypedProperties::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    if p.names.iter().any(|n| n.0 == key.0) {
                        return Err(serde::de::Error::custom("a member given twice"));
                    }
                    match key.0.as_ref() {
                        "kind" => p.kind = map.next_value()?,
                        "id" => p.id = map.next_value()?,
                        "name" => p.name = map.next_value()?,
                        "status" => p.status = map.next_value()?,
                        "splitters" => p.splitters = map.next_value()?,
                        "tags" => p.tags = map.next_value()?,
                        "ports" => p.ports = Some(map.next_value()?),
                        "used" => p.used = Some(map.next_value()?),
                        "used_ports" => p.used_ports = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    p.names.push(key);
                }
                Ok(p)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A splitter with no member beyond those the rules read: anything else (to be counted in
/// the warnings) is left to the exact pass.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
    fn add_to(mut self, i: usize, batch: &mut ImportBatch) -> bool {
        if self.kind.0 != "Feature" {
            return false;
        }
        let kind = self.properties.kind.as_ref().map(|k| k.0.as_ref());
        let Some(kind) = feature_kind(kind, Some(&self.geometry.kind.0)) else {
            return false;
        };
        for name in self.properties.names.drain(..) {
            if dialect::ignored(kind, &name.0) {
                *batch.ignored.entry(name.0.into_owned()).or_default() += 1;
            }
        }
        match kind {
            FeatureKind::Box => match self.into_box() {
                Some(b) => batch.boxes.push((i, b)),
                None => return false,
            },
            FeatureKind::Region => match self.into_region(i) {
                Some(r) => batch.regions.push((i, r)),
                None => return false,
            },
        }
        true
    }

    /// `properties.id`, else the Feature's own, as the rules take it.
    fn id(properties_id: Option<Value>, feature_id: Option<Value>) -> Option<String> {
        let id = id_text(&properties_id.or(feature_id)?)?;
        check_text(&id).ok()?;
        Some(id)
    }

    fn into_box(self) -> Option<NetBox> {
        let p = self.properties;
        if self.geometry.kind.0 != "Point" {
            return None;
        }
        let (lon, lat) = position(&self.geometry.coordinates)?;
        let location = Coord::parse(lat, lon).ok()?;
        let id = Self::id(p.id, self.id)?;
        let name = match p.name {
            Some(name) => checked(name)?,
            None => id.clone(),
        };
        let status = box_status(&p.status?.0)?;
        let splitters = match (p.splitters, p.ports) {
            (Some(_), Some(_)) => return None,
            (Some(list), None) => list
                .into_iter()
                .map(TypedSplitter::into_splitter)
                .collect::<Option<Vec<_>>>()?,
            (None, Some(total)) => vec![Splitter {
                id: dialect::single_splitter_id(&id),
                kind: SplitterKind::Attendance,
                ports: box_ports(&total, p.used.as_ref(), p.used_ports.as_ref())?,
            }],
            (None, None) => Vec::new(),
        };
        Some(NetBox {
            id,
            name,
            status,
            location,
            splitters,
        })
    }

    /// Regions are few: the rules' own checks, on the members they read.
    fn into_region(self, i: usize) -> Option<Region> {
        let p = self.properties;
        let mut props = Map::new();
        props.insert("id".into(), Value::String(Self::id(p.id, self.id)?));
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
            .region(&Value::Object(geometry), &Map::new(), &props)
            .filter(|_| invalid.is_empty())
    }
}

/// The ports a box gives in its own properties, as the rules read them.
fn box_ports(total: &Value, used: Option<&Value>, used_ports: Option<&Value>) -> Option<Ports> {
    let used = used.map(dialect::count).transpose().ok()?;
    let used_ports = used_ports
        .map(|v| {
            v.as_array()?
                .iter()
                .map(|n| dialect::count(n).ok())
                .collect::<Option<Vec<u32>>>()
        })
        .map(|list| list.ok_or(()))
        .transpose()
        .ok()?;
    splitter_ports(dialect::count(total).ok()?, used, used_ports.as_deref()).ok()
}

impl TypedSplitter<'_> {
    fn into_splitter(self) -> Option<Splitter> {
        let total = u32::try_from(self.ports).ok()?;
        let used = self.used.map(u32::try_from).transpose().ok()?;
        let used_ports = self
            .used_ports
            .map(|list| {
                list.into_iter()
                    .map(u32::try_from)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()
            .ok()?;
        Some(Splitter {
            ports: splitter_ports(total, used, used_ports.as_deref()).ok()?,
            id: checked(self.id)?,
            kind: splitter_kind(&self.kind.0)?,
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
