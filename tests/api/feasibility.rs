use crate::helpers::*;
use serde_json::json;

on_both_engines!(
    candidates_are_nearest_first_with_free_splitters,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let r = app.feasibility(json!({"lat": C.0, "lon": C.1})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["feasible"], true);
        assert_eq!(r.body["reason"], serde_json::Value::Null);
        assert_eq!(r.body["radius_m"], 250.0);
        // P2-A (30 m), A (50 m), D (200 m): B is full, C is in project, E is 1 km away.
        assert_eq!(ids(&r), ["P2-A", "B-A", "B-D"]);
        let a = &r.body["candidates"][1];
        assert_eq!(a["project"], "p1");
        assert_eq!(a["name"], "Box B-A");
        assert!((a["distance_m"].as_f64().unwrap() - geodesic(C, at_a())).abs() <= 0.01);
        assert_eq!(a["free_ports"], 5);
        assert_eq!(a["splitters"], json!([{"id": "B-A-S1", "free_ports": 5}]));
        let p2 = &r.body["candidates"][0];
        assert_eq!(p2["free_ports"], 5);
        assert_eq!(
            p2["splitters"],
            json!([{"id": "P2-A-S1", "free_ports": 2}, {"id": "P2-A-S2", "free_ports": 3}])
        );

        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "limit": 2}))
            .await;
        assert_eq!(ids(&r), ["P2-A", "B-A"]);
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": 1500}))
            .await;
        assert_eq!(ids(&r), ["P2-A", "B-A", "B-D", "B-E"]);
    }
);

on_both_engines!(
    plan_and_request_tags_restrict_to_regions,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        // fibra: A is in centro (fibra), P2-A in zona (fibra); D is in no region.
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "plan_id": "fibra-600"}))
            .await;
        assert_eq!(ids(&r), ["P2-A", "B-A"]);
        assert_eq!(r.body["tags"], json!(["fibra"]));
        // empresa (centro) plus the request's own tag "x": only centro boxes.
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "plan_id": "empresa", "tags": ["x"]}))
            .await;
        assert_eq!(ids(&r), ["B-A"]);
        assert_eq!(r.body["tags"], json!(["centro", "x"]));
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "tags": ["centro"]}))
            .await;
        assert_eq!(ids(&r), ["B-A"]);
    }
);

on_both_engines!(
    each_reason_names_the_furthest_stage_reached,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let reason = |r: &Reply| r.body["reason"].as_str().unwrap_or("null").to_owned();
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": 20}))
            .await;
        assert_eq!(
            (r.body["feasible"].as_bool(), reason(&r).as_str()),
            (Some(false), "no_coverage")
        );
        assert_eq!(ids(&r), Vec::<String>::new());
        let c = at_c();
        let r = app
            .feasibility(json!({"lat": c.0, "lon": c.1, "radius_m": 10}))
            .await;
        assert_eq!(reason(&r), "network_not_deployed");
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "plan_id": "nowhere"}))
            .await;
        assert_eq!(reason(&r), "plan_not_available");
        let b = at_b();
        let r = app
            .feasibility(json!({"lat": b.0, "lon": b.1, "radius_m": 10, "plan_id": "fibra-600"}))
            .await;
        assert_eq!(reason(&r), "no_free_ports");
        // Around C: C is not deployed (first stage), B is full (third stage); B decides.
        let r = app.feasibility(json!({"lat": c.0, "lon": c.1, "radius_m": 190, "plan_id": "fibra-600", "projects": ["p1"]})).await;
        assert_eq!(reason(&r), "no_free_ports");
        let r = app.feasibility(json!({"lat": c.0, "lon": c.1, "radius_m": 190, "plan_id": "nowhere", "projects": ["p1"]})).await;
        assert_eq!(reason(&r), "plan_not_available");
    }
);

on_both_engines!(
    a_box_at_exactly_the_radius_is_a_candidate,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let d = geodesic(C, at_d());
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": d, "projects": ["p1"]}))
            .await;
        assert_eq!(ids(&r), ["B-A", "B-D"]);
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": d - 0.01, "projects": ["p1"]}))
            .await;
        assert_eq!(ids(&r), ["B-A"]);
    }
);

