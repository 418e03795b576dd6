//! The values an import reads, as GIS tools write them: one place for each rule, used by
//! the GeoJSON passes and the CSV reader alike (each names the field its own way).

use crate::domain::network::{BoxStatus, Ports, PortsError, SplitterKind};
use serde_json::Value;

/// A UTF-8 byte-order mark, which spreadsheet and GIS exports on Windows put first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The text without its byte-order mark.
pub fn strip_bom(text: &[u8]) -> &[u8] {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// What a feature is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    Box,
    Region,
}

/// The feature's `kind` in any letter case; without one, what its geometry makes it (a
/// Point is a box, a Polygon or MultiPolygon a region).
pub fn feature_kind(kind: Option<&str>, geometry_type: Option<&str>) -> Option<FeatureKind> {
    match kind {
        Some(k) if k.eq_ignore_ascii_case("box") => Some(FeatureKind::Box),
        Some(k) if k.eq_ignore_ascii_case("region") => Some(FeatureKind::Region),
        Some(_) => None,
        None => match geometry_type? {
            "Point" => Some(FeatureKind::Box),
            "Polygon" | "MultiPolygon" => Some(FeatureKind::Region),
            _ => None,
        },
    }
}

/// A box status in any letter case.
pub fn box_status(s: &str) -> Option<BoxStatus> {
    BoxStatus::parse(&s.to_ascii_lowercase())
}

/// A splitter kind in any letter case.
pub fn splitter_kind(s: &str) -> Option<SplitterKind> {
    SplitterKind::parse(&s.to_ascii_lowercase())
}

/// An id given as a string or an integer (integers as their decimal string).
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// The splitter of a box that gives `ports` in its own properties.
pub fn single_splitter_id(box_id: &str) -> String {
    format!("{box_id}-S1")
}

/// The properties a box is read from.
pub const BOX_PROPERTIES: [&str; 8] = [
    "kind",
    "id",
    "name",
    "status",
    "splitters",
    "ports",
    "used",
    "used_ports",
];
/// The properties a region is read from.
const REGION_PROPERTIES: [&str; 4] = ["kind", "id", "name", "tags"];
/// The members a splitter is read from.
const SPLITTER_MEMBERS: [&str; 5] = ["id", "kind", "ports", "used", "used_ports"];

/// Whether a property goes unused, and so gets a warning, in a feature of this kind.
pub fn ignored(kind: FeatureKind, name: &str) -> bool {
    let used = match kind {
        FeatureKind::Box => BOX_PROPERTIES.as_slice(),
        FeatureKind::Region => REGION_PROPERTIES.as_slice(),
    };
    !used.contains(&name) && !READ_BACK.contains(&name)
}

/// Whether a splitter member goes unused, and so gets a warning.
pub fn splitter_member_ignored(name: &str) -> bool {
    !SPLITTER_MEMBERS.contains(&name) && !SPLITTER_READ_BACK.contains(&name)
}

/// The read-only properties a box or region reads back (`GET /boxes`, the collections),
/// and the coordinate columns ogr2ogr keeps beside the geometry: ignored without a warning,
/// so that a layer read back re-imports unchanged.
const READ_BACK: [&str; 12] = [
    "project",
    "free_ports",
    "holds",
    "free",
    "held_ports",
    "installed_ports",
    "region_tags",
    "lat",
    "latitude",
    "lon",
    "lng",
    "longitude",
];

/// The read-only members of a splitter read back (`GET /boxes/{id}`).
const SPLITTER_READ_BACK: [&str; 4] = ["held_ports", "installed_ports", "holds", "free"];

/// How an ignored splitter member is named in the warnings.
pub fn splitter_property(name: &str) -> String {
    format!("splitters[].{name}")
}

/// Why a count is refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum CountError {
    #[error("must be a whole number (a count of ports), not {0}")]
    Fraction(f64),
    #[error("must be a non-negative whole number")]
    NotCount,
}

/// A count: a non-negative integer, also when written as an integral float (`8.0`), as
/// tools that type every number as Real do.
pub fn count(v: &Value) -> Result<u32, CountError> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(n) => u32::try_from(n).map_err(|_| CountError::NotCount),
            None => whole(n.as_f64().ok_or(CountError::NotCount)?),
        },
        _ => Err(CountError::NotCount),
    }
}

