//! The index against a brute-force reference: scan every box, geodesic distance, the four
//! stages. Random networks include points near the poles, across the antimeridian and at
//! exactly the radius. Distances are also checked against an independent algorithm
//! (Vincenty's inverse formula).

use ftth_feasibility::domain::Coord;
use ftth_feasibility::domain::feasibility::{ProjectScope, Reason, Stage};
use ftth_feasibility::domain::geodesy::{round_cm, within_radius};
use ftth_feasibility::domain::network::BoxStatus;
use ftth_feasibility::index::{Index, ProjectBuilder, Query};
use geo::{Destination, Geodesic, Point};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct TestBox {
    id: String,
    project: usize,
    at: Coord,
    status: BoxStatus,
    tags: Vec<String>,
    free: Vec<u32>,
}

const TAGS: [&str; 4] = ["a", "b", "c", "d"];

/// A query centre: anywhere, near a pole, or near the antimeridian.
fn centre() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        (-89.0..89.0f64, -180.0..180.0f64),
        (89.97..=90.0f64, -180.0..180.0f64),
        (-90.0..=-89.97f64, -180.0..180.0f64),
        (
            -60.0..60.0f64,
            prop_oneof![179.97..=180.0f64, -180.0..-179.97f64]
        ),
    ]
}

fn status() -> impl Strategy<Value = BoxStatus> {
    prop_oneof![
        6 => Just(BoxStatus::Deployed),
        1 => Just(BoxStatus::InProject),
        1 => Just(BoxStatus::OutOfService),
    ]
}

/// A box placed by bearing and distance (a fraction of the radius; 1.0 exactly on it).
fn placed_box() -> impl Strategy<Value = Placed> {
    (
        0.0..360.0f64,
        prop_oneof![3 => 0.0..1.6f64, 1 => Just(1.0)],
        0..3usize,
        status(),
        prop::collection::vec(any::<bool>(), 3),
        prop::collection::vec(prop_oneof![2 => Just(0u32), 3 => 1..4u32], 0..3),
    )
}

fn destination(from: (f64, f64), bearing: f64, metres: f64) -> Coord {
    let p = Geodesic.destination(Point::new(from.1, from.0), bearing, metres);
    let lon = if p.x() > 180.0 {
        p.x() - 360.0
    } else if p.x() < -180.0 {
        p.x() + 360.0
    } else {
        p.x()
    };
    Coord::parse(p.y().clamp(-90.0, 90.0), lon).unwrap()
}

fn brute_force(
    boxes: &[TestBox],
    at: Coord,
    radius: f64,
    tags: &[String],
    scope: &ProjectScope,
    limit: usize,
) -> (Option<Reason>, Vec<(String, f64)>) {
    let mut furthest = None;
    let mut found = Vec::new();
    for b in boxes
        .iter()
        .filter(|b| scope.allows(&format!("p{}", b.project)))
    {
        let d = at.distance_m(b.at);
        if !within_radius(d, radius) {
            continue;
        }
        let stage = if b.status != BoxStatus::Deployed {
            Stage::InRadius
        } else if !tags.is_empty() && !b.tags.iter().any(|t| tags.contains(t)) {
            Stage::Deployed
        } else if b.free.iter().all(|f| *f == 0) {
            Stage::InPlanRegion
        } else {
            Stage::Candidate
        };
        furthest = furthest.max(Some(stage));
        if stage == Stage::Candidate {
            found.push((b.id.clone(), round_cm(d)));
        }
    }
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    found.truncate(limit);
    (Reason::from_furthest(furthest), found)
}

type Placed = (f64, f64, usize, BoxStatus, Vec<bool>, Vec<u32>);

/// Places the boxes around `centre`, then asks the index and a full scan the same question.
fn answers_as_a_full_scan(
    centre: (f64, f64),
    radius: f64,
    placed: &[Placed],
    query_tags: &[bool],
    scope: &ProjectScope,
    limit: usize,
    id: impl Fn(usize) -> String,
) -> Result<(), TestCaseError> {
    let on = |flags: &[bool]| -> Vec<String> {
        TAGS.iter()
            .zip(flags)
            .filter(|(_, on)| **on)
            .map(|(t, _)| t.to_string())
            .collect()
    };
    let boxes: Vec<TestBox> = placed
        .iter()
        .enumerate()
        .map(
            |(i, (bearing, fraction, project, status, tags, free))| TestBox {
                id: id(i),
                project: *project,
                at: destination(centre, *bearing, fraction * radius),
                status: *status,
                tags: on(tags),
                free: free.clone(),
            },
        )
        .collect();
    let tags = on(query_tags);
    let at = Coord::parse(centre.0, centre.1).unwrap();
    let index = build_index(&boxes);
    let answer = index.query(&Query {
        at,
        radius_m: radius,
        tags: &tags,
        scope,
        limit,
    });
    let (reason, expected) = brute_force(&boxes, at, radius, &tags, scope, limit);
    prop_assert_eq!(answer.reason, reason);
    // The one-walk summary of `POST /check` gives every set of tags the same reason.
    let coverage = index.coverage(at, radius, scope);
    prop_assert_eq!(Reason::from_furthest(coverage.furthest(&tags)), reason);
    let got: Vec<(String, f64)> = answer
        .candidates
        .iter()
        .map(|c| (c.box_id().to_owned(), c.distance_m))
        .collect();
    prop_assert_eq!(got, expected);
    Ok(())
}

