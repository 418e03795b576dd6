//! Coordinates and distances on the WGS84 ellipsoid.
//!
//! Distances are Karney's geodesics (through `geo::Geodesic`). The index pre-filters with
//! straight-line (chord) distances between earth-centred Cartesian points: a chord is never
//! longer than the geodesic between the same two points, so a chord cut at the radius can
//! never lose a box that is inside it, at the poles and across the antimeridian alike.

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
