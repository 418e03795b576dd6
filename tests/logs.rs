//! What the service writes to its log when clients make mistakes: nothing at ERROR, and no
//! colour codes when the log is not a terminal (here a file).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

use common::{free_port, spawn_server, wait_ready};

const SECRET: &str = "logs-test-secret-0123456789abcdef";

/// Sends raw bytes on a new connection and reads what comes back.
async fn raw(port: u16, bytes: &[u8]) -> String {
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    conn.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_not_logged_as_errors_and_a_file_log_has_no_colours() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("service.log");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let db = format!("sqlite://{}/l.db", dir.path().display());
    let _child = spawn_server(&db, port, SECRET, Some(&log), "debug");
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;
    let token = ftth_feasibility::auth::TokenKeys::hs256(SECRET.as_bytes()).mint(
        "logs",
        &["*".into()],
        &["feasibility".into()],
        600,
    );
    // A header the HTTP layer cannot parse, a broken chunked body, a request line that is
    // not HTTP, malformed JSON, a wrong type, a bad token, an unknown path.
    let answer = raw(
        port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let chunked = format!(
        "POST /feasibility HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
    );
    let answer = raw(port, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    raw(port, b"GARBAGE\r\n\r\n").await;
    for body in [r#"{"lat": "#, r#"{"lat": "north", "lon": 0}"#] {
        let r = client
            .post(format!("{base}/feasibility"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
    }
    let r = client
        .get(format!("{base}/boxes/x"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{base}/no/such/path"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("serving"), "the log is written: {text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a file log");
    let errors: Vec<&str> = text.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "client mistakes logged as errors: {errors:#?}"
    );
}
