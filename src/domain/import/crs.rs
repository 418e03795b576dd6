//! The `crs` member of a FeatureCollection (GeoJSON 2008; RFC 7946 dropped it, but GDAL
//! still writes it): anything but WGS84 longitude/latitude is refused, since projected
//! coordinates (metres) would otherwise be read as degrees or refused one feature at a time.

use serde_json::Value;

/// A `crs` the import does not take, by the name the file gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the file's coordinates are in {0}, but the import takes WGS84 longitude/latitude \
     (EPSG:4326, CRS84): reproject the file with `ogr2ogr -t_srs EPSG:4326`, e.g. \
     `ogr2ogr -f GeoJSON -t_srs EPSG:4326 out.geojson in.geojson`"
)]
pub struct UnsupportedCrs(pub String);

/// Accepts a missing or null `crs` and one naming WGS84 lon/lat: `EPSG:4326`, `CRS84`, and
/// their URN and URL forms (`urn:ogc:def:crs:OGC:1.3:CRS84`, `urn:ogc:def:crs:EPSG::4326`,
/// `http://www.opengis.net/def/crs/EPSG/0/4326`).
pub fn check_crs(crs: &Value) -> Result<(), UnsupportedCrs> {
    let props = crs.get("properties");
    let (name, ok) = match crs.get("type").and_then(Value::as_str) {
        _ if crs.is_null() => return Ok(()),
        _ if crs.is_string() => {
            let name = crs.as_str().unwrap_or_default();
            (name.to_owned(), names_wgs84(name))
        }
        Some("name") => match props.and_then(|p| p.get("name")).and_then(Value::as_str) {
            Some(name) => (name.to_owned(), names_wgs84(name)),
            None => ("a crs without a name".to_owned(), false),
        },
        // The 2008 draft's form: {"type": "EPSG", "properties": {"code": 4326}}.
        Some(t) if t.eq_ignore_ascii_case("epsg") => {
            let code = props.and_then(|p| p.get("code")).map(Value::to_string);
            let code = code.unwrap_or_default();
            (format!("EPSG:{code}"), code == "4326")
        }
        _ => (format!("the crs {crs}"), false),
    };
    if ok {
        Ok(())
    } else {
        Err(UnsupportedCrs(name))
    }
}

fn names_wgs84(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split([':', '/']).filter(|p| !p.is_empty()).collect();
    match parts.last() {
        Some(&"crs84") => true,
        Some(&"4326") => parts.contains(&"epsg"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn named(name: &str) -> Value {
        json!({"type": "name", "properties": {"name": name}})
    }

    #[test]
    fn wgs84_lon_lat_is_taken_in_each_spelling() {
        for name in [
            "urn:ogc:def:crs:OGC:1.3:CRS84",
            "urn:ogc:def:crs:OGC::CRS84",
            "CRS84",
            "OGC:CRS84",
            "EPSG:4326",
            "urn:ogc:def:crs:EPSG::4326",
            "urn:ogc:def:crs:EPSG:6.6:4326",
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            "http://www.opengis.net/def/crs/EPSG/0/4326",
        ] {
            assert_eq!(check_crs(&named(name)), Ok(()), "{name}");
        }
        assert_eq!(check_crs(&Value::Null), Ok(()));
        assert_eq!(
            check_crs(&json!({"type": "EPSG", "properties": {"code": 4326}})),
            Ok(())
        );
    }

    #[test]
    fn any_other_crs_is_refused_by_its_name_with_the_way_out() {
        for name in [
            "urn:ogc:def:crs:EPSG::31983",
            "EPSG:43260",
            "ESRI:4326",
            "EPSG:3857",
        ] {
            let e = check_crs(&named(name)).unwrap_err();
            assert_eq!(e.0, name);
            assert!(
                e.to_string()
                    .contains("ogr2ogr -f GeoJSON -t_srs EPSG:4326")
            );
        }
        assert!(check_crs(&json!({"type": "link", "properties": {"href": "x"}})).is_err());
        assert!(check_crs(&json!({"type": "EPSG", "properties": {"code": 31983}})).is_err());
        assert_eq!(check_crs(&json!("EPSG:4326")), Ok(()));
        assert!(check_crs(&json!("EPSG:3857")).is_err());
    }
}