fn build_index(boxes: &[TestBox]) -> Index {
    let mut sorted: Vec<&TestBox> = boxes.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    let projects = (0..3)
        .map(|p| {
            let mut builder = ProjectBuilder::new(&format!("p{p}"));
            for b in sorted.iter().filter(|b| b.project == p) {
                builder.push_box(&b.id, &b.id, b.at, b.status, &b.tags);
                for (i, free) in b.free.iter().enumerate() {
                    builder.push_splitter(&format!("{}-S{i}", b.id), *free);
                }
            }
            builder.build()
        })
        .collect();
    let index = Index::new();
    index.replace_all(projects);
    index
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_index_answers_as_a_full_scan_does(
        centre in centre(),
        radius in prop_oneof![1.0..300.0f64, 300.0..3000.0f64],
        placed in prop::collection::vec(placed_box(), 0..60),
        query_tags in prop::collection::vec(any::<bool>(), 4),
        scope_pick in 0..4usize,
        limit in 1..8usize,
    ) {
        let scope = match scope_pick {
            0 => ProjectScope::All,
            n => ProjectScope::Only((0..n).map(|p| format!("p{p}")).collect()),
        };
        // Ids whose order differs from their placement order.
        let id = |i: usize| format!("BX-{:03}", (i * 37) % 101);
        answers_as_a_full_scan(centre, radius, &placed, &query_tags, &scope, limit, id)?;
    }

    #[test]
    fn geodesic_distances_agree_with_vincenty_to_a_centimetre(
        from in centre(),
        bearing in 0.0..360.0f64,
        metres in 0.0..100_000.0f64,
    ) {
        let a = Coord::parse(from.0, from.1).unwrap();
        let b = destination(from, bearing, metres);
        if let Some(v) = vincenty(a, b) {
            let k = a.distance_m(b);
            prop_assert!((k - v).abs() < 0.01, "karney {} vincenty {}", k, v);
            prop_assert!((k - metres).abs() < 0.01 || b.lat().abs() >= 90.0, "karney {} asked {}", k, metres);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_deep_index_answers_as_a_full_scan_does(
        centre in centre(),
        radius in 50.0..2000.0f64,
        placed in prop::collection::vec(placed_box(), 1000..3000),
        query_tags in prop::collection::vec(any::<bool>(), 4),
        limit in 1..50usize,
    ) {
        // Thousands of boxes in one radius: several tree levels above the buckets.
        let id = |i: usize| format!("BX-{:05}", (i * 7919) % 10007);
        answers_as_a_full_scan(centre, radius, &placed, &query_tags, &ProjectScope::All, limit, id)?;
    }
}

/// Vincenty's inverse formula on WGS84 (an independent algorithm; `None` when it does not
/// converge, which happens only for nearly antipodal points).
fn vincenty(p: Coord, q: Coord) -> Option<f64> {
    let a = 6_378_137.0f64;
    let f = 1.0 / 298.257_223_563;
    let b = a * (1.0 - f);
    let l = (q.lon() - p.lon()).to_radians();
    let u1 = ((1.0 - f) * p.lat().to_radians().tan()).atan();
    let u2 = ((1.0 - f) * q.lat().to_radians().tan()).atan();
    let (sin_u1, cos_u1) = u1.sin_cos();
    let (sin_u2, cos_u2) = u2.sin_cos();
    let mut lambda = l;
    for _ in 0..1000 {
        let (sin_l, cos_l) = lambda.sin_cos();
        let sin_sigma =
            ((cos_u2 * sin_l).powi(2) + (cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_l).powi(2)).sqrt();
        if sin_sigma == 0.0 {
            return Some(0.0);
        }
        let cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_l;
        let sigma = sin_sigma.atan2(cos_sigma);
        let sin_alpha = cos_u1 * cos_u2 * sin_l / sin_sigma;
        let cos2_alpha = 1.0 - sin_alpha * sin_alpha;
        let cos_2sm = if cos2_alpha == 0.0 {
            0.0
        } else {
            cos_sigma - 2.0 * sin_u1 * sin_u2 / cos2_alpha
        };
        let c = f / 16.0 * cos2_alpha * (4.0 + f * (4.0 - 3.0 * cos2_alpha));
        let prev = lambda;
        lambda = l
            + (1.0 - c)
                * f
                * sin_alpha
                * (sigma
                    + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm)));
        if (lambda - prev).abs() < 1e-12 {
            let u_sq = cos2_alpha * (a * a - b * b) / (b * b);
            let big_a =
                1.0 + u_sq / 16384.0 * (4096.0 + u_sq * (-768.0 + u_sq * (320.0 - 175.0 * u_sq)));
            let big_b = u_sq / 1024.0 * (256.0 + u_sq * (-128.0 + u_sq * (74.0 - 47.0 * u_sq)));
            let delta_sigma = big_b
                * sin_sigma
                * (cos_2sm
                    + big_b / 4.0
                        * (cos_sigma * (-1.0 + 2.0 * cos_2sm * cos_2sm)
                            - big_b / 6.0
                                * cos_2sm
                                * (-3.0 + 4.0 * sin_sigma * sin_sigma)
                                * (-3.0 + 4.0 * cos_2sm * cos_2sm)));
            return Some(b * big_a * (sigma - delta_sigma));
        }
    }
    None
}

#[test]
fn vincenty_matches_a_known_distance() {
    // Flinders Peak to Buninyong (Vincenty 1975): 54 972.271 m.
    let p = Coord::parse(
        -(37.0 + 57.0 / 60.0 + 3.72030 / 3600.0),
        144.0 + 25.0 / 60.0 + 29.52440 / 3600.0,
    )
    .unwrap();
    let q = Coord::parse(
        -(37.0 + 39.0 / 60.0 + 10.15610 / 3600.0),
        143.0 + 55.0 / 60.0 + 35.38390 / 3600.0,
    )
    .unwrap();
    assert!((vincenty(p, q).unwrap() - 54_972.271).abs() < 0.001);
    assert!((p.distance_m(q) - 54_972.271).abs() < 0.001);
}
