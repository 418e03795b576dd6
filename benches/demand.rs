//! What counting one answer as demand costs: its H3 cell, and the increment in this
//! thread's shard (the answer path's whole share of demand counting).
//!
//! `cargo bench --bench demand`

use criterion::{Criterion, criterion_group, criterion_main};
use ftth_feasibility::domain::Coord;
use ftth_feasibility::domain::demand::{Outcome, cell_of};
use ftth_feasibility::domain::feasibility::Reason;
use ftth_feasibility::service::demand::DemandCounter;
use std::hint::black_box;

/// 1,000 points around São Paulo, over some hundred resolution-9 cells.
fn points() -> Vec<Coord> {
    (0..1000)
        .map(|i| {
            let f = f64::from(i);
            Coord::parse(
                -23.55 + (f * 0.618).fract() * 0.05,
                -46.63 + (f * 0.414).fract() * 0.05,
            )
            .unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pts = points();
    let mut n = 0;
    c.bench_function("demand/cell_of", |b| {
        b.iter(|| {
            n = (n + 1) % pts.len();
            black_box(cell_of(black_box(pts[n])))
        })
    });
    let counter = DemandCounter::default();
    let outcomes = [Outcome(None), Outcome(Some(Reason::NoCoverage))];
    c.bench_function("demand/count", |b| {
        b.iter(|| {
            n = (n + 1) % pts.len();
            counter.count(black_box(pts[n]), Some("fibra-600"), outcomes[n % 2]);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
