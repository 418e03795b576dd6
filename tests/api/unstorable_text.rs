//! Text neither engine can store (a NUL character) is invalid input like any other: 404
//! for an id in a path, 422 naming the field or parameter elsewhere; never a 5xx.

use crate::helpers::*;
use serde_json::json;

on_both_engines!(
    a_nul_anywhere_is_refused_as_invalid_input,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        for path in [
            "/boxes/%00",
            "/boxes/B-A%00",
            "/reservations/%00",
            "/reservations/R-%00/confirm",
            "/plans/%00",
        ] {
            let method = if path.ends_with("confirm") {
                "POST"
            } else {
                "GET"
            };
            let body = (method == "POST").then(|| "{}".to_owned());
            app.send(method, path, Some(&admin), body)
                .await
                .assert_problem(404, "not_found");
        }
        for (path, field) in [
            ("/reservations?project=%00", "project"),
            ("/reservations?code=R-%00", "code"),
            ("/boxes?bbox=-47,-24,-46,-23&project=p%001", "project"),
            ("/inventory/import?project=%00", "project"),
        ] {
            let method = if path.starts_with("/inventory") {
                "POST"
            } else {
                "GET"
            };
            let body = (method == "POST")
                .then(|| json!({"type": "FeatureCollection", "features": []}).to_string());
            let r = app.send(method, path, Some(&admin), body).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{path}: {}", r.body);
        }
        // In bodies.
        let nul = "a\u{0}b";
        for (path, body, field) in [
            (
                "/reservations",
                reservation_body(json!({"external_ref": nul})),
                "external_ref",
            ),
            (
                "/reservations",
                reservation_body(json!({"box_id": nul})),
                "box_id",
            ),
            (
                "/reservations",
                reservation_body(json!({"customer": {"name": nul}})),
                "customer.name",
            ),
            (
                "/reservations",
                reservation_body(json!({"address": nul})),
                "address",
            ),
            (
                "/feasibility",
                json!({"lat": C.0, "lon": C.1, "plan_id": nul}),
                "plan_id",
            ),
            (
                "/feasibility",
                json!({"lat": C.0, "lon": C.1, "tags": [nul]}),
                "tags[0]",
            ),
            (
                "/feasibility",
                json!({"lat": C.0, "lon": C.1, "projects": [nul]}),
                "projects[0]",
            ),
        ] {
            let r = app.post(path, &admin, body).await;
            r.assert_problem(422, "validation_failed");
            let fields: Vec<&str> = r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["field"].as_str())
                .collect();
            assert!(fields.contains(&field), "{path} {field}: {}", r.body);
        }
        let r = app
            .send(
                "PUT",
                "/plans/x",
                Some(&admin),
                Some(json!({"name": nul, "tags": []}).to_string()),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        let box_with_nul = json!({"type": "FeatureCollection", "features": [box_feature(nul, at_a(), "deployed", json!([]))]});
        app.import("p1", "upsert", box_with_nul)
            .await
            .assert_problem(422, "validation_failed");
        // In a token's claims: not a usable credential.
        let token = app.keys.mint(nul, &["*".into()], &["admin".into()], 600);
        app.get("/boxes/B-A", &token)
            .await
            .assert_problem(401, "invalid_credentials");
        let token = app.keys.mint("ok", &[nul.into()], &["admin".into()], 600);
        app.get("/boxes/B-A", &token)
            .await
            .assert_problem(401, "invalid_credentials");
        // Nothing was held.
        let page = app.get("/reservations", &admin).await;
        assert_eq!(page.body["items"], json!([]));
    }
);
