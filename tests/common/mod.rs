//! What the tests that start real servers share: a free port, the binary started as a
//! server, waiting for it to be ready, and a fresh PostgreSQL schema of their own.
#![allow(dead_code)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `feasibility serve` on 127.0.0.1:`port`; its log (at `level`) goes to `log`, or nowhere.
pub fn spawn_server(db: &str, port: u16, secret: &str, log: Option<&Path>, level: &str) -> Child {
    spawn_server_with(db, port, secret, log, level, &[])
}

/// As [`spawn_server`], with more `FEASIBILITY_*` (or other) variables.
pub fn spawn_server_with(
    db: &str,
    port: u16,
    secret: &str,
    log: Option<&Path>,
    level: &str,
    env: &[(&str, &str)],
) -> Child {
    let stderr = match log {
        Some(path) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap(),
        ),
        None => Stdio::null(),
    };
    Command::new(env!("CARGO_BIN_EXE_feasibility"))
        .arg("serve")
        .env("FEASIBILITY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FEASIBILITY_DATABASE_URL", db)
        .env("FEASIBILITY_JWT_SECRET", secret)
        .env("RUST_LOG", level)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts")
}

/// Waits up to 30 s for `/readyz` to answer 200.
pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the service did not become ready at {base}");
}

/// A schema of its own in the database of `TEST_DATABASE_URL`, dropped with this value.
pub struct PgSchema {
    /// Connections made with this URL use the schema.
    pub url: String,
    base: String,
    name: String,
}

/// A fresh schema, or `None` when `TEST_DATABASE_URL` is not set (which fails under
/// `CI=true`: PostgreSQL tests are never skipped there).
pub async fn pg_schema(prefix: &str) -> Option<PgSchema> {
    let base = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "TEST_DATABASE_URL must be set in CI"
            );
            eprintln!("TEST_DATABASE_URL is not set: PostgreSQL test skipped");
            return None;
        }
    };
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("TEST_DATABASE_URL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
    Some(PgSchema { url, base, name })
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, sql) = (
            self.base.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
        // Drop may run inside a runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&base).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

/// python3 when it can import `module` (a PyPI package a test drives); missing, the test
/// fails under CI (`.ci/run` installs it) and is skipped elsewhere.
pub fn python_with(module: &str) -> Option<&'static str> {
    let found = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("python3");
    }
    assert!(
        std::env::var("CI").is_err(),
        "the {module} package is not installed; .ci/run installs it"
    );
    eprintln!("SKIPPED: python3 -m pip install {module}");
    None
}

/// A server process's API, with a token that holds every scope.
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub token: String,
}

impl Api {
    pub fn new(port: u16, secret: &str) -> Self {
        let token = ftth_feasibility::auth::TokenKeys::hs256(secret.as_bytes()).mint(
            "ops",
            &["*".into()],
            &ftth_feasibility::auth::Scope::ALL.map(|s| s.as_str().to_owned()),
            3600,
        );
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            token,
        }
    }

    /// POSTs `body`; the answer, which must be a success.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    /// GETs `path`; the answer, which must be a success.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }
}
