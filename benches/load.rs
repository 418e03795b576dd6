//! Loading the index from the database: the start-up and post-import cost.
//!
//! `BENCH_LOAD_BOXES=1000000 cargo bench --bench load` (default 100000). Runs on SQLite, and
//! on PostgreSQL too when `TEST_DATABASE_URL` is set (a fresh schema is made and dropped).

use criterion::{Criterion, criterion_group, criterion_main};
use ftth_feasibility::demo::clustered_network;
use ftth_feasibility::domain::import::ImportMode;
use ftth_feasibility::store::{PoolOptions, Store};
use std::hint::black_box;
use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

fn boxes() -> usize {
    std::env::var("BENCH_LOAD_BOXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

async fn filled(url: &str, n: usize) -> Store {
    let store = Store::connect(url, PoolOptions::default())
        .await
        .expect("database");
    let started = Instant::now();
    store
        .import("bench", &clustered_network(n, 42), ImportMode::Upsert)
        .await
        .expect("import");
    println!(
        "{}: imported {n} boxes in {:.1} s",
        store.engine(),
        started.elapsed().as_secs_f64()
    );
    store
}

fn bench(c: &mut Criterion) {
    // `RUST_LOG=ftth_feasibility=debug` shows where an import's time goes.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let n = boxes();
    let dir = tempfile::tempdir().unwrap();
    let mut engines = vec![(
        "sqlite",
        format!("sqlite://{}/load.db", dir.path().display()),
    )];
    let schema = rt.block_on(common::pg_schema("bench"));
    if let Some(schema) = &schema {
        engines.push(("postgres", schema.url.clone()));
    }
    let mut group = c.benchmark_group(format!("load_index/{n}"));
    group.sample_size(10);
    for (engine, url) in &engines {
        let store = rt.block_on(filled(url, n));
        group.bench_function(*engine, |b| {
            b.iter(|| black_box(rt.block_on(store.load_index()).unwrap()))
        });
        rt.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
