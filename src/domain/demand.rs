//! Demand: answers counted by H3 cell, plan, outcome and UTC day; and the map of them that
//! `GET /demand` draws, at a coarser resolution when asked (a cell sums its children).

use super::Coord;
use super::feasibility::Reason;
use super::validation::Invalid;
use chrono::NaiveDate;
use h3o::{CellIndex, LatLng, Resolution};
use serde::Serialize;
use std::collections::BTreeMap;

/// The resolution answers are counted at.
pub const COUNTED_AT: Resolution = Resolution::Nine;
/// The resolutions `GET /demand` draws.
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=9;
pub const DEFAULT_RESOLUTION: u8 = 8;

/// What an answer came to: feasible, or the reason it was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Outcome(pub Option<Reason>);

impl Outcome {
    pub fn as_str(self) -> &'static str {
        self.0.map_or("feasible", Reason::as_str)
    }

    pub fn parse(s: &str) -> Option<Self> {
        if s == "feasible" {
            return Some(Self(None));
        }
        Reason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .map(|r| Self(Some(r)))
    }
}

/// The resolution-9 cell of a point (never the point itself is kept).
pub fn cell_of(at: Coord) -> u64 {
    // A `Coord` is a checked position, which H3 always takes.
    LatLng::new(at.lat(), at.lon())
        .map(|p| u64::from(p.to_cell(COUNTED_AT)))
        .unwrap_or(0)
}

/// The centre of a cell as (lat, lon).
pub fn centre(cell: u64) -> Option<(f64, f64)> {
    let c = CellIndex::try_from(cell).ok()?;
    let p = LatLng::from(c);
    Some((p.lat(), p.lng()))
}

/// A checked `GET /demand` query.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandQuery {
    /// `[min_lon, min_lat, max_lon, max_lat]`; `min_lon > max_lon` crosses the antimeridian.
    pub bbox: [f64; 4],
    pub resolution: Resolution,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub plan_id: Option<String>,
    pub reason: Option<Reason>,
}

/// `GET /demand` parameters as sent.
#[derive(Debug, Clone, Default)]
pub struct DemandParams<'a> {
    pub bbox: Option<&'a str>,
    pub resolution: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub plan_id: Option<&'a str>,
    pub reason: Option<&'a str>,
}

impl DemandParams<'_> {
    /// Checks every parameter, reporting all problems at once.
    pub fn parse(&self) -> Result<DemandQuery, Invalid> {
        let mut invalid = Invalid::default();
        let bbox = match self.bbox.map(super::features::parse_bbox) {
            Some(Ok(b)) => b,
            Some(Err(m)) => {
                invalid.add("bbox", m);
                [0.0; 4]
            }
            None => {
                invalid.add("bbox", "is required (minLon,minLat,maxLon,maxLat)");
                [0.0; 4]
            }
        };
        let resolution = match self.resolution {
            None => Some(DEFAULT_RESOLUTION),
            Some(t) => t.parse::<u8>().ok().filter(|r| RESOLUTIONS.contains(r)),
        }
        .and_then(|r| Resolution::try_from(r).ok())
        .unwrap_or_else(|| {
            invalid.add("resolution", "must be an integer from 5 to 9");
            Resolution::Eight
        });
        let mut date = |field: &str, v: Option<&str>| {
            v.and_then(|t| match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    invalid.add(field, "must be a date, YYYY-MM-DD");
                    None
                }
            })
        };
        let from = date("from", self.from);
        let to = date("to", self.to);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            invalid.add("to", "must not be before from");
        }
        let reason = self.reason.and_then(|t| {
            let r = Reason::ALL.into_iter().find(|r| r.as_str() == t);
            if r.is_none() {
                invalid.add(
                    "reason",
                    "must be one of no_coverage, network_not_deployed, plan_not_available, no_free_ports",
                );
            }
            r
        });
        if let Some(p) = self.plan_id
            && let Err(m) = super::network::check_text(p)
        {
            invalid.add("plan_id", m);
        }
        invalid.or_ok(DemandQuery {
            bbox,
            resolution,
            from,
            to,
            plan_id: self.plan_id.map(str::to_owned),
            reason,
        })
    }
}

impl DemandQuery {
    /// The latitude and longitude ranges that hold every counted cell whose ancestor at
    /// the query's resolution may have its centre in the bbox: the bbox widened by twice
    /// that resolution's edge length (a child's centre lies within its parent's
    /// circumradius). Longitudes: none when the widened range covers them all.
    pub fn search_area(&self) -> ((f64, f64), Option<(f64, f64)>) {
        let [min_lon, min_lat, max_lon, max_lat] = self.bbox;
        let margin_deg = 2.0 * self.resolution.edge_length_km() / 111.0;
        let lat = (min_lat - margin_deg, max_lat + margin_deg);
        let widest = lat.0.abs().max(lat.1.abs());
        if min_lon > max_lon || widest >= 80.0 {
            return (lat, None);
        }
        let lon_margin = margin_deg / widest.to_radians().cos();
        let lon = (min_lon - lon_margin, max_lon + lon_margin);
        if lon.0 < -180.0 || lon.1 > 180.0 {
            return (lat, None);
        }
        (lat, Some(lon))
    }

    fn contains(&self, (lat, lon): (f64, f64)) -> bool {
        let [min_lon, min_lat, max_lon, max_lat] = self.bbox;
        let lon_in = if min_lon <= max_lon {
            (min_lon..=max_lon).contains(&lon)
        } else {
            lon >= min_lon || lon <= max_lon
        };
        lon_in && (min_lat..=max_lat).contains(&lat)
    }
}

