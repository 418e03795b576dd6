use crate::helpers::*;
use serde_json::{Value, json};

on_both_engines!(
    imports_count_what_they_add_update_and_delete,
    |app: TestApp| async move {
        let r = app.import("p1", "upsert", fixture_p1()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["boxes"],
            json!({"added": 5, "updated": 0, "deleted": 0})
        );
        assert_eq!(
            r.body["regions"],
            json!({"added": 1, "updated": 0, "deleted": 0})
        );
        let r = app.import("p1", "upsert", fixture_p1()).await;
        assert_eq!(
            r.body["boxes"],
            json!({"added": 0, "updated": 5, "deleted": 0})
        );
        // Replace with only A: B..E and the region go.
        let doc =
            json!({"type": "FeatureCollection", "features": [fixture_p1()["features"][0].clone()]});
        let r = app.import("p1", "replace", doc).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["boxes"],
            json!({"added": 0, "updated": 1, "deleted": 4})
        );
        assert_eq!(
            r.body["regions"],
            json!({"added": 0, "updated": 0, "deleted": 1})
        );
        let admin = app.admin();
        app.get("/boxes/B-B", &admin)
            .await
            .assert_problem(404, "not_found");
        // Without its region, A has no tags: the centro plan no longer reaches it.
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "tags": ["centro"]}))
            .await;
        assert_eq!(r.body["reason"], "plan_not_available");
    }
);

on_both_engines!(a_box_shows_its_port_accounting, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let r = app
        .get("/boxes/B-A", &app.token(&["reservations:read"], &["p1"]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["project"], "p1");
    assert_eq!(r.body["status"], "deployed");
    assert_eq!(r.body["region_tags"], json!(["centro", "fibra"]));
    assert_eq!(r.body["free_ports"], 5);
    let s = &r.body["splitters"][0];
    assert_eq!(
        (
            s["id"].as_str(),
            s["ports"].as_u64(),
            s["used"].as_u64(),
            s["holds"].as_u64(),
            s["free"].as_u64()
        ),
        (Some("B-A-C1"), Some(4), Some(0), Some(0), Some(4))
    );
    let s = &r.body["splitters"][1];
    assert_eq!(
        (s["id"].as_str(), s["used"].as_u64(), s["free"].as_u64()),
        (Some("B-A-S1"), Some(3), Some(5))
    );
    assert_eq!(s["used_ports"], json!([1, 2, 3]));
    // Another project's box does not exist for this token.
    app.get("/boxes/P2-A", &app.token(&["reservations:read"], &["p1"]))
        .await
        .assert_problem(404, "not_found");
});

on_both_engines!(boxes_in_a_bbox_are_geojson, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let bbox = "-46.6400,-23.5600,-46.6200,-23.5450";
    let r = app.get(&format!("/boxes?bbox={bbox}"), &app.admin()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["type"], "FeatureCollection");
    let ids: Vec<&str> = r.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["B-A", "B-B", "B-C", "B-D", "P2-A"]);
    assert_eq!(
        r.body["features"][0]["geometry"]["coordinates"],
        json!([at_a().1, at_a().0])
    );
    assert_eq!(r.body["features"][0]["properties"]["free_ports"], 5);
    assert_eq!(r.body["features"][1]["properties"]["free_ports"], 0);
    let r = app
        .get(&format!("/boxes?bbox={bbox}&project=p2"), &app.admin())
        .await;
    assert_eq!(r.body["features"].as_array().unwrap().len(), 1);
    let r = app
        .get(
            &format!("/boxes?bbox={bbox}"),
            &app.token(&["feasibility"], &["p2"]),
        )
        .await;
    assert_eq!(r.body["features"].as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("/boxes?bbox={bbox}&limit=2"), &app.admin())
        .await;
    assert_eq!(
        (
            r.body["features"].as_array().unwrap().len(),
            r.body["truncated"].as_bool()
        ),
        (2, Some(true))
    );
    for bad in ["1,2,3", "a,b,c,d", "-46,-23,-47,-24", "0,-91,1,1"] {
        app.get(&format!("/boxes?bbox={bad}"), &app.admin())
            .await
            .assert_problem(422, "validation_failed");
    }
    app.get("/boxes", &app.admin())
        .await
        .assert_problem(422, "validation_failed");
});

