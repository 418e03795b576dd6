//! Hold writers on connections of their own (as writer lanes of different replicas are)
//! racing for one box's ports, all at once: every port is held once, no hold is refused
//! while a port is free, and none fails. On PostgreSQL nothing locks the ports a writer
//! chooses, so writers meet at the unique index and the losers read the box again. Runs on
//! SQLite and on PostgreSQL (`TEST_DATABASE_URL`).

use ftth_feasibility::domain::import::{ImportBatch, ImportMode};
use ftth_feasibility::domain::network::{BoxStatus, NetBox, Ports, Splitter, SplitterKind};
use ftth_feasibility::domain::reservation::{Customer, Location};
use ftth_feasibility::store::{HoldOutcome, NewHold, PoolOptions, Store};
use std::collections::HashSet;
use std::sync::Arc;

mod common;

const WRITERS: usize = 8;
const HOLDS_PER_WRITER: usize = 3;
/// Two splitters of 5 ports, one port of the second already used in the plant.
const FREE: usize = 9;

fn plant() -> ImportBatch {
    let splitter = |id: &str, used: &[u32]| Splitter {
        id: id.into(),
        kind: SplitterKind::Attendance,
        ports: Ports::with_used_ports(5, used).unwrap(),
    };
    let mut batch = ImportBatch::default();
    batch.boxes.push((
        0,
        NetBox {
            id: "RACE-1".into(),
            name: "RACE-1".into(),
            status: BoxStatus::Deployed,
            location: ftth_feasibility::domain::Coord::parse(-23.55, -46.63).unwrap(),
            splitters: vec![splitter("RACE-1-A", &[]), splitter("RACE-1-B", &[2])],
        },
    ));
    batch.boxes.push((
        1,
        NetBox {
            id: "WARM-1".into(),
            name: "WARM-1".into(),
            status: BoxStatus::Deployed,
            location: ftth_feasibility::domain::Coord::parse(-23.56, -46.63).unwrap(),
            splitters: vec![Splitter {
                id: "WARM-1-A".into(),
                kind: SplitterKind::Attendance,
                ports: Ports::with_used_ports(16, &[]).unwrap(),
            }],
        },
    ));
    batch
}

fn hold(box_id: &str, n: usize) -> NewHold {
    NewHold {
        project: "race".into(),
        box_id: box_id.into(),
        distance_m: 1.0,
        plan_id: None,
        tags: Vec::new(),
        location: Location {
            lat: -23.55,
            lon: -46.63,
        },
        address: format!("Rua {n}"),
        customer: Customer {
            name: format!("Customer {n}"),
            phone: None,
            email: None,
        },
        external_ref: None,
        created_by: "race".into(),
        ttl_s: 3600,
        idempotency: None,
    }
}

async fn race(url: &str) {
    let store = Store::connect(url, PoolOptions::default()).await.unwrap();
    store
        .import("race", &plant(), ImportMode::Upsert)
        .await
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (mut writer, start) = (store.hold_writer(Default::default()), start.clone());
        tasks.push(tokio::spawn(async move {
            let holds: Vec<NewHold> = (0..HOLDS_PER_WRITER)
                .map(|h| hold("RACE-1", w * HOLDS_PER_WRITER + h))
                .collect();
            // A hold on another box first opens the writer's connection, so that the race
            // starts level.
            writer.hold_many(&[hold("WARM-1", 100 + w)]).await.unwrap();
            start.wait().await;
            writer.hold_many(&holds).await
        }));
    }
    let mut held = HashSet::new();
    let mut refused = 0;
    for t in tasks {
        let batch = t.await.unwrap().expect("no writer fails");
        for outcome in batch.outcomes {
            match outcome {
                HoldOutcome::Created(r) => {
                    assert!(
                        held.insert((r.splitter_id.clone(), r.port)),
                        "port held twice: {} {}",
                        r.splitter_id,
                        r.port
                    );
                    assert!(!(r.splitter_id == "RACE-1-B" && r.port == 2), "a used port");
                }
                HoldOutcome::NoFreePort => refused += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(held.len(), FREE, "every free port is held");
    assert_eq!(refused, WRITERS * HOLDS_PER_WRITER - FREE);
    let detail = store.box_detail("RACE-1").await.unwrap();
    assert!(detail.splitters.iter().all(|s| s.free == 0), "{detail:?}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_for_one_box_hold_each_port_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    race(&format!("sqlite://{}/race.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_for_one_box_hold_each_port_once_on_postgres() {
    let Some(schema) = common::pg_schema("race").await else {
        return;
    };
    race(&schema.url).await;
    drop(schema);
}