/// A count written as text (a CSV cell): `8`, or `8.0`.
pub fn count_text(s: &str) -> Result<u32, CountError> {
    match s.parse::<u32>() {
        Ok(n) => Ok(n),
        Err(_) => whole(s.parse::<f64>().map_err(|_| CountError::NotCount)?),
    }
}

fn whole(x: f64) -> Result<u32, CountError> {
    if !x.is_finite() || x < 0.0 || x > f64::from(u32::MAX) {
        Err(CountError::NotCount)
    } else if x.fract() != 0.0 {
        Err(CountError::Fraction(x))
    } else {
        Ok(x as u32)
    }
}

/// Which of a splitter's port fields a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortsField {
    Ports,
    Used,
    UsedPorts,
}

/// A splitter's ports from `ports` and `used` and/or `used_ports` (given both, `used` must
/// be the number of `used_ports`).
pub fn splitter_ports(
    total: u32,
    used: Option<u32>,
    used_ports: Option<&[u32]>,
) -> Result<Ports, (PortsField, String)> {
    let built = match (used, used_ports) {
        (Some(n), Some(list)) if list.len() != n as usize => {
            return Err((
                PortsField::Used,
                format!(
                    "must be the number of used_ports ({}), given both",
                    list.len()
                ),
            ));
        }
        (_, Some(list)) => {
            Ports::with_used_ports(total, list).map_err(|e| (PortsField::UsedPorts, e))
        }
        (used, None) => {
            Ports::with_used_count(total, used.unwrap_or(0)).map_err(|e| (PortsField::Used, e))
        }
    };
    built.map_err(|(field, e)| match e {
        PortsError::Total => (PortsField::Ports, e.to_string()),
        _ => (field, e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_are_counts_and_fractions_are_refused_by_value() {
        assert_eq!(count(&json!(8)), Ok(8));
        assert_eq!(count(&json!(8.0)), Ok(8));
        assert_eq!(count(&json!(8.5)), Err(CountError::Fraction(8.5)));
        assert_eq!(count(&json!(-1)), Err(CountError::NotCount));
        assert_eq!(count(&json!("8")), Err(CountError::NotCount));
        assert_eq!(count_text("8.0"), Ok(8));
        assert_eq!(count_text("x"), Err(CountError::NotCount));
        assert!(CountError::Fraction(8.5).to_string().contains("8.5"));
    }

    #[test]
    fn kinds_and_statuses_are_read_in_any_case_and_kind_follows_the_geometry() {
        assert_eq!(box_status("Deployed"), Some(BoxStatus::Deployed));
        assert_eq!(box_status("IN_PROJECT"), Some(BoxStatus::InProject));
        assert_eq!(splitter_kind("Attendance"), Some(SplitterKind::Attendance));
        assert_eq!(feature_kind(Some("BOX"), None), Some(FeatureKind::Box));
        assert_eq!(feature_kind(None, Some("Point")), Some(FeatureKind::Box));
        assert_eq!(
            feature_kind(None, Some("MultiPolygon")),
            Some(FeatureKind::Region)
        );
        assert_eq!(feature_kind(Some("pole"), Some("Point")), None);
        assert_eq!(feature_kind(None, Some("LineString")), None);
    }

    #[test]
    fn used_and_used_ports_given_together_must_agree() {
        assert_eq!(
            splitter_ports(8, Some(2), Some(&[1, 5])).unwrap().used(),
            &[1, 5]
        );
        assert_eq!(
            splitter_ports(8, Some(3), Some(&[1, 5])).unwrap_err().0,
            PortsField::Used
        );
        assert_eq!(
            splitter_ports(0, None, None).unwrap_err().0,
            PortsField::Ports
        );
        assert_eq!(
            splitter_ports(8, None, Some(&[9])).unwrap_err().0,
            PortsField::UsedPorts
        );
    }

    #[test]
    fn ids_are_strings_or_integers_and_a_bom_is_dropped() {
        assert_eq!(id_text(&json!("A")), Some("A".into()));
        assert_eq!(id_text(&json!(1001)), Some("1001".into()));
        assert_eq!(id_text(&json!(1.5)), None);
        assert_eq!(strip_bom(b"\xEF\xBB\xBF{}"), b"{}");
        assert_eq!(strip_bom(b"{}"), b"{}");
    }
}
