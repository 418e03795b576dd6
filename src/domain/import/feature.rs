//! The rules of one GeoJSON feature, checked on its parsed value: every problem is named
//! below `features[i]`, so a rejected file can be fixed in one pass.

use super::ImportBatch;
use super::dialect::{
    self, CountError, FeatureKind, PortsField, box_status, feature_kind, id_text, splitter_kind,
    splitter_ports,
};
use crate::domain::Coord;
use crate::domain::network::{NetBox, Region, Splitter, SplitterKind, check_text};
use crate::domain::region_geometry::{parse_region_geometry, position};
use crate::domain::validation::Invalid;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

/// Ids already used in the file, by kind.
#[derive(Default)]
struct SeenIds {
    boxes: HashSet<String>,
    splitters: HashSet<String>,
    regions: HashSet<String>,
}

/// Features checked one at a time, in file order, into a batch and a list of problems.
#[derive(Default)]
pub(super) struct Collector {
    pub batch: ImportBatch,
    pub invalid: Invalid,
    seen: SeenIds,
}

/// The feature's id as given (`properties.id`, else the Feature's own `id`), before it is
/// checked: duplicates are found on it, so a bad first copy still counts.
fn raw_id(obj: &Map<String, Value>, props: &Map<String, Value>) -> Option<String> {
    match props.get("id") {
        None | Some(Value::Null) => obj.get("id").and_then(id_text),
        Some(v) => id_text(v),
    }
}

/// Counts the properties (and splitter members) the import does not use.
pub(super) fn count_ignored(
    ignored: &mut BTreeMap<String, usize>,
    kind: FeatureKind,
    props: &Map<String, Value>,
) {
    for name in props.keys().filter(|k| dialect::ignored(kind, k)) {
        *ignored.entry(name.clone()).or_default() += 1;
    }
    if kind != FeatureKind::Box {
        return;
    }
    let splitters = props.get("splitters").and_then(Value::as_array);
    for s in splitters.into_iter().flatten().filter_map(Value::as_object) {
        for name in s.keys().filter(|k| dialect::splitter_member_ignored(k)) {
            *ignored.entry(dialect::splitter_property(name)).or_default() += 1;
        }
    }
}

impl Collector {
    /// Checks feature `i` and, when it is valid, adds its box or region to the batch.
    pub fn feature(&mut self, i: usize, feature: &Value) {
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
        let geometry_type = geometry.get("type").and_then(Value::as_str);
        let kind = match props.get("kind") {
            None | Some(Value::Null) => feature_kind(None, geometry_type),
            Some(Value::String(k)) => feature_kind(Some(k), geometry_type),
            Some(_) => None,
        };
        let Some(kind) = kind else {
            f.fail(
                "properties.kind",
                "must be \"box\" or \"region\" (without it, a Point is a box and a Polygon \
                 or MultiPolygon a region)",
            );
            return;
        };
        count_ignored(&mut self.batch.ignored, kind, props);
        let id = raw_id(obj, props);
        let seen = &mut self.seen;
        match kind {
            FeatureKind::Box => {
                if let Some(id) = &id
                    && !seen.boxes.insert(id.clone())
                {
                    f.fail("properties.id", "is used by another box of this file");
                }
                let given = props.get("splitters").and_then(Value::as_array);
                for (j, s) in given.into_iter().flatten().enumerate() {
                    if let Some(sid) = s.get("id").and_then(Value::as_str)
                        && !seen.splitters.insert(sid.to_owned())
                    {
                        let field = format!("properties.splitters[{j}].id");
                        f.fail(&field, "is used by another splitter of this file");
                    }
                }
                if given.is_none()
                    && props.contains_key("ports")
                    && let Some(id) = &id
                    && !seen.splitters.insert(dialect::single_splitter_id(id))
                {
                    let message = format!(
                        "makes the box's splitter {:?}, the id of another splitter of this file",
                        dialect::single_splitter_id(id)
                    );
                    f.fail("properties.ports", message);
                }
                if let Some(b) = f.net_box(geometry, obj, props) {
                    self.batch.boxes.push((i, b));
                }
            }
            FeatureKind::Region => {
                if let Some(id) = &id
                    && !seen.regions.insert(id.clone())
                {
                    f.fail("properties.id", "is used by another region of this file");
                }
                if let Some(r) = f.region(geometry, obj, props) {
                    self.batch.regions.push((i, r));
                }
            }
        }
    }
}

