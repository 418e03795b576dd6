//! The index: build time and query time on a clustered country-sized network, with the
//! region-tag and free-port filters on, at several sizes and radii; and bytes per box.
//!
//! `BENCH_SIZES=100000,1000000 cargo bench --bench index` (default 100000,1000000).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ftth_feasibility::demo::clustered_network;
use ftth_feasibility::domain::Coord;
use ftth_feasibility::domain::feasibility::ProjectScope;
use ftth_feasibility::domain::network::{free_ports, region_tags_at};
use ftth_feasibility::index::{Index, ProjectBuilder, Query};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn sizes() -> Vec<usize> {
    std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("BENCH_SIZES: comma-separated counts")
        })
        .collect()
}

/// The project builder for a clustered network (region tags computed as an import would).
fn builder(n: usize) -> (ProjectBuilder, Vec<Coord>) {
    let batch = clustered_network(n, 42);
    let regions: Vec<_> = batch.regions.iter().map(|(_, r)| r.clone()).collect();
    let mut boxes: Vec<_> = batch.boxes.into_iter().map(|(_, b)| b).collect();
    boxes.sort_by(|a, b| a.id.cmp(&b.id));
    let mut builder = ProjectBuilder::new("bench");
    let mut points = Vec::with_capacity(n);
    for b in &boxes {
        builder.push_box(
            &b.id,
            &b.name,
            b.location,
            b.status,
            &region_tags_at(&regions, b.location),
        );
        for s in &b.splitters {
            builder.push_splitter(
                &s.id,
                free_ports(s.ports.total(), s.ports.used().len() as u32, 0),
            );
        }
        points.push(b.location);
    }
    (builder, points)
}

fn bench(c: &mut Criterion) {
    let tags = vec!["fibra".to_owned()];
    let scope = ProjectScope::All;
    for n in sizes() {
        let (b, points) = builder(n);
        let index = Index::new();
        index.replace_all(vec![b.build()]);
        // Counted from the index's own vectors and tree (capacities, not lengths).
        println!(
            "index of {n} boxes: {:.1} bytes/box",
            index.memory_bytes() as f64 / n as f64
        );
        // Addresses near the plant: box positions, shifted ~30 m.
        let queries: Vec<Coord> = points
            .iter()
            .step_by((n / 1000).max(1))
            .map(|p| Coord::parse(p.lat() + 0.0003, p.lon() - 0.0002).unwrap())
            .collect();
        // Criterion reports means of batches; the target is on single queries' median, so
        // time each query of a pass over the addresses on its own too.
        for radius in [250.0, 1000.0, 5000.0] {
            let mut times: Vec<Duration> = (0..20)
                .flat_map(|_| &queries)
                .map(|&at| {
                    let q = Query {
                        at,
                        radius_m: radius,
                        tags: &tags,
                        scope: &scope,
                        limit: 5,
                    };
                    let started = Instant::now();
                    black_box(index.query(black_box(&q)));
                    started.elapsed()
                })
                .collect();
            times.sort_unstable();
            let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
            println!(
                "query/{n}/{radius}: single queries p50 {:.2} µs, p99 {:.2} µs ({} queries)",
                at(0.5),
                at(0.99),
                times.len()
            );
        }
        let mut group = c.benchmark_group(format!("query/{n}"));
        for radius in [250.0, 1000.0, 5000.0] {
            group.bench_with_input(
                BenchmarkId::from_parameter(radius),
                &radius,
                |bench, &radius| {
                    let mut i = 0;
                    bench.iter(|| {
                        i = (i + 1) % queries.len();
                        black_box(index.query(&Query {
                            at: queries[i],
                            radius_m: radius,
                            tags: &tags,
                            scope: &scope,
                            limit: 5,
                        }))
                    });
                },
            );
        }
        group.finish();
        let mut group = c.benchmark_group("build");
        group.sample_size(10);
        group.bench_function(BenchmarkId::from_parameter(n), |bench| {
            bench.iter_batched(
                || builder(n).0,
                |b| black_box(b.build()),
                criterion::BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
