//! `POST /check`: feasible or not, why, and the plans sold at the point, never the network.

use crate::helpers::*;
use serde_json::{Value, json};

async fn check(app: &TestApp, at: (f64, f64), plan: Option<&str>) -> Reply {
    let mut body = json!({"lat": at.0, "lon": at.1});
    if let Some(p) = plan {
        body["plan_id"] = json!(p);
    }
    app.post("/check", &app.admin(), body).await
}

/// (feasible, reason, plans) of an answer, after checking it has no other member.
#[track_caller]
fn verdict(r: &Reply) -> (bool, String, Vec<String>) {
    assert_eq!(r.status, 200, "{}", r.body);
    let mut keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["feasible", "plans", "reason"], "{}", r.body);
    let plans = r.body["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    (
        r.body["feasible"].as_bool().unwrap(),
        r.body["reason"].as_str().unwrap_or("null").to_owned(),
        plans,
    )
}

fn v(feasible: bool, reason: &str, plans: &[&str]) -> (bool, String, Vec<String>) {
    (
        feasible,
        reason.to_owned(),
        plans.iter().map(|p| p.to_string()).collect(),
    )
}

/// 350 m west of the centre: only B-D (free, in no region) within the default radius.
fn outside_every_region() -> (f64, f64) {
    from_centre(270.0, 350.0)
}

on_both_engines!(
    a_feasible_plan_is_answered_with_every_plan_sold_there,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        // fibra: P2-A and B-A; centro (empresa): B-A; x (nowhere): no region here.
        let r = check(&app, C, Some("fibra-600")).await;
        assert_eq!(verdict(&r), v(true, "null", &["empresa", "fibra-600"]));
        let r = check(&app, C, Some("empresa")).await;
        assert_eq!(verdict(&r), v(true, "null", &["empresa", "fibra-600"]));
        let r = check(&app, C, None).await;
        assert_eq!(verdict(&r), v(true, "null", &["empresa", "fibra-600"]));
    }
);

on_both_engines!(
    a_plan_not_sold_there_is_not_available_and_the_others_are_listed,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let r = check(&app, C, Some("nowhere")).await;
        assert_eq!(
            verdict(&r),
            v(false, "plan_not_available", &["empresa", "fibra-600"])
        );
        // Feasible with no plan (B-D is free), but in no region any plan is sold in.
        let r = check(&app, outside_every_region(), None).await;
        assert_eq!(verdict(&r), v(false, "plan_not_available", &[]));
        let r = check(&app, outside_every_region(), Some("fibra-600")).await;
        assert_eq!(verdict(&r), v(false, "plan_not_available", &[]));
    }
);

on_both_engines!(
    the_reasons_follow_the_default_radius_in_force,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let far = from_centre(180.0, 5000.0);
        assert_eq!(
            verdict(&check(&app, far, None).await),
            v(false, "no_coverage", &[])
        );
        assert_eq!(
            verdict(&check(&app, far, Some("fibra-600")).await),
            v(false, "no_coverage", &[])
        );
        // At 10 m, each box stands alone.
        let admin = app.admin();
        let r = app
            .send(
                "PATCH",
                "/settings",
                Some(&admin),
                Some(json!({"default_radius_m": 10}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            verdict(&check(&app, C, None).await),
            v(false, "no_coverage", &[])
        );
        // B-B is deployed in centro with every port used.
        assert_eq!(
            verdict(&check(&app, at_b(), Some("empresa")).await),
            v(false, "no_free_ports", &[])
        );
        assert_eq!(
            verdict(&check(&app, at_b(), None).await),
            v(false, "no_free_ports", &[])
        );
        assert_eq!(
            verdict(&check(&app, at_c(), None).await),
            v(false, "network_not_deployed", &[])
        );
        assert_eq!(
            verdict(&check(&app, at_a(), Some("nowhere")).await),
            v(false, "plan_not_available", &["empresa", "fibra-600"])
        );
    }
);

on_both_engines!(
    an_asked_plan_gets_the_reason_feasibility_gives_it,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let points = [
            C,
            at_a(),
            at_b(),
            at_c(),
            at_d(),
            at_e(),
            outside_every_region(),
        ];
        for at in points {
            for plan in ["fibra-600", "empresa", "nowhere"] {
                let f = app
                    .feasibility(json!({"lat": at.0, "lon": at.1, "plan_id": plan}))
                    .await;
                let c = check(&app, at, Some(plan)).await;
                assert_eq!(c.body["feasible"], f.body["feasible"], "{at:?} {plan}");
                assert_eq!(c.body["reason"], f.body["reason"], "{at:?} {plan}");
            }
        }
    }
);