/// The checks of one feature, naming fields below `features[index]`.
pub(super) struct FeatureCheck<'a> {
    pub index: usize,
    pub invalid: &'a mut Invalid,
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

    /// `properties.id`, else the Feature's own `id`: a string or an integer.
    fn id(&mut self, obj: &Map<String, Value>, props: &Map<String, Value>) -> Option<String> {
        let (field, value) = match (props.get("id"), obj.get("id")) {
            (Some(v), _) if !v.is_null() => ("properties.id", v),
            (_, Some(v)) if !v.is_null() => ("id", v),
            _ => {
                self.fail("properties.id", "is required (or the Feature's own id)");
                return None;
            }
        };
        let Some(id) = id_text(value) else {
            self.fail(field, "must be a string or an integer");
            return None;
        };
        check_text(&id).map_err(|m| self.fail(field, m)).ok()?;
        Some(id)
    }

    pub fn net_box(
        &mut self,
        geometry: &Value,
        obj: &Map<String, Value>,
        props: &Map<String, Value>,
    ) -> Option<NetBox> {
        let before = self.invalid.0.len();
        let location = self.point(geometry);
        let id = self.id(obj, props);
        let name = self.text(props, "name", false);
        let status = match props.get("status").and_then(Value::as_str).map(box_status) {
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
            Some(Value::Array(_)) if props.contains_key("ports") => {
                self.fail(
                    "properties.ports",
                    "give the ports in splitters or in the box's own properties, not both",
                );
                Vec::new()
            }
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .filter_map(|(j, s)| self.splitter(j, s))
                .collect(),
            None | Some(Value::Null) if props.contains_key("ports") => {
                let sid = id.as_deref().map(dialect::single_splitter_id);
                self.ports("properties", props)
                    .zip(sid)
                    .map(|(ports, id)| Splitter {
                        id,
                        kind: SplitterKind::Attendance,
                        ports,
                    })
                    .into_iter()
                    .collect()
            }
            None | Some(Value::Null) => Vec::new(),
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
            .and_then(splitter_kind);
        if kind.is_none() {
            self.fail(
                &format!("{at}.kind"),
                "must be \"attendance\" or \"connection\"",
            );
        }
        let ports = self.ports(&at, s);
        if self.invalid.0.len() > before {
            return None;
        }
        Some(Splitter {
            id: id?,
            kind: kind?,
            ports: ports?,
        })
    }

    /// `ports` with `used` and/or `used_ports` of the object at `at`.
    fn ports(&mut self, at: &str, s: &Map<String, Value>) -> Option<crate::domain::network::Ports> {
        let field = |name: &str| format!("{at}.{name}");
        let before = self.invalid.0.len();
        let total = match s.get("ports") {
            None => {
                self.fail(&field("ports"), "is required");
                None
            }
            Some(v) => self.count(v, &field("ports")),
        };
        let used = s.get("used").and_then(|v| self.count(v, &field("used")));
        let used_ports = s.get("used_ports").and_then(|v| {
            let numbers: Result<Vec<u32>, CountError> = match v.as_array() {
                Some(list) => list.iter().map(dialect::count).collect(),
                None => Err(CountError::NotCount),
            };
            numbers
                .map_err(|_| self.fail(&field("used_ports"), "must be an array of port numbers"))
                .ok()
        });
        if self.invalid.0.len() > before {
            return None;
        }
        splitter_ports(total?, used, used_ports.as_deref())
            .map_err(|(which, message)| {
                let name = match which {
                    PortsField::Ports => "ports",
                    PortsField::Used => "used",
                    PortsField::UsedPorts => "used_ports",
                };
                self.fail(&field(name), message);
            })
            .ok()
    }

    fn count(&mut self, v: &Value, field: &str) -> Option<u32> {
        dialect::count(v).map_err(|e| self.fail(field, e)).ok()
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

    pub fn region(
        &mut self,
        geometry: &Value,
        obj: &Map<String, Value>,
        props: &Map<String, Value>,
    ) -> Option<Region> {
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
        let id = self.id(obj, props);
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
            tags: crate::domain::network::normalise_tags(tags),
            area: area?,
        })
    }
}
