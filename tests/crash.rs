//! Durability: the real binary is killed with SIGKILL in the middle of a stream of
//! reservations; after a restart every acknowledged (201) reservation is there, no port is
//! held twice, and the log never carried the customers' personal data.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const SECRET: &str = "crash-test-secret-0123456789abcdef";
const NAME: &str = "Joana Quitéria Crashtest";
const PHONE: &str = "+5511900001234";
const EMAIL: &str = "joana.crashtest@example.com";
const ADDRESS: &str = "Travessa Durabilidade 77";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(db: &str, port: u16, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_feasibility"))
        .arg("serve")
        .env("FEASIBILITY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FEASIBILITY_DATABASE_URL", db)
        .env("FEASIBILITY_JWT_SECRET", SECRET)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready");
}

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

    let mut child = spawn(&db, port, &log);
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

    let mut child = spawn(&db, port, &log);
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
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "TEST_DATABASE_URL must be set in CI"
        );
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL test skipped");
        return;
    };
    let schema = format!("crash_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    crash_and_recover(format!("{base}{sep}options=-c%20search_path%3D{schema}")).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
}
