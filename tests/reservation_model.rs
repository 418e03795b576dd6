//! A state-machine test: random sequences of create / confirm / cancel / complete / expire /
//! import against a simple model of the contract's port accounting. Imports change a
//! splitter's ports and used ports, so they mark held ports used, shrink splitters below
//! holds and installs, and catch up with installs. After every step the store and the index
//! agree with the model: each port is free, used, held or installed, displaced holds moved
//! where the model says, refused imports changed nothing, no port has two customers. Runs
//! on SQLite and on PostgreSQL (`TEST_DATABASE_URL`).

use ftth_feasibility::auth::TokenKeys;
use ftth_feasibility::domain::Coord;
use ftth_feasibility::domain::feasibility::{FeasibilityRequest, ProjectScope};
use ftth_feasibility::domain::import::{ImportBatch, ImportMode};
use ftth_feasibility::domain::network::{BoxStatus, NetBox, Ports, Splitter, SplitterKind};
use ftth_feasibility::domain::reservation::{ReservationRequest, Transition};
use ftth_feasibility::domain::settings::Settings;
use ftth_feasibility::service::App;
use ftth_feasibility::store::{PoolOptions, Store, StoreError, TransitionError};
use proptest::prelude::*;

mod common;

use common::pg_schema;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Create(usize),
    Move(usize, Transition),
    Expire(usize),
    /// Box, splitter, used ports (1..=used), total ports.
    Import(usize, usize, u32, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize).prop_map(Op::Create),
        1 => (0..40usize).prop_map(|i| Op::Move(i, Transition::Confirm)),
        1 => (0..40usize).prop_map(|i| Op::Move(i, Transition::Cancel)),
        1 => (0..40usize).prop_map(|i| Op::Move(i, Transition::Complete)),
        1 => (0..40usize).prop_map(Op::Expire),
        2 => (0..3usize, 0..2usize, 0..=4u32, 1..=4u32).prop_map(|(b, s, u, p)| Op::Import(b, s, u, p)),
    ]
}

/// The model: splitters (ports and occupied port numbers) and reservations.
#[derive(Debug, Clone)]
struct Model {
    /// (box, splitter) → (ports, used port numbers), splitters in id order per box.
    splitters: BTreeMap<(usize, usize), (u32, Vec<u32>)>,
    deployed: [bool; 3],
    /// In creation order.
    reservations: Vec<Res>,
}

#[derive(Debug, Clone)]
struct Res {
    id: String,
    at: (usize, usize),
    port: u32,
    status: &'static str,
    /// An install an import has shown used.
    inventory_confirmed: bool,
}

impl Res {
    fn occupies(&self) -> bool {
        matches!(self.status, "pending" | "confirmed")
            || (self.status == "installed" && !self.inventory_confirmed)
    }
}

impl Model {
    fn ports_where(&self, key: (usize, usize), status: &[&str]) -> Vec<u32> {
        let mut ports: Vec<u32> = self
            .reservations
            .iter()
            .filter(|r| r.at == key && r.occupies() && status.contains(&r.status))
            .map(|r| r.port)
            .collect();
        ports.sort();
        ports
    }

    fn holds(&self, key: (usize, usize)) -> Vec<u32> {
        self.ports_where(key, &["pending", "confirmed"])
    }

    fn occupied(&self, key: (usize, usize)) -> Vec<u32> {
        self.ports_where(key, &["pending", "confirmed", "installed"])
    }

    fn free(&self, key: (usize, usize)) -> u32 {
        let (ports, used) = &self.splitters[&key];
        (1..=*ports)
            .filter(|p| !used.contains(p) && !self.occupied(key).contains(p))
            .count() as u32
    }

