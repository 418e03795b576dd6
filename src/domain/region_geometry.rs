//! Region geometry read from GeoJSON (Polygon or MultiPolygon) and checked: closed rings of
//! at least four positions that do not cross themselves, holes inside their shell, less than
//! 180° of longitude; each refusal names the ring and says how to put it right.

use super::Coord;
use super::validation::Invalid;
use geo::{LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};

/// `[lon, lat]` (a third value, altitude, is ignored).
pub(super) fn position(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    if !(2..=3).contains(&a.len()) {
        return None;
    }
    Some((a[0].as_f64()?, a[1].as_f64()?))
}

/// A position as the messages show it: `[lon, lat]`.
fn shown(c: geo::Coord<f64>) -> String {
    format!("[{}, {}]", c.x, c.y)
}

/// A closed ring of at least four positions, each in range; problems are named at `at`
/// (`geometry.coordinates[0]`), a bad position by its index below it.
fn read_ring(v: &Value, at: &str, invalid: &mut Invalid) -> Option<LineString<f64>> {
    let Some(points) = v.as_array() else {
        invalid.add(
            at,
            "must be a ring: an array of [longitude, latitude] positions",
        );
        return None;
    };
    let mut coords = Vec::with_capacity(points.len());
    for (m, p) in points.iter().enumerate() {
        let Some((lon, lat)) = position(p) else {
            invalid.add(format!("{at}[{m}]"), "must be [longitude, latitude]");
            return None;
        };
        if Coord::parse(lat, lon).is_err() {
            invalid.add(
                format!("{at}[{m}]"),
                "must lie within longitude -180..180 and latitude -90..90 \
                 (WGS84 degrees; reproject with ogr2ogr -t_srs EPSG:4326)",
            );
            return None;
        }
        coords.push(geo::coord! {x: lon, y: lat});
    }
    if coords.len() < 4 {
        invalid.add(
            at,
            format!(
                "has {} position(s); a ring needs at least 4: three corners and the first \
                 position repeated at the end",
                coords.len()
            ),
        );
        return None;
    }
    if coords.first() != coords.last() {
        invalid.add(
            at,
            format!(
                "is not closed: end it with its first position, {}",
                shown(coords[0])
            ),
        );
        return None;
    }
    Some(LineString::new(coords))
}

/// A polygon's rings, the first its outer ring and the rest its holes; `at` names its
/// array of rings.
fn read_polygon(v: &Value, at: &str, invalid: &mut Invalid) -> Option<Polygon<f64>> {
    let Some(rings) = v.as_array().filter(|r| !r.is_empty()) else {
        invalid.add(
            at,
            "must be a polygon: an array of rings, the outer ring first and then any holes",
        );
        return None;
    };
    let rings: Vec<Option<LineString<f64>>> = rings
        .iter()
        .enumerate()
        .map(|(k, r)| read_ring(r, &format!("{at}[{k}]"), invalid))
        .collect();
    let mut rings = rings.into_iter().collect::<Option<Vec<_>>>()?.into_iter();
    let exterior = rings.next().expect("non-empty");
    Some(Polygon::new(exterior, rings.collect()))
}

/// The shape of a GeoJSON Polygon or MultiPolygon, with the field naming each polygon's
/// rings (`geometry.coordinates` of a Polygon, `geometry.coordinates[p]` of a
/// MultiPolygon's polygon `p`). Fields are named below the feature.
fn read_area(geometry: &Value) -> Result<(MultiPolygon<f64>, Vec<String>), Invalid> {
    let mut invalid = Invalid::default();
    let kind = geometry.get("type").and_then(Value::as_str);
    if !matches!(kind, Some("Polygon" | "MultiPolygon")) {
        invalid.add(
            "geometry",
            "a region must have a Polygon or MultiPolygon geometry",
        );
        return Err(invalid);
    }
    let Some(coords) = geometry.get("coordinates") else {
        invalid.add("geometry.coordinates", "is required");
        return Err(invalid);
    };
    let at = "geometry.coordinates";
    let (polygons, paths): (Vec<_>, Vec<_>) = if kind == Some("Polygon") {
        (
            vec![read_polygon(coords, at, &mut invalid)],
            vec![at.to_owned()],
        )
    } else {
        let Some(list) = coords.as_array().filter(|l| !l.is_empty()) else {
            invalid.add(at, "a MultiPolygon needs an array of one or more polygons");
            return Err(invalid);
        };
        list.iter()
            .enumerate()
            .map(|(p, v)| {
                let path = format!("{at}[{p}]");
                (read_polygon(v, &path, &mut invalid), path)
            })
            .unzip()
    };
    match polygons.into_iter().collect::<Option<Vec<_>>>() {
        Some(polygons) if invalid.is_empty() => Ok((MultiPolygon(polygons), paths)),
        _ => Err(invalid),
    }
}

