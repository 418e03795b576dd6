//! Coordinates and distances on the WGS84 ellipsoid.
//!
//! Distances are Karney's geodesics (through `geo::Geodesic`). The index pre-filters with
//! straight-line (chord) distances between earth-centred Cartesian points: a chord is never
//! longer than the geodesic between the same two points, so a chord cut at the radius can
//! never lose a box that is inside it, at the poles and across the antimeridian alike.
//!
//! The index answers with [`within_radius_cm`], which gives Karney's answer (rounded to the
//! centimetre, as shown) without solving Karney's problem when a cheaper length of the same
//! line already decides it.

use geo::{Distance, Geodesic, Point};

/// WGS84 semi-major axis, metres.
const WGS84_A: f64 = 6_378_137.0;
/// WGS84 flattening.
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Float noise allowed when a box lies exactly at the radius (one millimetre; distances are
/// promised to 1 cm).
pub const RADIUS_TOLERANCE_M: f64 = 0.001;

/// A validated WGS84 position in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coord {
    lat: f64,
    lon: f64,
}

/// Why a pair of numbers is not a position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordError {
    #[error("must be a number between -90 and 90")]
    Lat,
    #[error("must be a number between -180 and 180")]
    Lon,
}

impl Coord {
    /// Parses latitude and longitude, refusing anything outside [-90, 90] × [-180, 180].
    pub fn parse(lat: f64, lon: f64) -> Result<Self, CoordError> {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(CoordError::Lat);
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(CoordError::Lon);
        }
        Ok(Self { lat, lon })
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Geodesic distance in metres (Karney, WGS84).
    pub fn distance_m(self, other: Coord) -> f64 {
        Geodesic.distance(
            Point::new(self.lon, self.lat),
            Point::new(other.lon, other.lat),
        )
    }

    /// Earth-centred, earth-fixed Cartesian position in metres (height 0).
    pub fn ecef(self) -> [f64; 3] {
        let (sin_lat, cos_lat) = self.lat.to_radians().sin_cos();
        let (sin_lon, cos_lon) = self.lon.to_radians().sin_cos();
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let n = WGS84_A / (1.0 - e2 * sin_lat * sin_lat).sqrt();
        [
            n * cos_lat * cos_lon,
            n * cos_lat * sin_lon,
            n * (1.0 - e2) * sin_lat,
        ]
    }
}

/// Whether a geodesic distance lies within a radius (a box at exactly the radius is inside).
pub fn within_radius(distance_m: f64, radius_m: f64) -> bool {
    distance_m <= radius_m + RADIUS_TOLERANCE_M
}

/// A distance as shown to callers and used for ordering: rounded to the centimetre.
pub fn round_cm(distance_m: f64) -> f64 {
    (distance_m * 100.0).round() / 100.0
}

/// Lines up to this long (chord, metres) get a [`short_line_m`] length.
const SHORT_LINE_MAX_M: f64 = 20_000.0;

/// How far a [`short_line_m`] length may be from Karney's (metres). The tests find them
/// within a micrometre of each other up to [`SHORT_LINE_MAX_M`]; this allows ten.
const SHORT_LINE_ERROR_M: f64 = 1e-5;

/// The length of a geodesic up to [`SHORT_LINE_MAX_M`] long, from its chord (`chord_m`,
/// between the points' [`Coord::ecef`] positions), to within [`SHORT_LINE_ERROR_M`]. On a
/// short line the ellipsoid bends like a circle whose curvature is that of its normal
/// section along the line, at its middle (Euler: cos²α/M + sin²α/N); an arc of curvature k
/// is longer than its chord c by k²c³/24 + 3k⁴c⁵/640.
fn short_line_m(a: Coord, b: Coord, chord_m: f64) -> Option<f64> {
    if chord_m > SHORT_LINE_MAX_M {
        return None;
    }
    let e2 = WGS84_F * (2.0 - WGS84_F);
    let sin_mid = ((a.lat + b.lat) / 2.0).to_radians().sin();
    let w = 1.0 - e2 * sin_mid * sin_mid;
    let n = WGS84_A / w.sqrt(); // prime vertical radius of curvature
    let m = n * (1.0 - e2) / w; // meridian radius of curvature
    let mut dlon = b.lon - a.lon;
    if dlon > 180.0 {
        dlon -= 360.0;
    } else if dlon < -180.0 {
        dlon += 360.0;
    }
    let north = m * (b.lat - a.lat).to_radians();
    let east = n * (1.0 - sin_mid * sin_mid).sqrt() * dlon.to_radians();
    let span2 = north * north + east * east;
    if span2 == 0.0 {
        return Some(chord_m);
    }
    let k = (north * north / m + east * east / n) / span2;
    let kc2 = (k * chord_m).powi(2);
    Some(chord_m * (1.0 + kc2 / 24.0 + 3.0 * kc2 * kc2 / 640.0))
}

/// Whether a length decides the same as any length within [`SHORT_LINE_ERROR_M`] of it:
/// inside or outside the radius, and rounded to the same centimetre.
fn decides(length_m: f64, radius_m: f64) -> bool {
    let to_edge = (length_m - (radius_m + RADIUS_TOLERANCE_M)).abs();
    let cm = length_m * 100.0;
    let to_rounding_step = (cm - cm.floor() - 0.5).abs() / 100.0;
    to_edge > SHORT_LINE_ERROR_M && to_rounding_step > SHORT_LINE_ERROR_M
}

