//! A synthetic network for demos, tests and benchmarks: boxes along the streets of a
//! city-like grid, regions tagged for plans, a mix of statuses and of splitter occupancy.

use crate::domain::Coord;
use crate::domain::import::ImportBatch;
use crate::domain::network::{BoxStatus, NetBox, Plan, Ports, Region, Splitter, SplitterKind};
use geo::{LineString, MultiPolygon, Polygon};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Metres per degree of latitude (close enough for laying out a demo).
const M_PER_DEG: f64 = 111_320.0;
/// Distance between parallel streets, metres.
const BLOCK_M: f64 = 120.0;
/// Distance between boxes along a street, metres.
const POLE_M: f64 = 40.0;

/// A demo city: a project around a centre.
#[derive(Debug, Clone)]
pub struct City {
    pub project: &'static str,
    pub name: &'static str,
    pub lat: f64,
    pub lon: f64,
}

/// The two demo projects.
pub const CITIES: [City; 2] = [
    City {
        project: "sp-centro",
        name: "São Paulo centro",
        lat: -23.5505,
        lon: -46.6333,
    },
    City {
        project: "campinas",
        name: "Campinas",
        lat: -22.9056,
        lon: -47.0608,
    },
];

/// The demo plans.
pub fn plans() -> Vec<Plan> {
    let plan = |id: &str, name: &str, tags: &[&str]| Plan {
        id: id.into(),
        name: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    vec![
        plan("fibra-300", "Fibra 300 Mbps", &["fibra"]),
        plan("fibra-600", "Fibra 600 Mbps", &["fibra"]),
        plan("fibra-1000", "Fibra 1 Gbps", &["premium"]),
        plan("empresarial", "Empresarial", &["centro"]),
    ]
}

fn offset(city: &City, north_m: f64, east_m: f64) -> (f64, f64) {
    let lat = city.lat + north_m / M_PER_DEG;
    let lon = city.lon + east_m / (M_PER_DEG * city.lat.to_radians().cos());
    (lat, lon)
}

fn square(city: &City, south_m: f64, west_m: f64, north_m: f64, east_m: f64) -> MultiPolygon<f64> {
    let (s, w) = offset(city, south_m, west_m);
    let (n, e) = offset(city, north_m, east_m);
    let ring = LineString::from(vec![(w, s), (e, s), (e, n), (w, n), (w, s)]);
    MultiPolygon(vec![Polygon::new(ring, vec![])])
}

/// About `boxes` boxes of one city, laid along a square street grid around its centre.
pub fn network(city: &City, boxes: usize, seed: u64) -> ImportBatch {
    let mut rng = StdRng::seed_from_u64(seed);
    // A square grid whose streets, with a box every POLE_M, carry about `boxes` boxes.
    let per_street_m = |half: f64| 2.0 * half;
    let mut half = 500.0_f64;
    while (2.0 * (2.0 * half / BLOCK_M + 1.0) * per_street_m(half) / POLE_M) < boxes as f64 {
        half *= 1.2;
    }
    let streets = (2.0 * half / BLOCK_M) as i64 + 1;
    let poles = (2.0 * half / POLE_M) as i64 + 1;
    let mut out = ImportBatch::default();
    'grid: for street in 0..streets {
        for pole in 0..poles {
            for vertical in [false, true] {
                if out.boxes.len() >= boxes {
                    break 'grid;
                }
                let along = -half + pole as f64 * POLE_M + rng.random_range(-5.0..5.0);
                let across = -half + street as f64 * BLOCK_M + rng.random_range(-3.0..3.0);
                let (north, east) = if vertical {
                    (along, across)
                } else {
                    (across, along)
                };
                let (lat, lon) = offset(city, north, east);
                let n = out.boxes.len() + 1;
                let status = match rng.random_range(0..100) {
                    0..85 => BoxStatus::Deployed,
                    85..95 => BoxStatus::InProject,
                    _ => BoxStatus::OutOfService,
                };
                let id = format!("{}-CTO-{n:05}", city.project.to_uppercase());
                let mut splitters = Vec::new();
                for s in 1..=rng.random_range(1..=2) {
                    let total = if rng.random_bool(0.5) { 8 } else { 16 };
                    let used = if rng.random_bool(0.2) {
                        total
                    } else {
                        rng.random_range(0..total)
                    };
                    splitters.push(Splitter {
                        id: format!("{id}-S{s}"),
                        kind: SplitterKind::Attendance,
                        ports: Ports::with_used_count(total, used).expect("used within ports"),
                    });
                }
                if rng.random_bool(0.3) {
                    splitters.push(Splitter {
                        id: format!("{id}-C1"),
                        kind: SplitterKind::Connection,
                        ports: Ports::with_used_count(4, 1).expect("used within ports"),
                    });
                }
                out.boxes.push((
                    out.boxes.len(),
                    NetBox {
                        name: format!("CTO {n}"),
                        id,
                        status,
                        location: Coord::parse(lat, lon).expect("demo cities lie on the globe"),
                        splitters,
                    },
                ));
            }
        }
    }
    let region = |id: &str, name: &str, tags: &[&str], area: MultiPolygon<f64>| Region {
        id: id.into(),
        name: name.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        area,
    };
    let first = out.boxes.len();
    // The centre sells everything; the north and south sell residential fibre; the east
    // corner is premium; the far west is sold by nobody yet.
    let regions = [
        region(
            "centro",
            "Centro",
            &["centro", "fibra", "premium"],
            square(city, -0.3 * half, -0.3 * half, 0.3 * half, 0.3 * half),
        ),
        region(
            "norte",
            "Zona Norte",
            &["fibra"],
            square(city, 0.3 * half, -0.6 * half, half + 50.0, half + 50.0),
        ),
        region(
            "sul",
            "Zona Sul",
            &["fibra"],
            square(city, -half - 50.0, -0.6 * half, -0.3 * half, half + 50.0),
        ),
        region(
            "leste",
            "Leste premium",
            &["premium"],
            square(city, -0.3 * half, 0.3 * half, 0.3 * half, half + 50.0),
        ),
    ];
    out.regions = regions
        .into_iter()
        .enumerate()
        .map(|(i, r)| (first + i, r))
        .collect();
    out
}

