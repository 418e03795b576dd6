//! A state-machine test: random sequences of create / confirm / cancel / complete / expire /
//! import against a simple model. After every step the store and the index agree with the
//! model: holds are the live reservations, free ports never go below zero, no port is held
//! twice. Runs on SQLite and on PostgreSQL (`TEST_DATABASE_URL`).

use ftth_feasibility::auth::TokenKeys;
use ftth_feasibility::domain::Coord;
use ftth_feasibility::domain::feasibility::{FeasibilityRequest, ProjectScope};
use ftth_feasibility::domain::import::{ImportBatch, ImportMode};
use ftth_feasibility::domain::network::{BoxStatus, NetBox, Ports, Splitter, SplitterKind};
use ftth_feasibility::domain::reservation::{ReservationRequest, Transition};
use ftth_feasibility::domain::settings::Settings;
use ftth_feasibility::service::App;
use ftth_feasibility::store::{PoolOptions, Store, TransitionError};
use proptest::prelude::*;

mod common;

use common::pg_schema;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Create(usize),
    Move(usize, Transition),
    Expire(usize),
    Import(usize, usize, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize).prop_map(Op::Create),
        1 => (0..40usize).prop_map(|i| Op::Move(i, Transition::Confirm)),
        1 => (0..40usize).prop_map(|i| Op::Move(i, Transition::Cancel)),
        1 => (0..40usize).prop_map(|i| Op::Move(i, Transition::Complete)),
        1 => (0..40usize).prop_map(Op::Expire),
        1 => (0..3usize, 0..2usize, 0..=4u32).prop_map(|(b, s, u)| Op::Import(b, s, u)),
    ]
}

/// The model: splitters (ports and occupied port numbers) and reservations.
#[derive(Debug, Clone)]
struct Model {
    /// (box, splitter) → (ports, used port numbers), splitters in id order per box.
    splitters: BTreeMap<(usize, usize), (u32, Vec<u32>)>,
    deployed: [bool; 3],
    /// id, (box, splitter), port, status
    reservations: Vec<(String, (usize, usize), u32, &'static str)>,
}

impl Model {
    fn holds(&self, key: (usize, usize)) -> Vec<u32> {
        self.reservations
            .iter()
            .filter(|r| r.1 == key && matches!(r.3, "pending" | "confirmed"))
            .map(|r| r.2)
            .collect()
    }

    fn free(&self, key: (usize, usize)) -> u32 {
        let (ports, used) = &self.splitters[&key];
        ports
            .saturating_sub(used.len() as u32)
            .saturating_sub(self.holds(key).len() as u32)
    }

