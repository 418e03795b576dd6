use crate::helpers::*;
#[allow(unused_imports)]
use serde_json::{Value, json};

on_both_engines!(
    every_response_carries_a_request_id,
    |app: TestApp| async move {
        let r = app.send("GET", "/healthz", None, None).await;
        assert!(r.request_id.as_deref().is_some_and(|id| id.len() >= 16));
        let res = app
            .client
            .get(format!("{}/nowhere", app.base))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["x-request-id"], "abc-123");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
);

on_both_engines!(
    wrong_methods_and_paths_are_problems,
    |app: TestApp| async move {
        app.send("DELETE", "/feasibility", Some(&app.admin()), None)
            .await
            .assert_problem(405, "method_not_allowed");
        app.send("GET", "/no/such/path", None, None)
            .await
            .assert_problem(404, "not_found");
    }
);

on_both_engines!(readiness_reports_the_index, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let r = app.send("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["boxes"], 6);
});

on_both_engines!(problems_carry_the_request_id, |app: TestApp| async move {
    let res = app
        .client
        .post(format!("{}/feasibility", app.base))
        .header("x-request-id", "trace-42")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], "trace-42");
    let r = app
        .send("POST", "/feasibility", Some(&app.admin()), Some("{".into()))
        .await;
    assert_eq!(
        Some(r.body["request_id"].as_str().unwrap().to_owned()),
        r.request_id
    );
});