/// A country-sized network for benchmarks: `boxes` boxes, three quarters in cities of
/// various sizes (dense), the rest spread over the countryside (sparse). Each city has a
/// `fibra` region and a `centro` core.
pub fn clustered_network(boxes: usize, seed: u64) -> ImportBatch {
    let mut rng = StdRng::seed_from_u64(seed);
    let cities: Vec<(f64, f64, f64, f64)> = (0..40)
        .map(|i| {
            let lat = rng.random_range(-30.0..-5.0);
            let lon = rng.random_range(-55.0..-35.0);
            let sigma_m = rng.random_range(2_000.0..8_000.0);
            (lat, lon, sigma_m, 1.0 / (i as f64 + 1.0))
        })
        .collect();
    let total_weight: f64 = cities.iter().map(|c| c.3).sum();
    let mut out = ImportBatch::default();
    for n in 0..boxes {
        let (lat, lon) = if rng.random_bool(0.75) {
            let mut pick = rng.random_range(0.0..total_weight);
            let city = cities.iter().find(|c| {
                pick -= c.3;
                pick <= 0.0
            });
            let (clat, clon, sigma, _) = *city.unwrap_or(&cities[0]);
            // Box-Muller: normal offsets in metres.
            let (u1, u2): (f64, f64) = (rng.random_range(1e-9..1.0), rng.random_range(0.0..1.0));
            let r = sigma * (-2.0 * u1.ln()).sqrt();
            let (s, c) = (2.0 * std::f64::consts::PI * u2).sin_cos();
            let centre = City {
                project: "",
                name: "",
                lat: clat,
                lon: clon,
            };
            offset(&centre, r * s, r * c)
        } else {
            (
                rng.random_range(-30.0..-5.0),
                rng.random_range(-55.0..-35.0),
            )
        };
        let status = match rng.random_range(0..100) {
            0..85 => BoxStatus::Deployed,
            85..95 => BoxStatus::InProject,
            _ => BoxStatus::OutOfService,
        };
        let id = format!("BX-{n:08}");
        let total = if rng.random_bool(0.5) { 8 } else { 16 };
        let used = if rng.random_bool(0.2) {
            total
        } else {
            rng.random_range(0..total)
        };
        out.boxes.push((
            n,
            NetBox {
                name: format!("CTO {n}"),
                splitters: vec![Splitter {
                    id: format!("{id}-S1"),
                    kind: SplitterKind::Attendance,
                    ports: Ports::with_used_count(total, used).expect("used within ports"),
                }],
                id,
                status,
                location: Coord::parse(lat, lon).expect("inside Brazil"),
            },
        ));
    }
    for (i, (lat, lon, sigma, _)) in cities.iter().enumerate() {
        let centre = City {
            project: "",
            name: "",
            lat: *lat,
            lon: *lon,
        };
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect();
        out.regions.push((
            boxes + 2 * i,
            Region {
                id: format!("city-{i}"),
                name: format!("City {i}"),
                tags: tags(&["fibra"]),
                area: square(
                    &centre,
                    -2.0 * sigma,
                    -2.0 * sigma,
                    2.0 * sigma,
                    2.0 * sigma,
                ),
            },
        ));
        out.regions.push((
            boxes + 2 * i + 1,
            Region {
                id: format!("centro-{i}"),
                name: format!("Centro {i}"),
                tags: tags(&["centro", "premium"]),
                area: square(
                    &centre,
                    -0.5 * sigma,
                    -0.5 * sigma,
                    0.5 * sigma,
                    0.5 * sigma,
                ),
            },
        ));
    }
    out
}