/// A GeoJSON Polygon or MultiPolygon geometry as an area, its shape checked (closed rings of
/// four or more positions in range) but not its validity: how stored regions are read back.
pub fn parse_area(geometry: &Value) -> Result<MultiPolygon<f64>, String> {
    read_area(geometry)
        .map(|(area, _)| area)
        .map_err(|invalid| {
            let e = &invalid.0[0];
            format!("{}: {}", e.field, e.message)
        })
}

/// A region's geometry as an import takes it: a GeoJSON Polygon or MultiPolygon of valid
/// polygons (see [`polygon_problems`]). Each problem names its field below the feature, down
/// to the ring (`geometry.coordinates[0]`, `geometry.coordinates[1][0]`), and says how to
/// put it right.
pub fn parse_region_geometry(geometry: &Value) -> Result<MultiPolygon<f64>, Invalid> {
    let (area, paths) = read_area(geometry)?;
    let mut invalid = Invalid::default();
    for (polygon, at) in area.0.iter().zip(&paths) {
        for (ring, message) in polygon_problems(polygon) {
            invalid.add(format!("{at}[{ring}]"), message);
        }
    }
    invalid.or_ok(area)
}

/// What keeps a polygon of closed rings from bounding an area, each problem with the index of
/// its ring (0 the outer ring, then the holes): a ring that crosses, touches or doubles back
/// on itself or has fewer than three corners ([`ring_problem`]); an outer ring spanning 180°
/// of longitude or more (one crossing the antimeridian); a hole not inside the outer ring.
pub fn polygon_problems(polygon: &Polygon<f64>) -> Vec<(usize, String)> {
    let mut problems: Vec<(usize, String)> = std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .enumerate()
        .filter_map(|(k, ring)| ring_problem(ring).map(|m| (k, m)))
        .collect();
    if let Some(m) = longitude_span_problem(polygon.exterior()) {
        problems.push((0, m));
    }
    // Containment means little between rings that are not simple.
    if problems.is_empty() && !polygon.interiors().is_empty() {
        use geo::{PreparedGeometry, Relate};
        let shell = Polygon::new(polygon.exterior().clone(), vec![]);
        let shell = PreparedGeometry::from(&shell);
        for (h, hole) in polygon.interiors().iter().enumerate() {
            if !shell
                .relate(&Polygon::new(hole.clone(), vec![]))
                .is_contains()
            {
                problems.push((
                    h + 1,
                    "is a hole that is not inside the polygon's outer ring (ring 0): a hole \
                     must lie within it; give an area of its own as a separate polygon"
                        .to_owned(),
                ));
            }
        }
    }
    problems
}

/// Why a polygon's outer ring is refused for its width: 180° of longitude or more, which in
/// lon/lat is how a polygon crossing the antimeridian reads.
fn longitude_span_problem(ring: &LineString<f64>) -> Option<String> {
    let (west, east) = ring
        .coords()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(w, e), c| {
            (w.min(c.x), e.max(c.x))
        });
    (east - west >= 180.0).then(|| {
        format!(
            "spans {}° of longitude (from {west} to {east}); a polygon must span less than \
             180°. If it crosses the antimeridian, split it in two at 180°: one polygon ending \
             at longitude 180 and one starting at -180, both in a MultiPolygon",
            east - west
        )
    })
}

/// One edge of a ring: from its corner `i` to corner `i + 1`.
#[derive(Clone)]
struct Edge {
    line: geo::Line<f64>,
    i: usize,
}

impl geo::algorithm::sweep::Cross for Edge {
    type Scalar = f64;

    fn line(&self) -> geo::Line<f64> {
        self.line
    }
}