    /// Where the next hold on a box goes, if anywhere.
    fn next_port(&self, b: usize) -> Option<((usize, usize), u32)> {
        if !self.deployed[b] {
            return None;
        }
        for (&key, (ports, used)) in self.splitters.range((b, 0)..(b + 1, 0)) {
            if self.free(key) == 0 {
                continue;
            }
            let held = self.holds(key);
            if let Some(p) = (1..=*ports).find(|p| !used.contains(p) && !held.contains(p)) {
                return Some((key, p));
            }
        }
        None
    }
}

fn box_id(b: usize) -> String {
    format!("M-{b}")
}

fn splitter_id(b: usize, s: usize) -> String {
    format!("M-{b}-S{s}")
}

fn at(b: usize) -> Coord {
    Coord::parse(-23.55 + b as f64 * 0.0001, -46.63).unwrap()
}

fn batch(model: &Model, only: Option<usize>) -> ImportBatch {
    let mut out = ImportBatch::default();
    for b in 0..3 {
        if only.is_some_and(|o| o != b) {
            continue;
        }
        let splitters = model
            .splitters
            .range((b, 0)..(b + 1, 0))
            .map(|(&(_, s), (ports, used))| Splitter {
                id: splitter_id(b, s),
                kind: SplitterKind::Attendance,
                ports: Ports::with_used_ports(*ports, used).unwrap(),
            })
            .collect();
        let status = if model.deployed[b] {
            BoxStatus::Deployed
        } else {
            BoxStatus::InProject
        };
        out.boxes.push((
            b,
            NetBox {
                id: box_id(b),
                name: box_id(b),
                status,
                location: at(b),
                splitters,
            },
        ));
    }
    out
}

async fn check(app: &App, model: &Model) {
    for (&(b, s), (ports, _)) in &model.splitters {
        let detail = app.store.box_detail(&box_id(b)).await.unwrap();
        let sd = detail
            .splitters
            .iter()
            .find(|x| x.id == splitter_id(b, s))
            .unwrap();
        assert_eq!(
            sd.holds as usize,
            model.holds((b, s)).len(),
            "holds of {}",
            sd.id
        );
        assert_eq!(sd.free, model.free((b, s)), "free of {}", sd.id);
        assert!(sd.used + sd.holds <= *ports || sd.free == 0);
    }
    // The index agrees (what feasibility shows).
    for b in 0..3 {
        let req = FeasibilityRequest {
            lat: Some(at(b).lat()),
            lon: Some(at(b).lon()),
            radius_m: Some(1.0),
            ..Default::default()
        };
        let out = app.feasibility(&req, &ProjectScope::All).unwrap();
        let shown: u32 = out
            .answer
            .candidates
            .iter()
            .filter(|c| c.box_id() == box_id(b))
            .map(|c| c.free_ports)
            .sum();
        let expected: u32 = if model.deployed[b] {
            model
                .splitters
                .range((b, 0)..(b + 1, 0))
                .map(|(k, _)| model.free(*k))
                .sum()
        } else {
            0
        };
        assert_eq!(shown, expected, "index free ports of box {b}");
    }
    // No port held twice.
    let mut live: Vec<_> = model
        .reservations
        .iter()
        .filter(|r| matches!(r.3, "pending" | "confirmed"))
        .map(|r| (r.1, r.2))
        .collect();
    let n = live.len();
    live.sort();
    live.dedup();
    assert_eq!(live.len(), n);
}

async fn run(url: String, ops: Vec<Op>, initial: Vec<(u32, u32)>) {
    let store = Store::connect(&url, PoolOptions::default()).await.unwrap();
    let url = url.as_str();
    let app = App::start(
        store,
        TokenKeys::hs256(b"model-test-secret-0123456789"),
        &Settings::default(),
    )
    .await
    .unwrap();
    let mut model = Model {
        splitters: BTreeMap::new(),
        deployed: [true, true, false],
        reservations: Vec::new(),
    };
    for (i, (ports, used)) in initial.into_iter().enumerate() {
        let used = used.min(ports);
        model
            .splitters
            .insert((i / 2, i % 2), (ports, (1..=used).collect()));
    }
    app.import("m", &batch(&model, None), ImportMode::Upsert)
        .await
        .unwrap();
    check(&app, &model).await;
    for op in ops {
        match op {
            Op::Create(b) => {
                let req: ReservationRequest = serde_json::from_value(serde_json::json!({
                    "lat": at(b).lat(), "lon": at(b).lon(), "radius_m": 50, "box_id": box_id(b),
                    "address": "Rua Modelo 1", "customer": {"name": "Model"}}))
                .unwrap();
                let got = app.reserve(&req, "model", &ProjectScope::All, None).await;
                match (model.next_port(b), got) {
                    (Some((key, port)), Ok(r)) => {
                        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                        assert_eq!(
                            (
                                v["splitter_id"].as_str().unwrap(),
                                v["port"].as_u64().unwrap()
                            ),
                            (splitter_id(key.0, key.1).as_str(), u64::from(port))
                        );
                        model.reservations.push((
                            v["id"].as_str().unwrap().to_owned(),
                            key,
                            port,
                            "pending",
                        ));
                    }
                    (None, Err(_)) => {}
                    (expected, got) => {
                        panic!("create on box {b}: model {expected:?}, service {got:?}")
                    }
                }
            }
            Op::Move(i, t) if !model.reservations.is_empty() => {
                let i = i % model.reservations.len();
                let from = model.reservations[i].3;
                let expected = match (t, from) {
                    (Transition::Confirm, "pending" | "confirmed") => Some("confirmed"),
                    (Transition::Cancel, "pending" | "confirmed") => Some("cancelled"),
                    (Transition::Complete, "confirmed") => Some("installed"),
                    _ => None,
                };
                let got = app
                    .transition(&model.reservations[i].0.clone(), t, None)
                    .await;
                match (expected, got) {
                    (Some(status), Ok(r)) => {
                        assert_eq!(r.status.as_str(), status);
                        model.reservations[i].3 = status;
                        if status == "installed" {
                            let (key, port) = (model.reservations[i].1, model.reservations[i].2);
                            let (ports, used) = model.splitters.get_mut(&key).unwrap();
                            if !used.contains(&port) && port <= *ports {
                                used.push(port);
                                used.sort();
                            }
                        }
                    }
                    (None, Err(TransitionError::Invalid { .. })) => {}
                    (e, g) => panic!("{t:?} from {from}: model {e:?}, service {g:?}"),
                }
            }
            Op::Expire(i) if !model.reservations.is_empty() => {
                let i = i % model.reservations.len();
                // Time passes for this reservation only.
                backdate(url, &model.reservations[i].0).await;
                app.expire_overdue().await.unwrap();
                if model.reservations[i].3 == "pending" {
                    model.reservations[i].3 = "expired";
                }
                let r = app
                    .store
                    .reservation(&model.reservations[i].0, false)
                    .await
                    .unwrap();
                assert_eq!(r.status.as_str(), model.reservations[i].3);
                if r.status.as_str() == "expired" {
                    assert!(r.customer.is_none() && r.address.is_none());
                }
            }
            Op::Import(b, s, used) => {
                if let Some((ports, u)) = model.splitters.get_mut(&(b, s)) {
                    *u = (1..=used.min(*ports)).collect();
                    app.import("m", &batch(&model, Some(b)), ImportMode::Upsert)
                        .await
                        .unwrap();
                }
            }
            Op::Move(..) | Op::Expire(_) => {}
        }
        check(&app, &model).await;
    }
    app.store.close().await;
}

/// Moves a reservation's expiry into the past, straight in the database.
async fn backdate(url: &str, id: &str) {
    let sql = "UPDATE reservations SET expires_at = 0 WHERE id = $1 AND status = 'pending'";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).bind(id).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn holds_always_match_the_model(
        ops in prop::collection::vec(op(), 1..40),
        initial in prop::collection::vec((1..=4u32, 0..=4u32), 6),
    ) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        rt.block_on(run(format!("sqlite://{}/model.db", dir.path().display()), ops.clone(), initial.clone()));
        if let Some(schema) = rt.block_on(pg_schema("model")) {
            rt.block_on(run(schema.url.clone(), ops, initial));
        }
    }
}
