//! SIGTERM: the service stops taking requests, finishes the one in flight, and exits 0.

use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

use common::{free_port, spawn_server, wait_ready};

const SECRET: &str = "shutdown-test-secret-0123456789ab";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = format!("sqlite://{}/s.db", dir.path().display());
    let mut child = spawn_server(&db, port, SECRET, None, "warn");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    // A request in flight: its headers and half its body are sent before the SIGTERM, the
    // rest after.
    let features: Vec<_> = (0..200)
        .map(|i| {
            json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.0 - i as f64 * 0.001, -23.0]},
                   "properties": {"kind": "box", "id": format!("SD-{i:04}"), "status": "deployed",
                     "splitters": [{"id": format!("SD-{i:04}-S1"), "kind": "attendance", "ports": 8, "used": 1}]}})
        })
        .collect();
    let body = json!({"type": "FeatureCollection", "features": features}).to_string();
    let keys = ftth_feasibility::auth::TokenKeys::hs256(SECRET.as_bytes());
    let token = keys.mint("sd", &["*".into()], &["inventory:write".into()], 600);
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /inventory/import?project=sd HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().unwrap().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.write_all(rest.as_bytes()).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered: {answer}"
    );
    let exit = tokio::time::timeout(Duration::from_secs(40), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        client.get(format!("{base}/healthz")).send().await.is_err(),
        "no new requests after the stop"
    );
}
