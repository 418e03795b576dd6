//! Starts the real service on port 0 against a fresh database (a temporary SQLite file, or
//! a fresh schema in the PostgreSQL of `TEST_DATABASE_URL`) and speaks HTTP to it.

use ftth_feasibility::auth::{Claims, TokenKeys, now_s};
use ftth_feasibility::config::{Config, Secret};
use ftth_feasibility::startup::Application;
use geo::{Destination, Geodesic, Point};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const SECRET: &str = "test-secret-0123456789-abcdefghij";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Where a test's database lives; removed when the test ends.
pub enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] crate::common::PgSchema),
    /// Handed over to a restarted service.
    Moved,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub keys: TokenKeys,
    pub config: Config,
    pub app: actix_web::web::Data<ftth_feasibility::service::App>,
    server: actix_web::dev::ServerHandle,
    _db: TestDb,
}

/// A response: status, parsed body (Null when empty or not JSON), content type.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: String,
    pub request_id: Option<String>,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.code(), code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(
            self.body["title"].is_string()
                && self.body["detail"].is_string()
                && self.body["type"].is_string()
        );
    }
}

pub fn test_config(database_url: String) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        database_url,
        jwt_secret: Some(Secret::new(SECRET)),
        json_body_limit_bytes: 16 * 1024,
        import_body_limit_bytes: 2 * 1024 * 1024,
        max_connections: 4,
        ..Config::default()
    }
}

/// The service on a fresh database; `None` when PostgreSQL is not configured (outside CI).
pub async fn spawn(engine: Engine) -> Option<TestApp> {
    if std::env::var("TEST_LOG").is_ok() {
        ftth_feasibility::telemetry::init(Default::default());
    }
    let (url, db) = match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/test.db", dir.path().display());
            (url, TestDb::Sqlite(dir))
        }
        Engine::Postgres => {
            let schema = crate::common::pg_schema("t").await?;
            (schema.url.clone(), TestDb::Postgres(schema))
        }
    };
    Some(start(test_config(url), db).await)
}