on_both_engines!(
    the_answer_shows_no_box_coordinate_distance_or_port,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        for plan in [None, Some("fibra-600"), Some("nowhere")] {
            let r = check(&app, C, plan).await;
            verdict(&r);
            let text = r.body.to_string();
            for hidden in [
                "B-A",
                "P2-A",
                "p1",
                "p2",
                "-23.",
                "-46.",
                "distance",
                "free_ports",
                "splitters",
            ] {
                assert!(!text.contains(hidden), "{hidden} in {text}");
            }
        }
    }
);

on_both_engines!(
    bad_input_is_a_problem_naming_the_field,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.admin();
        let field = |r: &Reply| r.body["errors"][0]["field"].clone();
        let r = app
            .post("/check", &token, json!({"lat": 91, "lon": C.1}))
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(field(&r), "lat");
        let r = app.post("/check", &token, json!({"lat": C.0})).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(field(&r), "lon");
        let r = app
            .post(
                "/check",
                &token,
                json!({"lat": C.0, "lon": C.1, "radius_m": 900}),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(field(&r), "radius_m");
        let r = app
            .post("/check", &token, json!({"lat": "x", "lon": C.1}))
            .await;
        assert_eq!(field(&r), "lat", "{}", r.body);
        let r = app
            .send("POST", "/check", Some(&token), Some("{\"lat\":".into()))
            .await;
        r.assert_problem(400, "malformed_json");
        // An unknown plan is answered as /feasibility answers it.
        let r = check(&app, C, Some("no-such-plan")).await;
        r.assert_problem(404, "not_found");
        let f = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "plan_id": "no-such-plan"}))
            .await;
        assert_eq!(f.status, r.status);
    }
);

on_both_engines!(
    the_check_needs_a_token_with_the_feasibility_scope,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let body = json!({"lat": C.0, "lon": C.1}).to_string();
        let r = app.send("POST", "/check", None, Some(body.clone())).await;
        r.assert_problem(401, "invalid_credentials");
        let r = app
            .send(
                "POST",
                "/check",
                Some(&app.expired_token()),
                Some(body.clone()),
            )
            .await;
        r.assert_problem(401, "token_expired");
        let token = app.token(&["reservations:read", "reservations:write"], &["*"]);
        let r = app.send("POST", "/check", Some(&token), Some(body)).await;
        r.assert_problem(403, "insufficient_scope");
        let r = app.send("GET", "/check", Some(&app.admin()), None).await;
        r.assert_problem(405, "method_not_allowed");
    }
);

on_both_engines!(
    projects_outside_the_token_do_not_count,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let ask = |projects: &'static [&'static str], plan: Option<&'static str>| {
            let app = &app;
            async move {
                let mut body = json!({"lat": C.0, "lon": C.1});
                if let Some(p) = plan {
                    body["plan_id"] = Value::from(p);
                }
                let token = app.token(&["feasibility"], projects);
                verdict(&app.post("/check", &token, body).await)
            }
        };
        // p2 has only P2-A, in a fibra region: centro (empresa) is p1's.
        assert_eq!(ask(&["p2"], None).await, v(true, "null", &["fibra-600"]));
        assert_eq!(
            ask(&["p2"], Some("empresa")).await,
            v(false, "plan_not_available", &["fibra-600"])
        );
        assert_eq!(
            ask(&["p1"], Some("empresa")).await,
            v(true, "null", &["empresa", "fibra-600"])
        );
        assert_eq!(
            ask(&["elsewhere"], None).await,
            v(false, "no_coverage", &[])
        );
    }
);