/// Why a closed ring is not simple, if it is not: fewer than three distinct corners, two
/// edges that cross or touch, or an edge that doubles back along the one before it (a
/// spike). Repeated consecutive positions are allowed. Edges are compared by a sweep over
/// longitude, so a ring of many thousands of positions is checked quickly.
pub fn ring_problem(ring: &LineString<f64>) -> Option<String> {
    use geo::algorithm::sweep::Intersections;
    use geo::line_intersection::LineIntersection;
    // The corners, each with the index of its position in the ring as given.
    let mut corners: Vec<(usize, geo::Coord<f64>)> = Vec::with_capacity(ring.0.len());
    for (k, &c) in ring.0.iter().enumerate() {
        if corners.last().is_none_or(|&(_, last)| last != c) {
            corners.push((k, c));
        }
    }
    if corners.len() < 4 {
        return Some(format!(
            "has {} distinct corner(s); a ring needs at least 3",
            corners.len().saturating_sub(1).max(1)
        ));
    }
    let last = corners.len() - 2;
    let edges = corners.windows(2).enumerate().map(|(i, w)| Edge {
        line: geo::Line::new(w[0].1, w[1].1),
        i,
    });
    // A spike is named before a crossing: it is where the other edges meet, too.
    let mut crossing = None;
    for (a, b, hit) in Intersections::from_iter(edges) {
        let (i, j) = (a.i.min(b.i), a.i.max(b.i));
        let neighbours = j == i + 1 || (i == 0 && j == last);
        match hit {
            LineIntersection::SinglePoint { .. } if neighbours => {}
            LineIntersection::Collinear { .. } if neighbours => {
                // The corner the two edges share is the tip of a spike.
                let (tip, at) = corners[if j == i + 1 { j } else { 0 }];
                return Some(format!(
                    "doubles back on itself at position {tip}, {}: remove that position so \
                     the outline does not run back along an edge",
                    shown(at)
                ));
            }
            _ if crossing.is_some() => {}
            _ => {
                let (what, at) = match hit {
                    LineIntersection::SinglePoint {
                        intersection,
                        is_proper: true,
                    } => ("crosses", intersection),
                    LineIntersection::SinglePoint { intersection, .. } => ("touches", intersection),
                    LineIntersection::Collinear { intersection } => {
                        ("overlaps", intersection.start)
                    }
                };
                crossing = Some(format!(
                    "{what} itself at {}, where the edge from position {} meets the edge from \
                     position {}: order the positions along the outline so that its edges \
                     never meet except at consecutive corners (a figure-eight must be given \
                     as two polygons of a MultiPolygon)",
                    shown(at),
                    corners[i].0,
                    corners[j].0
                ));
            }
        }
    }
    crossing
}

