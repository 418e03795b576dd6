//! Webhook deliveries end to end, with real server processes and a receiver that checks
//! every signature with the official `standardwebhooks` package (scripts/webhook_receiver.py):
//! events arrive signed, retried until answered, never lost to a SIGKILL, and attempted by
//! one replica at a time.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

mod common;

use common::{Api, free_port, pg_schema, python_with, spawn_server_with, wait_ready};

const SECRET: &str = "deliveries-test-secret-0123456789";

/// Fast retries and local receivers for the tests.
const ENV: [(&str, &str); 3] = [
    ("FEASIBILITY_WEBHOOK_ALLOW_HTTP", "true"),
    ("FEASIBILITY_WEBHOOK_ALLOW_PRIVATE", "true"),
    (
        "FEASIBILITY_WEBHOOK_RETRY_DELAYS_S",
        "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]",
    ),
];

struct Receiver {
    out: PathBuf,
    _child: Child,
}

impl Receiver {
    async fn start(python: &str, port: u16, secret: &str, out: &Path, fail_first: u32) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/webhook_receiver.py");
        let child = Command::new(python)
            .args([
                script,
                &port.to_string(),
                secret,
                out.to_str().unwrap(),
                &fail_first.to_string(),
            ])
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Listening once it accepts a connection.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            out: out.to_owned(),
            _child: child,
        }
    }

    /// Every delivery received so far.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `done` holds of what was received.
    async fn until(&self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                started.elapsed() < limit,
                "not received within {limit:?}: {got:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Api {
    /// An integration that manages reservations, and a webhook of it to `port`: its secret.
    async fn subscribe(&self, port: u16) -> String {
        self.post("/integrations", json!({"id": "crm", "name": "CRM", "projects": ["*"],
            "modules": ["feasibility", "reservations_manage"],
            "contacts": {"alert": ["a@crm.example"], "emergency": ["+5511999990000"],
                "technical": ["t@crm.example"], "operational": ["o@crm.example"],
                "operational_public": "s@crm.example"},
            "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]}))
            .await;
        let w = self
            .post(
                "/integrations/crm/webhooks",
                json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["*"]}),
            )
            .await;
        w["secret"].as_str().unwrap().to_owned()
    }

    async fn plant(&self) {
        let features: Vec<Value> = (0..4)
            .map(|i| json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.6333 + i as f64 * 0.0001, -23.5505]},
                "properties": {"kind": "box", "id": format!("D-{i}"), "status": "deployed",
                    "splitters": [{"id": format!("D-{i}-S1"), "kind": "attendance", "ports": 16, "used": 0}]}}))
            .collect();
        self.post(
            "/inventory/import?project=d",
            json!({"type": "FeatureCollection", "features": features}),
        )
        .await;
    }

    async fn reserve(&self) -> String {
        let r = self
            .post(
                "/reservations",
                json!({"lat": -23.5505, "lon": -46.6333, "address": "Rua 1",
                "customer": {"name": "Cliente"}}),
            )
            .await;
        r["id"].as_str().unwrap().to_owned()
    }
}