    /// The contract's import of splitter `key` with `ports` and `used`: displaced holds
    /// move, oldest first, to the box's lowest free port; caught-up installs are
    /// confirmed. `None` when it must be refused (the model is then left as it was).
    fn imported(&self, key: (usize, usize), ports: u32, used: Vec<u32>) -> Option<Model> {
        let mut next = self.clone();
        next.splitters.insert(key, (ports, used));
        let exists = |m: &Model, at: (usize, usize), port: u32| {
            m.splitters.get(&at).is_some_and(|(p, _)| port <= *p)
        };
        let used_at = |m: &Model, at: (usize, usize), port: u32| m.splitters[&at].1.contains(&port);
        let mut displaced = Vec::new();
        for i in 0..next.reservations.len() {
            let r = next.reservations[i].clone();
            if r.at.0 != key.0 || !r.occupies() {
                continue;
            }
            let valid = exists(&next, r.at, r.port);
            if r.status == "installed" {
                if !valid {
                    return None;
                }
                if used_at(&next, r.at, r.port) {
                    next.reservations[i].inventory_confirmed = true;
                }
            } else if !valid || used_at(&next, r.at, r.port) {
                // Off its port until it finds another.
                next.reservations[i].port = 0;
                displaced.push(i);
            }
        }
        for i in displaced {
            let to = next.splitters.range((key.0, 0)..(key.0 + 1, 0)).find_map(
                |(&at, (ports, used))| {
                    let occupied = next.occupied(at);
                    (1..=*ports)
                        .find(|p| !used.contains(p) && !occupied.contains(p))
                        .map(|p| (at, p))
                },
            )?;
            next.reservations[i].at = to.0;
            next.reservations[i].port = to.1;
        }
        Some(next)
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
            let occupied = self.occupied(key);
            if let Some(p) = (1..=*ports).find(|p| !used.contains(p) && !occupied.contains(p)) {
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
        assert_eq!(
            sd.held_ports,
            model.holds((b, s)),
            "held ports of {}",
            sd.id
        );
        assert_eq!(
            sd.installed_ports,
            model.ports_where((b, s), &["installed"]),
            "installed ports of {}",
            sd.id
        );
        assert_eq!(sd.free, model.free((b, s)), "free of {}", sd.id);
        assert_eq!(sd.ports, *ports);
        // Each port in exactly one state.
        let mut states: Vec<u32> = sd.used_ports.clone();
        states.extend(&sd.held_ports);
        states.extend(&sd.installed_ports);
        let taken = states.len();
        states.sort();
        states.dedup();
        assert_eq!(states.len(), taken, "a port of {} in two states", sd.id);
        assert_eq!(taken as u32 + sd.free, sd.ports, "ports of {}", sd.id);
    }
    for r in &model.reservations {
        let stored = app.store.reservation(&r.id, false).await.unwrap();
        assert_eq!(stored.status.as_str(), r.status);
        assert_eq!(
            stored.inventory_confirmed_at.is_some(),
            r.inventory_confirmed
        );
        if r.occupies() {
            assert_eq!(
                (stored.splitter_id.as_str(), stored.port),
                (splitter_id(r.at.0, r.at.1).as_str(), r.port),
                "port of reservation {}",
                r.id
            );
        }
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
    // No port occupied twice.
    let mut live: Vec<_> = model
        .reservations
        .iter()
        .filter(|r| r.occupies())
        .map(|r| (r.at, r.port))
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
                        let r = r.reservation;
                        assert_eq!(
                            (r.splitter_id.as_str(), r.port),
                            (splitter_id(key.0, key.1).as_str(), port)
                        );
                        model.reservations.push(Res {
                            id: r.id,
                            at: key,
                            port,
                            status: "pending",
                            inventory_confirmed: false,
                        });
                    }
                    (None, Err(_)) => {}
                    (expected, got) => {
                        panic!("create on box {b}: model {expected:?}, service {got:?}")
                    }
                }
            }
            Op::Move(i, t) if !model.reservations.is_empty() => {
                let i = i % model.reservations.len();
                let from = model.reservations[i].status;
                let expected = match (t, from) {
                    (Transition::Confirm, "pending" | "confirmed") => Some("confirmed"),
                    (Transition::Cancel, "pending" | "confirmed") => Some("cancelled"),
                    (Transition::Complete, "confirmed") => Some("installed"),
                    _ => None,
                };
                let got = app
                    .transition(&model.reservations[i].id.clone(), t, None)
                    .await;
                match (expected, got) {
                    (Some(status), Ok(r)) => {
                        assert_eq!(r.status.as_str(), status);
                        // An install keeps occupying its port: the inventory is untouched.
                        model.reservations[i].status = status;
                    }
                    (None, Err(TransitionError::Invalid { .. })) => {}
                    (e, g) => panic!("{t:?} from {from}: model {e:?}, service {g:?}"),
                }
            }
            Op::Expire(i) if !model.reservations.is_empty() => {
                let i = i % model.reservations.len();
                // Time passes for this reservation only.
                backdate(url, &model.reservations[i].id).await;
                app.expire_overdue().await.unwrap();
                if model.reservations[i].status == "pending" {
                    model.reservations[i].status = "expired";
                }
                let r = app
                    .store
                    .reservation(&model.reservations[i].id, false)
                    .await
                    .unwrap();
                assert_eq!(r.status.as_str(), model.reservations[i].status);
                if r.status.as_str() == "expired" {
                    assert!(r.customer.is_none() && r.address.is_none());
                }
            }
            Op::Import(b, s, used, ports) => {
                if model.splitters.contains_key(&(b, s)) {
                    let used: Vec<u32> = (1..=used.min(ports)).collect();
                    let mut file = model.clone();
                    file.splitters.insert((b, s), (ports, used.clone()));
                    let got = app
                        .import("m", &batch(&file, Some(b)), ImportMode::Upsert)
                        .await;
                    match (model.imported((b, s), ports, used), got) {
                        (Some(next), Ok(outcome)) => {
                            let moved = next
                                .reservations
                                .iter()
                                .zip(&model.reservations)
                                .filter(|(n, o)| (n.at, n.port) != (o.at, o.port))
                                .count();
                            assert_eq!(outcome.moved.len(), moved, "moves listed");
                            model = next;
                        }
                        (None, Err(StoreError::PortsHeld { reservations, .. })) => {
                            assert!(!reservations.is_empty());
                        }
                        (expected, got) => panic!(
                            "import of {b}/{s} ({ports} ports): model {:?}, service {got:?}",
                            expected.map(|m| m.reservations)
                        ),
                    }
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