async fn start(config: Config, db: TestDb) -> TestApp {
    let keys = TokenKeys::hs256(SECRET.as_bytes());
    let application = Application::build(&config, keys.clone())
        .await
        .expect("the service starts");
    let base = format!("http://127.0.0.1:{}", application.port());
    let app = application.app();
    let server = application.handle();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        base,
        client: reqwest::Client::new(),
        keys,
        config,
        app,
        server,
        _db: db,
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Stops the server and starts a new one on the same database with changed settings.
    pub async fn restart_with(mut self, change: impl FnOnce(&mut Config)) -> TestApp {
        self.server.stop(true).await;
        self.app.store.close().await;
        change(&mut self.config);
        let db = std::mem::replace(&mut self._db, TestDb::Moved);
        start(self.config.clone(), db).await
    }

    pub fn token(&self, scopes: &[&str], projects: &[&str]) -> String {
        let s: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let p: Vec<String> = projects.iter().map(|s| s.to_string()).collect();
        self.keys.mint("tester", &p, &s, 600)
    }

    /// Every scope, every project.
    pub fn admin(&self) -> String {
        self.token(
            &[
                "feasibility",
                "reservations:write",
                "reservations:read",
                "reservations:manage",
                "inventory:write",
                "admin",
            ],
            &["*"],
        )
    }

    pub fn expired_token(&self) -> String {
        self.keys.sign(&Claims {
            sub: "tester".into(),
            exp: now_s() - 5,
            iat: None,
            aud: None,
            jti: None,
            projects: vec!["*".into()],
            scopes: vec!["feasibility".into()],
        })
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let res = req.send().await.expect("the server answers");
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let request_id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            content_type,
            request_id,
        }
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send("POST", path, Some(token), Some(body.to_string()))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), None).await
    }

    pub async fn import(&self, project: &str, mode: &str, doc: Value) -> Reply {
        let token = self.admin();
        self.post(
            &format!("/inventory/import?project={project}&mode={mode}"),
            &token,
            doc,
        )
        .await
    }

    pub async fn feasibility(&self, body: Value) -> Reply {
        let token = self.admin();
        self.post("/feasibility", &token, body).await
    }

    /// Loads the fixture network and plans.
    pub async fn with_fixture(self) -> Self {
        let r = self.import("p1", "upsert", fixture_p1()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self.import("p2", "upsert", fixture_p2()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let admin = self.admin();
        for (id, tags) in [
            ("fibra-600", vec!["fibra"]),
            ("empresa", vec!["centro"]),
            ("nowhere", vec!["x"]),
        ] {
            let r = self
                .send(
                    "PUT",
                    &format!("/plans/{id}"),
                    Some(&admin),
                    Some(json!({"name": id, "tags": tags}).to_string()),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        self
    }
}

/// The centre of the fixture network.
pub const C: (f64, f64) = (-23.5505, -46.6333);

/// The point `metres` from the centre on a bearing (degrees), as (lat, lon).
pub fn from_centre(bearing: f64, metres: f64) -> (f64, f64) {
    let p = Geodesic.destination(Point::new(C.1, C.0), bearing, metres);
    (p.y(), p.x())
}

pub fn geodesic(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::Distance;
    Geodesic.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

pub fn box_feature(id: &str, at: (f64, f64), status: &str, splitters: Value) -> Value {
    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [at.1, at.0]},
           "properties": {"kind": "box", "id": id, "name": format!("Box {id}"), "status": status, "splitters": splitters}})
}

pub fn region_feature(
    id: &str,
    west: f64,
    south: f64,
    east: f64,
    north: f64,
    tags: &[&str],
) -> Value {
    json!({"type": "Feature",
           "geometry": {"type": "Polygon", "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]]},
           "properties": {"kind": "region", "id": id, "name": id, "tags": tags}})
}

pub fn attendance(id: &str, ports: u32, used: u32) -> Value {
    json!({"id": id, "kind": "attendance", "ports": ports, "used": used})
}

/// Where the fixture's boxes are (lat, lon).
pub fn at_a() -> (f64, f64) {
    from_centre(0.0, 50.0)
}
pub fn at_b() -> (f64, f64) {
    from_centre(90.0, 100.0)
}
pub fn at_c() -> (f64, f64) {
    from_centre(180.0, 150.0)
}
pub fn at_d() -> (f64, f64) {
    from_centre(270.0, 200.0)
}
pub fn at_e() -> (f64, f64) {
    from_centre(0.0, 1000.0)
}
pub fn at_p2() -> (f64, f64) {
    from_centre(45.0, 30.0)
}

/// Project p1: A free in `centro`, B full in `centro`, C in project, D free outside any
/// region, E free far north.
pub fn fixture_p1() -> Value {
    json!({"type": "FeatureCollection", "features": [
        box_feature("B-A", at_a(), "deployed", json!([attendance("B-A-S1", 8, 3), {"id": "B-A-C1", "kind": "connection", "ports": 4, "used": 0}])),
        box_feature("B-B", at_b(), "deployed", json!([attendance("B-B-S1", 8, 8)])),
        box_feature("B-C", at_c(), "in_project", json!([attendance("B-C-S1", 8, 0)])),
        box_feature("B-D", at_d(), "deployed", json!([attendance("B-D-S1", 4, 0)])),
        box_feature("B-E", at_e(), "deployed", json!([attendance("B-E-S1", 8, 0)])),
        region_feature("centro", -46.6343, -23.5535, -46.6303, -23.5499, &["centro", "fibra"]),
    ]})
}

/// Project p2: one free box 30 m from the centre, in a `fibra` region.
pub fn fixture_p2() -> Value {
    json!({"type": "FeatureCollection", "features": [
        box_feature("P2-A", at_p2(), "deployed", json!([attendance("P2-A-S1", 2, 0), attendance("P2-A-S2", 4, 1)])),
        region_feature("zona", -46.64, -23.56, -46.62, -23.54, &["fibra"]),
    ]})
}

/// A reservation request near the centre for a made-up customer.
pub fn reservation_body(extra: Value) -> Value {
    let mut body = json!({"lat": C.0, "lon": C.1, "address": "Rua Exemplo 100, Sao Paulo",
        "customer": {"name": "Maria Silva", "phone": "+5511987654321", "email": "maria@example.com"},
        "external_ref": "lead-8812"});
    for (k, v) in extra.as_object().expect("an object") {
        body[k] = v.clone();
    }
    body
}

/// The box ids of a feasibility answer, in order.
pub fn ids(r: &Reply) -> Vec<String> {
    r.body["candidates"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|c| c["box_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A TCP proxy in front of a database that a test can cut and restore, to play an outage.
pub struct Proxy {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<port> to `target` while up.
    pub async fn start(target: std::net::SocketAddr) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> =
            Default::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    break;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { port, up, conns }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The free ports a feasibility answer shows for a box (none when it is not a candidate).
pub fn free_of(r: &Reply, box_id: &str) -> Option<u64> {
    r.body["candidates"]
        .as_array()?
        .iter()
        .find(|c| c["box_id"] == box_id)
        .and_then(|c| c["free_ports"].as_u64())
}

impl TestApp {
    /// Runs a statement straight in the service's database (to make time pass, or look).
    pub async fn sql(&self, sql: &str) {
        let url = &self.config.database_url;
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
        }
    }

    /// The first column of the first row of a query straight in the database, as text.
    pub async fn sql_text(&self, sql: &str) -> Option<String> {
        let url = &self.config.database_url;
        let wrapped = format!("SELECT CAST(({sql}) AS TEXT)");
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let v = sqlx::query_scalar(sqlx::AssertSqlSafe(wrapped))
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            v
        } else {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let v = sqlx::query_scalar(sqlx::AssertSqlSafe(wrapped))
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            v
        }
    }
}

/// An external tool a test drives (promtool, ogr2ogr, ...): its name when it is on the
/// PATH. Missing, it fails the test under CI (`.ci/run` installs it) and skips it elsewhere.
pub fn required_tool(name: &str) -> Option<&str> {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(name);
    }
    assert!(
        std::env::var("CI").is_err(),
        "{name} is not installed; .ci/run installs it"
    );
    eprintln!("SKIPPED: {name} is not installed");
    None
}
