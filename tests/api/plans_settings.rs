use crate::helpers::*;
use serde_json::json;

on_both_engines!(
    plans_can_be_created_read_replaced_and_deleted,
    |app: TestApp| async move {
        let admin = app.admin();
        let r = app
            .send(
                "PUT",
                "/plans/fibra-1g",
                Some(&admin),
                Some(
                    json!({"name": "Fibra 1G", "tags": ["premium", "fibra", "premium"]})
                        .to_string(),
                ),
            )
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(
            r.body,
            json!({"id": "fibra-1g", "name": "Fibra 1G", "tags": ["fibra", "premium"]})
        );
        let r = app
            .send(
                "PUT",
                "/plans/fibra-1g",
                Some(&admin),
                Some(json!({"name": "Fibra 1 Giga", "tags": ["premium"]}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(
            app.get("/plans/fibra-1g", &admin).await.body["name"],
            "Fibra 1 Giga"
        );
        assert_eq!(
            app.get("/plans", &admin).await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let r = app
            .send(
                "PUT",
                "/plans/bad",
                Some(&admin),
                Some(json!({"name": "", "tags": [1]}).to_string()),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        let r = app
            .send(
                "PUT",
                "/plans/bad",
                Some(&admin),
                Some(json!({"name": "ok", "tags": [""]}).to_string()),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        let r = app
            .send("DELETE", "/plans/fibra-1g", Some(&admin), None)
            .await;
        assert_eq!(r.status, 204);
        app.get("/plans/fibra-1g", &admin)
            .await
            .assert_problem(404, "not_found");
        app.send("DELETE", "/plans/fibra-1g", Some(&admin), None)
            .await
            .assert_problem(404, "not_found");
        // Plans survive a restart.
        app.send(
            "PUT",
            "/plans/kept",
            Some(&admin),
            Some(json!({"name": "Kept", "tags": ["a"]}).to_string()),
        )
        .await;
        let app = app.restart().await;
        assert_eq!(
            app.get("/plans/kept", &app.admin()).await.body["tags"],
            json!(["a"])
        );
    }
);

on_both_engines!(
    settings_are_checked_stored_and_in_force_at_once,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let r = app.get("/settings", &admin).await;
        assert_eq!(
            r.body,
            json!({"default_radius_m": 250.0, "max_radius_m": 2000.0, "reservation_ttl_s": 604800})
        );
        let r = app
            .send(
                "PATCH",
                "/settings",
                Some(&admin),
                Some(json!({"default_radius_m": 40, "max_radius_m": 60}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["default_radius_m"], 40.0);
        let r = app.feasibility(json!({"lat": C.0, "lon": C.1})).await;
        assert_eq!(r.body["radius_m"], 40.0);
        assert_eq!(ids(&r), ["P2-A"]);
        app.feasibility(json!({"lat": C.0, "lon": C.1, "radius_m": 61}))
            .await
            .assert_problem(422, "validation_failed");
        for bad in [
            json!({"default_radius_m": 100}),
            json!({"max_radius_m": 0}),
            json!({"default_radius_m": -1}),
            json!({"reservation_ttl_s": 0}),
            json!({"reservation_ttl_s": "week"}),
            json!({"radius": 5}),
        ] {
            let r = app
                .send("PATCH", "/settings", Some(&admin), Some(bad.to_string()))
                .await;
            r.assert_problem(422, "validation_failed");
        }
        let app = app.restart().await;
        let r = app.get("/settings", &app.admin()).await;
        assert_eq!(
            r.body,
            json!({"default_radius_m": 40.0, "max_radius_m": 60.0, "reservation_ttl_s": 604800})
        );
    }
);