/// The geodesic distance from `a` to `b` rounded to the centimetre, if it is within the
/// radius: exactly `within_radius(g, radius_m).then(|| round_cm(g))` for Karney's `g`.
/// `chord_m` is the chord between the points, which the index has at hand. Karney's
/// solution (about half a microsecond) is only computed when the short-line length lies
/// within its error of the radius or of a rounding step (about one line in five hundred).
pub fn within_radius_cm(a: Coord, b: Coord, chord_m: f64, radius_m: f64) -> Option<f64> {
    let length = short_line_m(a, b, chord_m)
        .filter(|&l| decides(l, radius_m))
        .unwrap_or_else(|| a.distance_m(b));
    within_radius(length, radius_m).then(|| round_cm(length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(a: Coord, b: Coord) -> f64 {
        let (p, q) = (a.ecef(), b.ecef());
        ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
    }

    #[test]
    fn coordinates_outside_the_globe_are_refused() {
        assert_eq!(Coord::parse(90.1, 0.0), Err(CoordError::Lat));
        assert_eq!(Coord::parse(0.0, -180.5), Err(CoordError::Lon));
        assert!(Coord::parse(-90.0, 180.0).is_ok());
        assert!(Coord::parse(f64::NAN, 0.0).is_err());
    }

    #[test]
    fn the_chord_never_exceeds_the_geodesic() {
        let pairs = [
            ((-23.55, -46.63), (-23.56, -46.64)),
            ((89.999, 0.0), (89.999, 180.0)),
            ((0.0, 179.9999), (0.0, -179.9999)),
            ((-89.99, 45.0), (-89.99, -135.0)),
            ((45.0, 10.0), (45.01, 10.02)),
        ];
        for ((a1, o1), (a2, o2)) in pairs {
            let (a, b) = (Coord::parse(a1, o1).unwrap(), Coord::parse(a2, o2).unwrap());
            let (c, g) = (chord(a, b), a.distance_m(b));
            assert!(c <= g + 1e-9, "chord {c} > geodesic {g}");
            assert!(
                g - c < 0.01,
                "chord and geodesic differ by more than 1 cm at short range"
            );
        }
    }

    /// A point at a geodesic distance and bearing from `a` (Karney's direct problem).
    fn destination(a: Coord, bearing: f64, distance_m: f64) -> Coord {
        use geo::Destination;
        let p = Geodesic.destination(Point::new(a.lon, a.lat), bearing, distance_m);
        Coord::parse(p.y(), p.x()).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        /// Everywhere on the globe, poles and antimeridian included, up to the longest short
        /// line: a tenth of the error the index allows for.
        #[test]
        fn a_short_line_is_as_long_as_karneys_geodesic(
            lat in -90.0..=90.0f64,
            lon in -180.0..=180.0f64,
            bearing in -180.0..180.0f64,
            distance in 0.0..SHORT_LINE_MAX_M,
        ) {
            let a = Coord::parse(lat, lon).unwrap();
            let b = destination(a, bearing, distance);
            let karney = a.distance_m(b);
            let short = short_line_m(a, b, chord(a, b)).expect("a short line");
            proptest::prop_assert!(
                (short - karney).abs() < SHORT_LINE_ERROR_M / 10.0,
                "short line {short} m, Karney {karney} m"
            );
        }

        /// The index's answer is Karney's, rounded, even for lengths at the radius or at a
        /// rounding step (where the short line must not decide).
        #[test]
        fn within_radius_cm_answers_as_karney_does(
            lat in -90.0..=90.0f64,
            lon in -180.0..=180.0f64,
            bearing in -180.0..180.0f64,
            distance in 0.0..30_000.0f64,
            edge in proptest::prop_oneof![
                proptest::prelude::Just(0.0),
                -2e-5..2e-5f64,
                -0.01..0.01f64,
            ],
            on_step in proptest::bool::ANY,
        ) {
            let a = Coord::parse(lat, lon).unwrap();
            // A length right at a rounding step, or anywhere.
            let distance = if on_step { (distance * 100.0).floor() / 100.0 + 0.005 } else { distance };
            let b = destination(a, bearing, distance);
            let karney = a.distance_m(b);
            // A radius right at the length (inside by the tolerance), or near it.
            let radius = karney - RADIUS_TOLERANCE_M + edge;
            proptest::prop_assert_eq!(
                within_radius_cm(a, b, chord(a, b), radius),
                within_radius(karney, radius).then(|| round_cm(karney))
            );
        }
    }

    #[test]
    fn a_box_at_exactly_the_radius_is_inside() {
        assert!(within_radius(250.0, 250.0));
        assert!(within_radius(250.0005, 250.0));
        assert!(!within_radius(250.01, 250.0));
    }

    #[test]
    fn distances_round_to_the_centimetre() {
        assert_eq!(round_cm(38.7149), 38.71);
        assert_eq!(round_cm(38.715_1), 38.72);
    }
}
