//! Durability: the real binary is killed with SIGKILL in the middle of a stream of
//! reservations; after a restart every acknowledged (201) reservation is there, no port is
//! held twice, and the log never carried the customers' personal data.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{free_port, pg_schema, spawn_server, wait_ready};

const SECRET: &str = "crash-test-secret-0123456789abcdef";
const NAME: &str = "Joana Quitéria Crashtest";
const PHONE: &str = "+5511900001234";
const EMAIL: &str = "joana.crashtest@example.com";
const ADDRESS: &str = "Travessa Durabilidade 77";

async fn crash_and_recover(db: String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let keys = ftth_feasibility::auth::TokenKeys::hs256(SECRET.as_bytes());
    let all = [
        "feasibility",
        "reservations:write",
        "reservations:read",
        "inventory:write",
    ]
    .map(String::from);
    let token = keys.mint("crash", &["*".into()], &all, 600);

    let mut child = spawn_server(&db, port, SECRET, Some(&log), "info");
    wait_ready(&client, &base).await;
    let plant = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.6333, -23.5505]},
         "properties": {"kind": "box", "id": "CRASH-1", "status": "deployed",
           "splitters": [{"id": "CRASH-1-S1", "kind": "attendance", "ports": 1024, "used": 0}]}}]});
    let r = client
        .post(format!("{base}/inventory/import?project=crash"))
        .bearer_auth(&token)
        .json(&plant)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let acked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (client, base, token, acked) =
            (client.clone(), base.clone(), token.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            let body = json!({"lat": -23.5505, "lon": -46.6333, "box_id": "CRASH-1", "address": ADDRESS,
                "customer": {"name": NAME, "phone": PHONE, "email": EMAIL}});
            for _ in 0..1000 {
                match client.post(format!("{base}/reservations")).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 201 => match r.json::<Value>().await {
                        Ok(v) => acked.lock().unwrap().push(v),
                        Err(_) => break,
                    },
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    // Kill once a good number has been acknowledged.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 40 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "only {} acknowledged before the kill",
        acked.len()
    );
    eprintln!("{} reservations acknowledged before SIGKILL", acked.len());

    let mut child = spawn_server(&db, port, SECRET, Some(&log), "info");
    wait_ready(&client, &base).await;
    for r in &acked {
        let got = client
            .get(format!("{base}/reservations/{}", r["id"].as_str().unwrap()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.status(),
            200,
            "acknowledged reservation {} lost",
            r["code"]
        );
        let got: Value = got.json().await.unwrap();
        assert_eq!((&got["status"], &got["port"]), (&r["status"], &r["port"]));
    }
    let list: Value = client
        .get(format!("{base}/reservations?limit=500&status=pending"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ports: Vec<u64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["port"].as_u64().unwrap())
        .collect();
    assert_eq!(
        ports.iter().collect::<HashSet<_>>().len(),
        ports.len(),
        "a port is held twice"
    );
    assert!(ports.len() >= acked.len());
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("port held"), "the log has the reservations");
    for personal in [
        NAME,
        PHONE,
        EMAIL,
        ADDRESS,
        "Joana",
        "joana",
        "Durabilidade",
    ] {
        assert!(
            !text.contains(personal),
            "personal data {personal:?} reached the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_reservations_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_recover(format!("sqlite://{}/crash.db", dir.path().display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_reservations_survive_sigkill_on_postgres() {
    if let Some(schema) = pg_schema("crash").await {
        crash_and_recover(schema.url.clone()).await;
    }
}
