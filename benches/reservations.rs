//! Durable reservations per second with concurrent clients, and `/feasibility` latency while
//! they run. Starts the real service in-process on SQLite (and PostgreSQL when
//! `TEST_DATABASE_URL` is set) with a network of many free ports.
//!
//! Each engine runs twice: without a webhook, then with one subscribed to every event (an
//! in-process receiver answering 204), so the outbox's and the deliveries' cost on the
//! write path shows as a ratio of one run.
//!
//! `cargo bench --bench reservations` (10 s per engine and run, 8 clients);
//! `BENCH_SECONDS`, `BENCH_CLIENTS` change that. Under `cargo test` it runs a 1 s smoke.

use ftth_feasibility::auth::{Scope, TokenKeys};
use ftth_feasibility::config::{Config, Secret};
use ftth_feasibility::demo::{CITIES, network};
use ftth_feasibility::domain::import::ImportMode;
use ftth_feasibility::startup::Application;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

const SECRET: &str = "bench-secret-0123456789abcdefghij";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A webhook receiver in this process: 204 to everything, counting what it got.
fn receiver(got: Arc<AtomicUsize>) -> (u16, actix_web::dev::ServerHandle) {
    let server = actix_web::HttpServer::new(move || {
        let got = got.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            got.fetch_add(1, Ordering::Relaxed);
            async { actix_web::HttpResponse::NoContent().finish() }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (port, handle)
}

/// Subscribes an integration that manages reservations to every event, at `port`.
async fn subscribe(client: &reqwest::Client, base: &str, token: &str, port: u16) {
    let integration = json!({"id": "bench", "name": "Bench", "projects": ["*"],
        "modules": ["reservations_manage"],
        "contacts": {"alert": ["a@b.example"], "emergency": ["+5511999990000"],
            "technical": ["t@b.example"], "operational": ["o@b.example"],
            "operational_public": "s@b.example"},
        "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]});
    for (path, body) in [
        ("/integrations".to_owned(), integration),
        (
            "/integrations/bench/webhooks".to_owned(),
            json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["*"]}),
        ),
    ] {
        let r = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
}

/// One run; its durable reservations per second.
async fn measure(engine: &str, url: String, seconds: u64, clients: usize, webhook: bool) -> f64 {
    let config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: url,
        jwt_secret: Some(Secret::new(SECRET)),
        webhook_allow_http: true,
        webhook_allow_private: true,
        ..Config::default()
    };
    let keys = TokenKeys::hs256(SECRET.as_bytes());
    let application = Application::build(&config, keys.clone())
        .await
        .expect("the service starts");
    let app = application.app();
    let city = &CITIES[0];
    app.import(city.project, &network(city, 20_000, 7), ImportMode::Upsert)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", application.port());
    let handle = application.handle();
    tokio::spawn(application.run_until_stopped());
    let token = keys.mint(
        "bench",
        &["*".into()],
        &Scope::ALL.map(|s| s.as_str().to_owned()),
        3600,
    );
    let client = reqwest::Client::new();
    let delivered = Arc::new(AtomicUsize::new(0));
    let hook = match webhook {
        true => {
            let (port, handle) = receiver(delivered.clone());
            subscribe(&client, &base, &token, port).await;
            Some(handle)
        }
        false => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, base, token, stop, created, refused) = (
            client.clone(),
            base.clone(),
            token.clone(),
            stop.clone(),
            created.clone(),
            refused.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = c as u64;
            while !stop.load(Ordering::Relaxed) {
                // Addresses spread over the city: clients rarely want the same box.
                i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let (dn, de) = (((i >> 20) % 4000) as f64 - 2000.0, ((i >> 40) % 4000) as f64 - 2000.0);
                let lat = city.lat + dn / 111_320.0;
                let lon = city.lon + de / (111_320.0 * city.lat.to_radians().cos());
                let body = json!({"lat": lat, "lon": lon, "radius_m": 500, "address": "Rua Bench 1", "customer": {"name": "Bench"}});
                match client.post(format!("{base}/reservations")).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 201 => created.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => refused.fetch_add(1, Ordering::Relaxed),
                    Err(e) => panic!("request failed: {e}"),
                };
            }
        }));
    }
    // One more client asks feasibility questions meanwhile (200 a second) and times them,
    // on a thread and runtime of its own: the service's hold writers run on this runtime,
    // and their work must not count as feasibility latency.
    let (fbase, ftoken, fstop) = (base.clone(), token.clone(), stop.clone());
    let feasibility = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let fclient = reqwest::Client::new();
            let mut latencies = Vec::new();
            let body = json!({"lat": city.lat, "lon": city.lon, "plan_id": null, "radius_m": 500});
            while !fstop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let r = fclient
                    .post(format!("{fbase}/feasibility"))
                    .bearer_auth(&ftoken)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let _ = r.bytes().await.unwrap();
                latencies.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(5).saturating_sub(started.elapsed()))
                    .await;
            }
            latencies
        })
    });
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = feasibility.join().unwrap();
    latencies.sort();
    let n = created.load(Ordering::Relaxed);
    let label = match webhook {
        true => format!(
            "{engine} with a webhook ({} deliveries)",
            delivered.load(Ordering::Relaxed)
        ),
        false => engine.to_owned(),
    };
    println!(
        "{label}: {clients} clients, {:.0} durable reservations/s ({n} in {elapsed:.1} s, {} refused); \
         /feasibility during the load: {} requests, p50 {:.2} ms, p99 {:.2} ms (p90 {:.2}, p99.9 {:.2}, max {:.2})",
        n as f64 / elapsed,
        refused.load(Ordering::Relaxed),
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        percentile(&latencies, 0.90).as_secs_f64() * 1e3,
        percentile(&latencies, 0.999).as_secs_f64() * 1e3,
        percentile(&latencies, 1.0).as_secs_f64() * 1e3,
    );
    handle.stop(true).await;
    if let Some(h) = hook {
        h.stop(true).await;
    }
    n as f64 / elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs without and with a webhook in turn, `pairs` times (so that the machine's other
/// work weighs on both alike), and prints the medians and their ratio.
fn compare(
    rt: &tokio::runtime::Runtime,
    engine: &str,
    url: impl Fn(usize) -> Option<String>,
    seconds: u64,
    clients: usize,
    pairs: usize,
) {
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        for webhook in [false, true] {
            let Some(url) = url(2 * pair + webhook as usize) else {
                return;
            };
            let rate = rt.block_on(measure(engine, url, seconds, clients, webhook));
            match webhook {
                true => with.push(rate),
                false => without.push(rate),
            }
        }
    }
    let (a, b) = (median(without), median(with));
    println!(
        "{engine} median of {pairs} alternating runs: {a:.0} durable reservations/s without a webhook, \
         {b:.0} with one: {:.2}x",
        b / a
    );
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let seconds = if benching {
        env_or("BENCH_SECONDS", 10)
    } else {
        1
    };
    let pairs = if benching {
        env_or("BENCH_PAIRS", 3)
    } else {
        1
    } as usize;
    let clients = env_or("BENCH_CLIENTS", 8) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    compare(
        &rt,
        "sqlite",
        |run| {
            Some(format!(
                "sqlite://{}",
                dir.path().join(format!("bench-{run}.db")).display()
            ))
        },
        seconds,
        clients,
        pairs,
    );
    // Each run's schema is dropped when its guard goes, after the run.
    let schemas = std::sync::Mutex::new(Vec::new());
    compare(
        &rt,
        "postgres",
        |_| {
            let schema = rt.block_on(common::pg_schema("bench"))?;
            let url = schema.url.clone();
            schemas.lock().unwrap().push(schema);
            Some(url)
        },
        seconds,
        clients,
        pairs,
    );
}