/// The demo's partner integration (created on first run) and a new secret and publishable
/// key of it, for a page served at `http://localhost:{port}`.
pub async fn partner_keys(
    store: &crate::store::Store,
    port: u16,
) -> anyhow::Result<(String, String)> {
    use crate::service::integrations::{IntegrationError, create, issue_key};
    let partner = serde_json::json!({
        "id": "demo-partner", "name": "Demo partner", "projects": ["*"],
        "modules": ["feasibility", "reservations"],
        "contacts": {"alert": ["alerts@partner.example"], "emergency": ["+5511999990000"],
            "technical": ["dev@partner.example"], "operational": ["ops@partner.example"],
            "operational_public": "support@partner.example"},
        "support_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00",
            "to": "18:00", "time_zone": "America/Sao_Paulo"}]});
    match create(store, &serde_json::from_value(partner)?).await {
        Ok(_) | Err(IntegrationError::Store(crate::store::StoreError::AlreadyExists)) => {}
        Err(e) => anyhow::bail!("cannot create the demo partner: {e:?}"),
    }
    let issue = |body: serde_json::Value| async move {
        issue_key(store, "demo-partner", &serde_json::from_value(body)?)
            .await
            .map_err(|e| anyhow::anyhow!("cannot issue a demo key: {e:?}"))?
            .key
            .ok_or_else(|| anyhow::anyhow!("an issued key is shown"))
    };
    let secret = issue(serde_json::json!({"name": "demo"})).await?;
    let publishable = issue(
        serde_json::json!({"name": "demo page", "kind": "publishable",
        "allowed_origins": [format!("http://localhost:{port}")]}),
    )
    .await?;
    Ok((secret, publishable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_network_has_the_size_and_mix_asked_for() {
        let batch = network(&CITIES[0], 3000, 1);
        assert_eq!(batch.boxes.len(), 3000);
        let deployed = batch
            .boxes
            .iter()
            .filter(|(_, b)| b.status == BoxStatus::Deployed)
            .count();
        assert!((2300..2800).contains(&deployed), "{deployed} deployed");
        assert!(
            batch
                .boxes
                .iter()
                .any(|(_, b)| b.status == BoxStatus::OutOfService)
        );
        let mut ids: Vec<_> = batch.boxes.iter().map(|(_, b)| b.id.clone()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3000);
        assert_eq!(
            network(&CITIES[0], 3000, 1),
            batch,
            "the same seed gives the same network"
        );
    }
}