/// An area as a GeoJSON MultiPolygon geometry (how regions are stored).
pub fn area_to_geojson(area: &MultiPolygon<f64>) -> Value {
    let ring = |l: &LineString<f64>| -> Vec<[f64; 2]> { l.coords().map(|c| [c.x, c.y]).collect() };
    let polys: Vec<Vec<Vec<[f64; 2]>>> = area
        .0
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ring)
                .collect()
        })
        .collect();
    json!({"type": "MultiPolygon", "coordinates": polys})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields and messages a region geometry is refused with.
    fn problems(geometry: Value) -> Vec<(String, String)> {
        parse_region_geometry(&geometry)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    fn polygon(rings: Value) -> Value {
        json!({"type": "Polygon", "coordinates": rings})
    }

    const SQUARE: [[f64; 2]; 5] = [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]];

    #[test]
    fn a_ring_must_be_closed_and_have_at_least_four_positions() {
        let p = problems(polygon(json!([[[0, 0], [1, 0], [1, 1], [0, 1]]])));
        assert_eq!(p[0].0, "geometry.coordinates[0]");
        assert!(
            p[0].1.contains("end it with its first position, [0, 0]"),
            "{p:?}"
        );
        let p = problems(polygon(json!([SQUARE, [[1, 1], [2, 1], [1, 1]]])));
        assert_eq!(p[0].0, "geometry.coordinates[1]");
        assert!(p[0].1.contains("at least 4"), "{p:?}");
        let p = problems(polygon(json!([[[0, 0], [1, 0], [1, 0], [0, 0]]])));
        assert_eq!(p[0].0, "geometry.coordinates[0]");
        assert!(p[0].1.contains("at least 3"), "{p:?}");
    }

    #[test]
    fn a_bad_position_is_named_by_its_index() {
        let p = problems(polygon(json!([[[0, 0], [1, 0], [200, 1], [0, 0]]])));
        assert_eq!(p[0].0, "geometry.coordinates[0][2]");
        assert!(p[0].1.contains("EPSG:4326"), "{p:?}");
        let p = problems(polygon(json!([[[0, 0], [1, 0], "x", [0, 0]]])));
        assert_eq!(p[0].0, "geometry.coordinates[0][2]");
    }

    #[test]
    fn a_bowtie_is_refused_where_it_crosses() {
        let p = problems(polygon(json!([[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]])));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "geometry.coordinates[0]");
        assert!(p[0].1.starts_with("crosses itself at [1, 1]"), "{p:?}");
        assert!(p[0].1.contains("two polygons of a MultiPolygon"), "{p:?}");
        // The stored form is read back without judging it.
        assert!(parse_area(&polygon(json!([[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]))).is_ok());
    }

    #[test]
    fn a_ring_may_not_touch_itself_or_double_back() {
        let figure_eight = json!([[[0, 0], [2, 0], [1, 1], [2, 2], [0, 2], [1, 1], [0, 0]]]);
        let p = problems(polygon(figure_eight));
        assert!(p[0].1.starts_with("touches itself at [1, 1]"), "{p:?}");
        let spike = json!([[[0, 0], [4, 0], [6, 0], [4, 0], [4, 4], [0, 4], [0, 0]]]);
        let p = problems(polygon(spike));
        assert!(
            p[0].1
                .starts_with("doubles back on itself at position 2, [6, 0]"),
            "{p:?}"
        );
        let flat = json!([[[0, 0], [1, 0], [2, 0], [0, 0]]]);
        assert_eq!(problems(polygon(flat))[0].0, "geometry.coordinates[0]");
    }

    #[test]
    fn repeated_positions_and_straight_corners_are_taken() {
        let g = polygon(json!([[
            [0, 0],
            [0, 0],
            [2, 0],
            [4, 0],
            [4, 4],
            [4, 4],
            [0, 4],
            [0, 0],
            [0, 0]
        ]]));
        assert!(parse_region_geometry(&g).is_ok());
    }

    #[test]
    fn a_hole_must_lie_inside_its_shell() {
        let inside = [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]];
        assert!(parse_region_geometry(&polygon(json!([SQUARE, inside]))).is_ok());
        let outside = [[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]];
        let across = [[3, 1], [5, 1], [5, 2], [3, 2], [3, 1]];
        let p = problems(polygon(json!([SQUARE, inside, outside, across])));
        let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["geometry.coordinates[2]", "geometry.coordinates[3]"]
        );
        assert!(
            p[0].1.contains("not inside the polygon's outer ring"),
            "{p:?}"
        );
    }

    #[test]
    fn a_polygon_across_the_antimeridian_is_refused_with_the_hint_to_split_it() {
        let across = json!([[[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]]]);
        let p = problems(polygon(across));
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "geometry.coordinates[0]");
        assert!(p[0].1.contains("split it in two at 180°"), "{p:?}");
        let half = json!([[[0, 0], [180, 0], [180, 1], [0, 1], [0, 0]]]);
        assert_eq!(problems(polygon(half))[0].0, "geometry.coordinates[0]");
        // Split at 180°, as the message says, it is taken.
        let split = json!({"type": "MultiPolygon", "coordinates": [
            [[[170, -10], [180, -10], [180, 10], [170, 10], [170, -10]]],
            [[[-180, -10], [-170, -10], [-170, 10], [-180, 10], [-180, -10]]]]});
        assert_eq!(parse_region_geometry(&split).unwrap().0.len(), 2);
    }

    #[test]
    fn a_multipolygon_names_the_polygon_and_ring() {
        let g = json!({"type": "MultiPolygon", "coordinates": [
            [SQUARE], [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]], [[[0, 0], [1, 0], [1, 1]]]]});
        let fields: Vec<String> = problems(g).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["geometry.coordinates[2][0]"]);
        let g = json!({"type": "MultiPolygon", "coordinates": [
            [SQUARE], [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]]});
        let fields: Vec<String> = problems(g).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["geometry.coordinates[1][0]"]);
    }

    #[test]
    fn a_ring_of_many_positions_is_checked_whole() {
        let n = 20_000;
        let mut ring: Vec<[f64; 2]> = (0..n)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / n as f64;
                [a.cos(), a.sin()]
            })
            .collect();
        ring.push(ring[0]);
        assert!(parse_region_geometry(&polygon(json!([ring.clone()]))).is_ok());
        // Two neighbouring positions swapped make the outline cross itself.
        ring.swap(n / 2, n / 2 + 1);
        let p = problems(polygon(json!([ring])));
        assert!(p[0].1.starts_with("crosses itself"), "{p:?}");
    }
}
