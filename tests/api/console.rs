//! What the console stands on: its files with their own Content-Security-Policy, `GET /me`
//! (what a credential may do, learnt before asking anything else) and `GET /map/boxes` (a
//! window's boxes as parallel lists). The page itself is tested in a browser
//! (tests/console.rs).

use crate::helpers::*;
use serde_json::{Value, json};

async fn fetch(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

on_both_engines!(
    the_console_is_served_with_a_policy_of_its_own,
    |app: TestApp| async move {
        let page = fetch(&app, "/console").await;
        assert_eq!(page.status(), 200);
        assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
        let policy = header(&page, "content-security-policy");
        assert!(policy.contains("script-src 'self';"), "{policy}");
        assert!(policy.contains("connect-src 'self';"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(header(&page, "x-content-type-options"), "nosniff");
        assert!(page.text().await.unwrap().contains("Key or token"));
        for (path, kind) in [
            ("/console/app.js", "text/javascript; charset=utf-8"),
            (
                "/console/vendor/maplibre-gl/maplibre-gl-worker.mjs",
                "text/javascript; charset=utf-8",
            ),
            ("/console/icon.svg", "image/svg+xml"),
            ("/console/style.css", "text/css; charset=utf-8"),
        ] {
            let res = fetch(&app, path).await;
            assert_eq!(res.status(), 200, "{path}");
            assert_eq!(header(&res, "content-type"), kind, "{path}");
            assert_eq!(header(&res, "content-security-policy"), policy, "{path}");
        }
        let r = app
            .send("GET", "/console/no-such-file.js", None, None)
            .await;
        r.assert_problem(404, "not_found");
        // The API's own answers keep the API's policy.
        let health = fetch(&app, "/healthz").await;
        assert_eq!(
            header(&health, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
        );
        let config = app.send("GET", "/console/config.json", None, None).await;
        assert_eq!(config.body, json!({"basemap_url": null}));
        // The console is for browsers: not an operation of the API's document.
        let doc = app.send("GET", "/openapi.json", None, None).await;
        let paths = doc.body["paths"].as_object().unwrap();
        assert!(paths.keys().all(|p| !p.starts_with("/console")));
    }
);

on_both_engines!(
    a_base_map_is_the_one_other_origin_the_console_may_load,
    |app: TestApp| async move {
        let tiles = "https://tiles.example:8443/{z}/{x}/{y}.png";
        let app = app
            .restart_with(|c| c.console_basemap_url = Some(tiles.into()))
            .await;
        let page = fetch(&app, "/console").await;
        let policy = header(&page, "content-security-policy");
        assert!(
            policy.contains("img-src 'self' data: blob: https://tiles.example:8443;"),
            "{policy}"
        );
        assert!(
            policy.contains("connect-src 'self' https://tiles.example:8443;"),
            "{policy}"
        );
        let config = app.send("GET", "/console/config.json", None, None).await;
        assert_eq!(config.body["basemap_url"], tiles);
    }
);

on_both_engines!(
    me_says_who_the_caller_is_and_what_it_may_do,
    |app: TestApp| async move {
        let token = app.token(&["reservations:read", "feasibility"], &["p1"]);
        let r = app.get("/me", &token).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body,
            json!({"kind": "token", "subject": "tester",
                "scopes": ["feasibility", "reservations:read"], "projects": ["p1"]})
        );
        app.send("GET", "/me", None, None)
            .await
            .assert_problem(401, "invalid_credentials");
        // A key: its integration, and its scopes within the modules.
        let admin = app.admin();
        let integration = json!({"id": "site", "name": "Site", "projects": ["p1", "p2"],
            "modules": ["feasibility", "reservations"],
            "contacts": {"alert": ["a@site.example"], "emergency": ["+5511999990000"],
                "technical": ["t@site.example"], "operational": ["o@site.example"],
                "operational_public": "s@site.example"},
            "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]});
        let r = app.post("/integrations", &admin, integration).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = app
            .post(
                "/integrations/site/keys",
                &admin,
                json!({"name": "k", "scopes": ["feasibility", "reservations:read"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let key = r.body["key"].as_str().unwrap().to_owned();
        let r = app.get("/me", &key).await;
        assert_eq!(
            r.body,
            json!({"kind": "secret_key", "subject": "site",
                "scopes": ["feasibility", "reservations:read"], "projects": ["p1", "p2"]})
        );
        // A publishable key may only check.
        let r = app
            .post(
                "/integrations/site/keys",
                &admin,
                json!({"name": "web", "kind": "publishable", "allowed_origins": ["https://site.example"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let publishable = r.body["key"].as_str().unwrap().to_owned();
        app.get("/me", &publishable)
            .await
            .assert_problem(403, "insufficient_scope");
        let everything = app.admin();
        let r = app.get("/me", &everything).await;
        assert_eq!(r.body["projects"], json!(["*"]));
    }
);

/// The map's boxes by id: (lon, lat, status, free ports).
fn by_id(body: &Value) -> std::collections::BTreeMap<String, (f64, f64, String, u64)> {
    let col = |k: &str| body[k].as_array().unwrap().clone();
    let (ids, lon, lat, status, free) = (
        col("ids"),
        col("lon"),
        col("lat"),
        col("status"),
        col("free_ports"),
    );
    assert!([lon.len(), lat.len(), status.len(), free.len()] == [ids.len(); 4]);
    (0..ids.len())
        .map(|i| {
            (
                ids[i].as_str().unwrap().to_owned(),
                (
                    lon[i].as_f64().unwrap(),
                    lat[i].as_f64().unwrap(),
                    status[i].as_str().unwrap().to_owned(),
                    free[i].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

on_both_engines!(
    map_boxes_gives_the_window_as_parallel_lists,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let p1 = app.token(&["feasibility", "reservations:write"], &["p1"]);
        let r = app.get("/map/boxes?bbox=-47,-24,-46,-23", &p1).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["truncated"], false);
        let boxes = by_id(&r.body);
        // p2's box does not exist for this token.
        assert_eq!(
            boxes.keys().collect::<Vec<_>>(),
            ["B-A", "B-B", "B-C", "B-D", "B-E"]
        );
        let a = &boxes["B-A"];
        assert_eq!((a.0, a.1), (at_a().1, at_a().0));
        // Attendance ports only: B-A's connection splitter is not offered to customers.
        assert_eq!(a.3, 5);
        assert_eq!(boxes["B-B"].3, 0);
        assert_eq!(boxes["B-C"].2, "in_project");
        // A hold is a port less at once.
        let r = app
            .post(
                "/reservations",
                &p1,
                reservation_body(json!({"box_id": "B-A"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = app.get("/map/boxes?bbox=-47,-24,-46,-23", &p1).await;
        assert_eq!(by_id(&r.body)["B-A"].3, 4);
        // A window, a limit, a project.
        let r = app
            .get("/map/boxes?bbox=-47,-24,-46,-23&limit=2", &p1)
            .await;
        assert_eq!(r.body["ids"].as_array().unwrap().len(), 2);
        assert_eq!(r.body["truncated"], true);
        let r = app.get("/map/boxes?bbox=0,0,1,1", &p1).await;
        assert!(by_id(&r.body).is_empty());
        let all = app.token(&["reservations:read"], &["*"]);
        let r = app
            .get("/map/boxes?bbox=-47,-24,-46,-23&project=p2", &all)
            .await;
        assert_eq!(by_id(&r.body).keys().collect::<Vec<_>>(), ["P2-A"]);
        // Bad windows and limits name the parameter.
        for (query, field) in [
            ("", "bbox"),
            ("?bbox=1,2,3", "bbox"),
            ("?bbox=-47,-24,-46,-23&limit=0", "limit"),
            ("?bbox=-47,-24,-46,-23&limit=200001", "limit"),
        ] {
            let r = app.get(&format!("/map/boxes{query}"), &p1).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{query}: {}", r.body);
        }
    }
);