/// A file with one good new box and one bad feature.
fn with_bad(bad: Value) -> Value {
    json!({"type": "FeatureCollection", "features": [
        box_feature("B-GOOD", from_centre(10.0, 5.0), "deployed", json!([attendance("B-GOOD-S1", 8, 0)])),
        bad,
    ]})
}

on_both_engines!(
    any_bad_feature_refuses_the_whole_file,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let before = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": 2000}))
            .await;
        let near = from_centre(20.0, 5.0);
        let cases: Vec<(Value, &str)> = vec![
            (
                box_feature("X", near, "built", json!([])),
                "features[1].properties.status",
            ),
            (
                box_feature("X", (91.0, 0.0), "deployed", json!([])),
                "features[1].geometry.coordinates",
            ),
            (
                box_feature("", near, "deployed", json!([])),
                "features[1].properties.id",
            ),
            (
                box_feature("X", near, "deployed", json!([attendance("X-S", 8, 9)])),
                "features[1].properties.splitters[0].used",
            ),
            (
                box_feature(
                    "X",
                    near,
                    "deployed",
                    json!([{"id": "X-S", "kind": "attendance", "ports": 8, "used_ports": [9]}]),
                ),
                "features[1].properties.splitters[0].used_ports",
            ),
            (
                box_feature(
                    "X",
                    near,
                    "deployed",
                    json!([{"id": "X-S", "kind": "fiber", "ports": 8}]),
                ),
                "features[1].properties.splitters[0].kind",
            ),
            (
                box_feature(
                    "X",
                    near,
                    "deployed",
                    json!([{"id": "X-S", "kind": "attendance", "ports": 0}]),
                ),
                "features[1].properties.splitters[0].ports",
            ),
            (
                box_feature("B-GOOD", near, "deployed", json!([])),
                "features[1].properties.id",
            ),
            (
                box_feature("P2-A", near, "deployed", json!([])),
                "features[1].properties.id",
            ),
            (
                box_feature("X", near, "deployed", json!([attendance("B-B-S1", 8, 0)])),
                "features[1].properties.splitters[0].id",
            ),
            (
                json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}, "properties": {"kind": "region", "id": "r", "tags": ["t"]}}),
                "features[1].geometry",
            ),
            (
                json!({"type": "Feature", "geometry": null, "properties": {"kind": "antenna"}}),
                "features[1].properties.kind",
            ),
            (json!("not a feature"), "features[1]"),
        ];
        for (bad, field) in cases {
            let r = app.import("p1", "upsert", with_bad(bad.clone())).await;
            r.assert_problem(422, "validation_failed");
            let fields: Vec<&str> = r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(
                fields.contains(&field),
                "{field} not in {fields:?} for {bad}"
            );
            app.get("/boxes/B-GOOD", &app.admin())
                .await
                .assert_problem(404, "not_found");
        }
        for body in [
            "{\"type\": \"FeatureCollection\", \"features\": [",
            "{\"type\": \"FeatureCollection\"}",
            "[]",
        ] {
            let r = app
                .send(
                    "POST",
                    "/inventory/import?project=p1",
                    Some(&app.admin()),
                    Some(body.into()),
                )
                .await;
            assert!(r.status == 400 || r.status == 422, "{body}: {}", r.status);
        }
        app.send(
            "POST",
            "/inventory/import",
            Some(&app.admin()),
            Some(fixture_p1().to_string()),
        )
        .await
        .assert_problem(422, "validation_failed");
        app.send(
            "POST",
            "/inventory/import?project=p1&mode=merge",
            Some(&app.admin()),
            Some(fixture_p1().to_string()),
        )
        .await
        .assert_problem(422, "validation_failed");
        let huge = json!({"type": "FeatureCollection", "features": [], "padding": "x".repeat(3 * 1024 * 1024)});
        app.import("p1", "upsert", huge)
            .await
            .assert_problem(413, "payload_too_large");
        let after = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": 2000}))
            .await;
        assert_eq!(before.body, after.body);
    }
);