/// What the receiver got, by event id: how many verified deliveries of each.
fn by_event(received: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in received
        .iter()
        .filter(|r| r["ok"] == true && r["failed_on_purpose"] == false)
    {
        *counts
            .entry(r["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

async fn signed_events_arrive_and_are_retried(db: &str) {
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _server = spawn_server_with(db, port, SECRET, None, "warn", &ENV);
    let api = Api::new(port, SECRET);
    wait_ready(&api.client, &api.base).await;
    let hook = free_port();
    let secret = api.subscribe(hook).await;
    // Each event's first attempt fails (500): it comes again a second later.
    let receiver = Receiver::start(python, hook, &secret, &dir.path().join("got.jsonl"), 1).await;
    api.plant().await;
    let id = api.reserve().await;
    api.post(&format!("/reservations/{id}/confirm"), json!({}))
        .await;
    let got = receiver
        .until(Duration::from_secs(10), |got| by_event(got).len() >= 3)
        .await;
    assert!(
        got.iter().all(|r| r["ok"] == true),
        "a signature the verifier refused: {got:#?}"
    );
    let types: Vec<&str> = got
        .iter()
        .filter(|r| r["failed_on_purpose"] == false)
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    for t in [
        "inventory.imported",
        "reservation.created",
        "reservation.confirmed",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    // The same webhook-id on the retry as on the failed attempt.
    for (event, n) in by_event(&got) {
        assert_eq!(n, 1, "{event} delivered once after its failed attempt");
        assert!(
            got.iter()
                .any(|r| r["id"] == event.as_str() && r["failed_on_purpose"] == true)
        );
    }
    let created = got
        .iter()
        .find(|r| r["type"] == "reservation.created" && r["failed_on_purpose"] == false)
        .unwrap();
    assert_eq!(created["body"]["data"]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_events_arrive_and_are_retried_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    signed_events_arrive_and_are_retried(&format!("sqlite://{}/d.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_events_arrive_and_are_retried_on_postgres() {
    let Some(schema) = pg_schema("deliveries").await else {
        return;
    };
    signed_events_arrive_and_are_retried(&schema.url).await;
}

/// Events committed while the receiver is down and the server is then killed are all
/// delivered after the restart.
async fn nothing_committed_is_lost_to_a_crash(db: &str) {
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = spawn_server_with(db, port, SECRET, None, "warn", &ENV);
    let api = Api::new(port, SECRET);
    wait_ready(&api.client, &api.base).await;
    let hook = free_port();
    let secret = api.subscribe(hook).await;
    api.plant().await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(api.reserve().await);
    }
    server.kill().await.unwrap();
    let receiver = Receiver::start(python, hook, &secret, &dir.path().join("got.jsonl"), 0).await;
    let _server = spawn_server_with(db, port, SECRET, None, "warn", &ENV);
    wait_ready(&api.client, &api.base).await;
    let got = receiver
        .until(Duration::from_secs(20), |got| {
            let created: Vec<&str> = got
                .iter()
                .filter(|r| r["type"] == "reservation.created")
                .map(|r| r["body"]["data"]["id"].as_str().unwrap())
                .collect();
            ids.iter().all(|id| created.contains(&id.as_str()))
        })
        .await;
    assert!(got.iter().all(|r| r["ok"] == true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_committed_is_lost_to_a_crash_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    nothing_committed_is_lost_to_a_crash(&format!("sqlite://{}/d.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_committed_is_lost_to_a_crash_on_postgres() {
    let Some(schema) = pg_schema("deliveries_crash").await else {
        return;
    };
    nothing_committed_is_lost_to_a_crash(&schema.url).await;
}

/// Two replicas on one PostgreSQL: every event is delivered, and none twice (each
/// delivery is leased to one replica).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_event_once() {
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let Some(schema) = pg_schema("deliveries_replicas").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (free_port(), free_port());
    let _a = spawn_server_with(&schema.url, pa, SECRET, None, "warn", &ENV);
    let _b = spawn_server_with(&schema.url, pb, SECRET, None, "warn", &ENV);
    let (a, b) = (Api::new(pa, SECRET), Api::new(pb, SECRET));
    wait_ready(&a.client, &a.base).await;
    wait_ready(&b.client, &b.base).await;
    let hook = free_port();
    let secret = a.subscribe(hook).await;
    let receiver = Receiver::start(python, hook, &secret, &dir.path().join("got.jsonl"), 0).await;
    a.plant().await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(if i % 2 == 0 {
            a.reserve().await
        } else {
            b.reserve().await
        });
    }
    receiver
        .until(Duration::from_secs(20), |got| {
            got.iter()
                .filter(|r| r["type"] == "reservation.created")
                .count()
                >= ids.len()
        })
        .await;
    // A moment more for a duplicate to show, if one were coming.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = receiver.received();
    let twice: Vec<(String, usize)> = by_event(&got).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert!(got.iter().all(|r| r["ok"] == true));
}

impl Api {
    /// Polls `path` until `done` holds of its answer.
    async fn until(&self, path: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let v = self.get(path).await;
            if done(&v) {
                return v;
            }
            assert!(
                started.elapsed() < limit,
                "{path} not as expected within {limit:?}: {v:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A webhook whose endpoint fails: its deliveries log says so, a manual retry delivers
/// once the endpoint is back, and one failing for `webhook_disable_after_s` is disabled.
async fn failures_are_logged_retried_by_hand_and_disable(db: &str) {
    let Some(python) = python_with("standardwebhooks") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut env = ENV.to_vec();
    env[2] = ("FEASIBILITY_WEBHOOK_RETRY_DELAYS_S", "[1]");
    env.push(("FEASIBILITY_WEBHOOK_DISABLE_AFTER_S", "4"));
    let _server = spawn_server_with(db, port, SECRET, None, "warn", &env);
    let api = Api::new(port, SECRET);
    wait_ready(&api.client, &api.base).await;
    let hook = free_port();
    let secret = api.subscribe(hook).await;
    let webhooks = api.get("/integrations/crm/webhooks").await;
    let wid = webhooks[0]["id"].as_str().unwrap().to_owned();
    let failing = Receiver::start(python, hook, &secret, &dir.path().join("bad.jsonl"), 1000).await;
    api.plant().await;
    let log = format!("/integrations/crm/webhooks/{wid}/deliveries");
    // 1 + one retry, both answered 500: failed.
    let page = api
        .until(&log, Duration::from_secs(10), |p| {
            p["items"][0]["status"] == "failed"
        })
        .await;
    let d = &page["items"][0];
    assert_eq!(d["type"], "inventory.imported");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["last_status_code"], 500);
    assert!(d["last_error"].as_str().unwrap().contains("500"), "{d}");
    assert_eq!(d["next_attempt_at"], Value::Null);
    drop(failing);
    // The endpoint is back: a retry by hand delivers it.
    let good = Receiver::start(python, hook, &secret, &dir.path().join("good.jsonl"), 0).await;
    let event_id = d["event_id"].as_str().unwrap().to_owned();
    let r = api
        .client
        .post(format!("{}{log}/{event_id}/retry", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    good.until(Duration::from_secs(5), |got| {
        got.iter().any(|r| r["id"] == event_id.as_str())
    })
    .await;
    let page = api
        .until(&log, Duration::from_secs(5), |p| {
            p["items"][0]["status"] == "delivered"
        })
        .await;
    assert_eq!(page["items"][0]["attempts"], 3);
    // Paging: one a page, newest first, through a cursor.
    api.reserve().await;
    let first = api
        .until(&format!("{log}?limit=1"), Duration::from_secs(5), |p| {
            p["items"][0]["type"] == "reservation.created"
        })
        .await;
    let next = api
        .get(&format!(
            "{log}?limit=1&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(next["items"][0]["event_id"], event_id.as_str());
    assert_eq!(next["next_cursor"], Value::Null);
    drop(good);
    // Failing from now on: disabled about 4 s after its first failed attempt.
    let _failing =
        Receiver::start(python, hook, &secret, &dir.path().join("bad2.jsonl"), 1000).await;
    api.reserve().await;
    let w = api
        .until(
            &format!("/integrations/crm/webhooks/{wid}"),
            Duration::from_secs(20),
            |w| w["enabled"] == false,
        )
        .await;
    assert!(w["disabled_reason"].is_string(), "{w}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_logged_retried_by_hand_and_disable_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    failures_are_logged_retried_by_hand_and_disable(&format!(
        "sqlite://{}/d.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_logged_retried_by_hand_and_disable_on_postgres() {
    let Some(schema) = pg_schema("deliveries_log").await else {
        return;
    };
    failures_are_logged_retried_by_hand_and_disable(&schema.url).await;
}
