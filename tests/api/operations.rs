use crate::helpers::*;
#[allow(unused_imports)]
use serde_json::json;

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
        // Labels never carry ids.
        assert!(!text.contains("B-A") && !text.contains("/no/such/thing"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_and_the_service_recovers() {
    // PostgreSQL behind a proxy the test can cut.
    let Some(app) = spawn(Engine::Postgres).await else {
        return;
    };
    let url = app.config.database_url.clone();
    let parsed = url::Url::parse(&url).unwrap();
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
        .await
        .with_fixture()
        .await;
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
const ROUTES: [(&str, &str); 21] = [
    ("post", "/feasibility"),
    ("post", "/reservations"),
    ("get", "/reservations"),
    ("get", "/reservations/{id}"),
    ("post", "/reservations/{id}/confirm"),
    ("post", "/reservations/{id}/cancel"),
    ("post", "/reservations/{id}/complete"),
    ("post", "/inventory/import"),
    ("get", "/boxes/{id}"),
    ("get", "/boxes"),
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
            let concrete = path.replace("{id}", "x");
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