on_both_engines!(
    projects_only_narrow_what_the_token_sees,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let p1_only = app.token(&["feasibility"], &["p1"]);
        let r = app
            .post("/feasibility", &p1_only, json!({"lat": C.0, "lon": C.1}))
            .await;
        assert_eq!(ids(&r), ["B-A", "B-D"]);
        let r = app
            .post(
                "/feasibility",
                &p1_only,
                json!({"lat": C.0, "lon": C.1, "projects": ["p2"]}),
            )
            .await;
        assert_eq!(r.body["reason"], "no_coverage");
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["p2"]}))
            .await;
        assert_eq!(ids(&r), ["P2-A"]);
        let none = app.token(&["feasibility"], &[]);
        let r = app
            .post("/feasibility", &none, json!({"lat": C.0, "lon": C.1}))
            .await;
        assert_eq!(r.body["reason"], "no_coverage");
    }
);

on_both_engines!(
    bad_requests_are_problems_and_unknown_plans_404,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.admin();
        let r = app
            .send(
                "POST",
                "/feasibility",
                Some(&token),
                Some("{\"lat\": 1,".into()),
            )
            .await;
        r.assert_problem(400, "malformed_json");
        let r = app
            .send(
                "POST",
                "/feasibility",
                Some(&token),
                Some("{\"lat\": \"x\"}".into()),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "lat");
        let fields = |r: &Reply| -> Vec<String> {
            r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        };
        for (body, field) in [
            (json!({"lon": 0}), "lat"),
            (json!({"lat": 0}), "lon"),
            (json!({"lat": 90.5, "lon": 0}), "lat"),
            (json!({"lat": 0, "lon": -181}), "lon"),
            (json!({"lat": 0, "lon": 0, "radius_m": 2000.5}), "radius_m"),
            (json!({"lat": 0, "lon": 0, "radius_m": 0}), "radius_m"),
            (json!({"lat": 0, "lon": 0, "limit": 0}), "limit"),
            (json!({"lat": 0, "lon": 0, "limit": 51}), "limit"),
            (json!({"lat": 0, "lon": 0, "limit": 2.5}), "limit"),
            (json!({"lat": 0, "lon": 0, "tags": "centro"}), "tags"),
            (json!([1, 2]), "body"),
        ] {
            let r = app.post("/feasibility", &token, body.clone()).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(fields(&r), [field], "{body}");
        }
        let r = app
            .feasibility(json!({"lat": 0, "lon": 0, "limit": 50, "radius_m": 2000}))
            .await;
        assert_eq!(r.status, 200);
        let r = app
            .feasibility(json!({"lat": 0, "lon": 0, "plan_id": "fibra-9000"}))
            .await;
        r.assert_problem(404, "not_found");
        let big = format!(
            "{{\"lat\": 0, \"lon\": 0, \"tags\": [\"{}\"]}}",
            "x".repeat(20_000)
        );
        let r = app
            .send("POST", "/feasibility", Some(&token), Some(big))
            .await;
        r.assert_problem(413, "payload_too_large");
    }
);

on_both_engines!(
    an_import_shows_in_the_next_answer,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let near = from_centre(200.0, 10.0);
        let doc = json!({"type": "FeatureCollection", "features": [box_feature("B-NEW", near, "deployed", json!([attendance("B-NEW-S1", 8, 0)]))]});
        let r = app.import("p1", "upsert", doc).await;
        assert_eq!(r.status, 200);
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "limit": 1}))
            .await;
        assert_eq!(ids(&r), ["B-NEW"]);
        // Its region tags were derived at import: it lies in centro.
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "limit": 1, "plan_id": "empresa"}))
            .await;
        assert_eq!(ids(&r), ["B-NEW"]);
        // Filling its splitter takes it out at once.
        let doc = json!({"type": "FeatureCollection", "features": [box_feature("B-NEW", near, "deployed", json!([attendance("B-NEW-S1", 8, 8)]))]});
        assert_eq!(app.import("p1", "upsert", doc).await.status, 200);
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "limit": 1}))
            .await;
        assert_eq!(ids(&r), ["P2-A"]);
    }
);

on_both_engines!(
    the_index_is_rebuilt_from_the_database_on_restart,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let before = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "plan_id": "fibra-600", "radius_m": 1500}))
            .await;
        let app = app.restart().await;
        let after = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "plan_id": "fibra-600", "radius_m": 1500}))
            .await;
        assert_eq!(before.body, after.body);
        assert_eq!(ids(&after), ["P2-A", "B-A"]);
    }
);