/// One cell of the demand map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CellCounts {
    /// The H3 index, 15 hexadecimal digits.
    #[schema(pattern = "^[0-9a-f]{15}$")]
    pub cell: String,
    #[schema(minimum = 5, maximum = 9)]
    pub resolution: u8,
    pub total: u64,
    pub feasible: u64,
    pub no_coverage: u64,
    pub network_not_deployed: u64,
    pub plan_not_available: u64,
    pub no_free_ports: u64,
}

impl CellCounts {
    fn add(&mut self, outcome: Outcome, n: u64) {
        self.total += n;
        *match outcome.0 {
            None => &mut self.feasible,
            Some(Reason::NoCoverage) => &mut self.no_coverage,
            Some(Reason::NetworkNotDeployed) => &mut self.network_not_deployed,
            Some(Reason::PlanNotAvailable) => &mut self.plan_not_available,
            Some(Reason::NoFreePorts) => &mut self.no_free_ports,
        } += n;
    }
}

/// The map: counted cells (resolution 9, with their outcome and count) summed into their
/// ancestors at the query's resolution, those whose centre lies in the bbox, in cell
/// order, each with its boundary ring as `[lon, lat]` positions (closed).
pub fn cells(
    query: &DemandQuery,
    counted: impl IntoIterator<Item = (u64, Outcome, u64)>,
) -> Vec<(CellCounts, Vec<[f64; 2]>)> {
    let mut sums: BTreeMap<CellIndex, CellCounts> = BTreeMap::new();
    for (cell, outcome, n) in counted {
        let Some(parent) = CellIndex::try_from(cell)
            .ok()
            .and_then(|c| c.parent(query.resolution))
        else {
            continue;
        };
        sums.entry(parent).or_default().add(outcome, n);
    }
    sums.into_iter()
        .filter(|(c, _)| {
            let p = LatLng::from(*c);
            query.contains((p.lat(), p.lng()))
        })
        .map(|(c, mut counts)| {
            counts.cell = c.to_string();
            counts.resolution = u8::from(query.resolution);
            let mut ring: Vec<[f64; 2]> = c.boundary().iter().map(|p| [p.lng(), p.lat()]).collect();
            if let Some(first) = ring.first().copied() {
                ring.push(first);
            }
            (counts, ring)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(bbox: &str, resolution: Option<&str>) -> DemandQuery {
        DemandParams {
            bbox: Some(bbox),
            resolution,
            ..Default::default()
        }
        .parse()
        .unwrap()
    }

    #[test]
    fn a_point_is_counted_in_its_resolution_nine_cell() {
        let at = Coord::parse(-23.5505, -46.6333).unwrap();
        let cell = CellIndex::try_from(cell_of(at)).unwrap();
        assert_eq!(cell.resolution(), Resolution::Nine);
        assert_eq!(cell.to_string().len(), 15);
        let (lat, lon) = centre(u64::from(cell)).unwrap();
        assert!((lat + 23.5505).abs() < 0.01 && (lon + 46.6333).abs() < 0.01);
    }

    #[test]
    fn coarser_cells_sum_their_children_and_keep_those_centred_in_the_bbox() {
        let a = cell_of(Coord::parse(-23.5505, -46.6333).unwrap());
        let b = CellIndex::try_from(a)
            .unwrap()
            .grid_disk::<Vec<_>>(1)
            .into_iter()
            .map(u64::from)
            .find(|&c| c != a)
            .unwrap();
        let far = cell_of(Coord::parse(10.0, 10.0).unwrap());
        let counted = [
            (a, Outcome(None), 2),
            (b, Outcome(Some(Reason::NoCoverage)), 3),
            (far, Outcome(None), 7),
        ];
        let q = query("-47,-24,-46,-23", Some("5"));
        let map = cells(&q, counted);
        assert_eq!(map.len(), 1, "{map:?}");
        let (counts, ring) = &map[0];
        assert_eq!(counts.resolution, 5);
        assert_eq!(
            (counts.total, counts.feasible, counts.no_coverage),
            (5, 2, 3)
        );
        assert_eq!(ring.first(), ring.last());
        assert!(ring.len() >= 7);
        // At resolution 9 each is its own cell.
        assert_eq!(
            cells(&query("-47,-24,-46,-23", Some("9")), counted).len(),
            2
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let bad = DemandParams {
            bbox: Some("1,2,3"),
            resolution: Some("4"),
            from: Some("2026-13-01"),
            to: Some("yesterday"),
            reason: Some("busy"),
            ..Default::default()
        }
        .parse()
        .unwrap_err();
        let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["bbox", "resolution", "from", "to", "reason"]);
        assert!(DemandParams::default().parse().is_err(), "bbox is required");
        let reversed = DemandParams {
            bbox: Some("0,0,1,1"),
            from: Some("2026-02-02"),
            to: Some("2026-02-01"),
            ..Default::default()
        };
        assert!(reversed.parse().is_err());
    }

    #[test]
    fn the_search_area_widens_the_bbox() {
        let q = query("-47,-24,-46,-23", Some("5"));
        let ((lo, hi), lon) = q.search_area();
        assert!(lo < -24.1 && hi > -22.9);
        let (w, e) = lon.unwrap();
        assert!(w < -47.1 && e > -45.9);
        assert_eq!(query("170,0,-170,1", None).search_area().1, None);
    }
}