on_both_engines!(
    metrics_count_requests_by_route_pattern_and_answers_by_reason,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        app.get("/boxes/B-A", &app.admin()).await;
        app.feasibility(serde_json::json!({"lat": 0, "lon": 0}))
            .await;
        app.feasibility(serde_json::json!({"lat": C.0, "lon": C.1}))
            .await;
        app.send("GET", "/no/such/thing", None, None).await;
        app.send("M339ab19ccfd1", "/healthz", None, None).await;
        let res = app
            .client
            .get(format!("{}/metrics", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        for needle in [
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/boxes/{id}\",status=\"200\"",
            "http_requests_total{method=\"POST\",route=\"/feasibility\",status=\"200\"}",
            "route=\"unmatched\"",
            "feasibility_answers_total{reason=\"no_coverage\"}",
            "feasibility_answers_total{reason=\"feasible\"}",
            "index_boxes ",
            "service_ready 1",
            "db_pool_connections{state=\"idle\"}",
            "expiry_runs_total{result=\"ok\"}",
        ] {
            assert!(text.contains(needle), "{needle} missing from /metrics");
        }
        // Labels never carry ids, nor a method token a client made up.
        assert!(!text.contains("B-A") && !text.contains("/no/such/thing"));
        assert!(!text.contains("M339ab19ccfd1") && text.contains("method=\"other\""));
        // Every metric has its HELP text and the exposition is clean for Prometheus's tool.
        if let Some(promtool) = required_tool("promtool") {
            let mut check = std::process::Command::new(promtool)
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            check
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = check.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "promtool check metrics: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
);

on_both_engines!(only_allowed_networks_may_call, |app: TestApp| async move {
    let app = app
        .restart_with(|c| c.allowed_ips = vec!["10.0.0.0/8".parse().unwrap()])
        .await;
    app.get("/plans", &app.admin())
        .await
        .assert_problem(403, "forbidden_address");
    assert_eq!(app.send("GET", "/healthz", None, None).await.status, 200);
    let app = app
        .restart_with(|c| {
            c.allowed_ips = vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()]
        })
        .await;
    assert_eq!(app.get("/plans", &app.admin()).await.status, 200);
});

/// The service restarted on its PostgreSQL database through a proxy the test can cut.
async fn behind_proxy(app: TestApp) -> (TestApp, Proxy) {
    let parsed = url::Url::parse(&app.config.database_url).unwrap();
    let target: std::net::SocketAddr = format!(
        "{}:{}",
        parsed.host_str().unwrap().replace("localhost", "127.0.0.1"),
        parsed.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let proxy = Proxy::start(target).await;
    let mut through = parsed.clone();
    through.set_host(Some("127.0.0.1")).unwrap();
    through.set_port(Some(proxy.port)).unwrap();
    let app = app
        .restart_with(|c| {
            c.database_url = through.to_string();
            c.db_acquire_timeout_s = 1;
        })
        .await;
    (app, proxy)
}

/// Reservations sent in a stream while the database goes away and comes back: afterwards
/// the holds that stand are exactly those answered 201 (the others answered an error).
/// PostgreSQL is cut at the network; SQLite is locked by another process.
async fn holds_stand_only_for_their_201s(app: TestApp, engine: Engine) {
    let (app, proxy) = match engine {
        Engine::Postgres => {
            let (app, proxy) = behind_proxy(app).await;
            (app, Some(proxy))
        }
        Engine::Sqlite => (app, None),
    };
    let big = json!({"type": "FeatureCollection", "features": [box_feature("BIG", C, "deployed",
        json!([attendance("BIG-S1", 1024, 0), attendance("BIG-S2", 1024, 0)]))]});
    assert_eq!(app.import("big", "upsert", big).await.status, 200);
    let admin = app.admin();
    let mut sent = Vec::new();
    for i in 0..120u64 {
        let (client, base, token) = (app.client.clone(), app.base.clone(), admin.clone());
        sent.push(tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(i * 25)).await;
            let r = client
                .post(format!("{base}/reservations"))
                .bearer_auth(token)
                .json(&reservation_body(json!({"box_id": "BIG"})))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body["id"].as_str().map(str::to_owned))
        }));
    }
    // Cut a second into the stream, for about as long.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let lock = match (&proxy, engine) {
        (Some(proxy), _) => {
            proxy.cut();
            tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
            proxy.restore();
            None
        }
        (None, _) => {
            // Another process holds SQLite's write lock past the service's busy timeout.
            let path = app
                .config
                .database_url
                .trim_start_matches("sqlite://")
                .to_owned();
            Some(std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
                std::thread::sleep(std::time::Duration::from_millis(6500));
                conn.execute_batch("COMMIT").unwrap();
            }))
        }
    };
    let mut created = std::collections::BTreeSet::new();
    let mut failed = 0;
    for task in sent {
        match task.await.unwrap() {
            (201, Some(id)) => {
                created.insert(id);
            }
            (status, _) => {
                assert!(matches!(status, 409 | 503), "answered {status}");
                failed += 1;
            }
        }
    }
    if let Some(lock) = lock {
        lock.join().unwrap();
    }
    assert!(failed > 0, "the outage failed some requests");
    assert!(!created.is_empty(), "some requests got through");
    // Holds in doubt are released within 5 s of the database answering again.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let mut standing = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/reservations?box_id=BIG&limit=500&cursor={c}"),
            None => "/reservations?box_id=BIG&limit=500".to_owned(),
        };
        let page = app.get(&path, &admin).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for r in page.body["items"].as_array().unwrap() {
            assert_eq!(r["status"], "pending");
            standing.insert(r["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(standing, created, "holds standing = holds answered 201");
    let detail = app.get("/boxes/BIG", &admin).await.body;
    let held: u64 = (0..2)
        .map(|i| detail["splitters"][i]["holds"].as_u64().unwrap())
        .sum();
    assert_eq!(held as usize, created.len());
}

on_both_engines!(
    a_request_answered_with_an_error_holds_nothing,
    |app: TestApp| async move {
        let engine = if app.config.database_url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        };
        holds_stand_only_for_their_201s(app, engine).await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_and_the_service_recovers() {
    // PostgreSQL behind a proxy the test can cut.
    let Some(app) = spawn(Engine::Postgres).await else {
        return;
    };
    let (app, proxy) = behind_proxy(app).await;
    let app = app.with_fixture().await;
    let admin = app.admin();
    proxy.cut();
    let started = std::time::Instant::now();
    let r = app
        .post(
            "/reservations",
            &admin,
            reservation_body(serde_json::json!({"box_id": "B-D"})),
        )
        .await;
    r.assert_problem(503, "service_unavailable");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "a 503, not a hang"
    );
    app.get("/boxes/B-A", &admin)
        .await
        .assert_problem(503, "service_unavailable");
    app.send("GET", "/readyz", None, None)
        .await
        .assert_problem(503, "not_ready");
    // Feasibility answers from the index meanwhile.
    let f = app
        .feasibility(serde_json::json!({"lat": C.0, "lon": C.1}))
        .await;
    assert_eq!(f.status, 200);
    assert_eq!(ids(&f), ["P2-A", "B-A", "B-D"]);
    proxy.restore();
    let mut recovered = false;
    for _ in 0..50 {
        let r = app
            .post(
                "/reservations",
                &admin,
                reservation_body(serde_json::json!({"box_id": "B-D"})),
            )
            .await;
        if r.status == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        recovered,
        "reservations work again once the database is back"
    );
    assert_eq!(app.send("GET", "/readyz", None, None).await.status, 200);
}

/// Every route the service has, as (method, path template).
const ROUTES: [(&str, &str); 53] = [
    ("get", "/integrations/{id}/webhooks/{wid}/deliveries"),
    (
        "post",
        "/integrations/{id}/webhooks/{wid}/deliveries/{event_id}/retry",
    ),
    ("post", "/feasibility"),
    ("post", "/feasibility/batch"),
    ("post", "/check"),
    ("options", "/check"),
    ("post", "/reservations"),
    ("get", "/reservations"),
    ("get", "/reservations/{id}"),
    ("post", "/reservations/{id}/confirm"),
    ("post", "/reservations/{id}/cancel"),
    ("post", "/reservations/{id}/complete"),
    ("post", "/inventory/import"),
    ("get", "/boxes/{id}"),
    ("get", "/boxes"),
    ("get", "/demand"),
    ("post", "/interest"),
    ("get", "/interest"),
    ("get", "/interest/{id}"),
    ("delete", "/interest/{id}"),
    ("get", "/map/boxes"),
    ("get", "/me"),
    ("get", "/plans"),
    ("get", "/plans/{id}"),
    ("put", "/plans/{id}"),
    ("delete", "/plans/{id}"),
    ("get", "/settings"),
    ("patch", "/settings"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/plans"),
    ("get", "/"),
    ("get", "/conformance"),
    ("get", "/collections"),
    ("get", "/collections/{collectionId}"),
    ("get", "/collections/{collectionId}/items"),
    ("get", "/collections/{collectionId}/items/{featureId}"),
    ("post", "/integrations"),
    ("get", "/integrations"),
    ("get", "/integrations/{id}"),
    ("patch", "/integrations/{id}"),
    ("delete", "/integrations/{id}"),
    ("post", "/integrations/{id}/keys"),
    ("get", "/integrations/{id}/keys"),
    ("delete", "/integrations/{id}/keys/{key_id}"),
    ("post", "/integrations/{id}/webhooks"),
    ("get", "/integrations/{id}/webhooks"),
    ("get", "/integrations/{id}/webhooks/{wid}"),
    ("patch", "/integrations/{id}/webhooks/{wid}"),
    ("delete", "/integrations/{id}/webhooks/{wid}"),
    ("post", "/integrations/{id}/webhooks/{wid}/rotate-secret"),
];

on_both_engines!(
    the_openapi_document_covers_every_route,
    |app: TestApp| async move {
        let doc = app.send("GET", "/openapi.json", None, None).await;
        assert_eq!(doc.status, 200);
        assert!(
            doc.body["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc.body["openapi"]
        );
        // The feasibility answer, written by hand-made serialisers, is documented as lists.
        let schemas = &doc.body["components"]["schemas"];
        for (schema, list, of) in [
            ("FeasibilityOut", "candidates", "CandidateOut"),
            ("CandidateOut", "splitters", "SplitterOut"),
        ] {
            let field = &schemas[schema]["properties"][list];
            assert_eq!(field["type"], "array", "{schema}.{list}: {field}");
            assert_eq!(
                field["items"]["$ref"],
                format!("#/components/schemas/{of}"),
                "{schema}.{list}: {field}"
            );
        }
        let paths = doc.body["paths"].as_object().unwrap();
        let mut documented: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), path.clone()))
            })
            .collect();
        documented.sort();
        let mut expected: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        expected.sort();
        expected.dedup();
        assert_eq!(documented, expected);
        // Every documented operation is routed: none falls through to "unknown path" or 405.
        for (method, path) in &documented {
            let concrete = path
                .replace("{id}", "x")
                .replace("{collectionId}", "boxes")
                .replace("{featureId}", "x");
            let r = app
                .send(
                    &method.to_uppercase(),
                    &concrete,
                    Some(&app.admin()),
                    Some("{}".into()),
                )
                .await;
            assert!(
                r.status != 405 && r.body["detail"] != "this path not found",
                "{method} {path}: {}",
                r.status
            );
        }
        // Schemas the answers refer to are there.
        let schemas = doc.body["components"]["schemas"].as_object().unwrap();
        for name in [
            "Problem",
            "Reservation",
            "FeasibilityOut",
            "ReservationRequest",
            "BoxDetail",
            "Settings",
        ] {
            assert!(schemas.contains_key(name), "{name} missing");
        }
        assert_eq!(
            doc.body["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
);
