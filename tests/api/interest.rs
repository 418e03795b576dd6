//! Interests: registered when the plan cannot be sold at the point, seen as reservations
//! are, re-checked after changes that can make the point feasible (notified with a
//! `coverage.available` event to the integration that registered it), erased on schedule.

use crate::helpers::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Far north of the fixture's network: no box within any radius.
fn far() -> (f64, f64) {
    from_centre(0.0, 5000.0)
}

fn interest_body(at: (f64, f64), plan: &str) -> Value {
    json!({"lat": at.0, "lon": at.1, "plan_id": plan, "address": "Rua Longe 5, Sao Paulo",
        "contact": {"name": "Ana Souza", "email": "ana@example.com", "phone": "+5511912345678"},
        "consent": true, "external_ref": "lead-1"})
}

fn integration(id: &str, modules: &[&str]) -> Value {
    json!({"id": id, "name": format!("Partner {id}"), "projects": ["p1"], "modules": modules,
        "contacts": {"alert": ["a@x.example"], "emergency": ["+5511999990000"],
            "technical": ["t@x.example"], "operational": ["o@x.example"],
            "operational_public": "s@x.example"},
        "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]})
}

async fn partner_key(app: &TestApp, id: &str, modules: &[&str]) -> String {
    let admin = app.admin();
    let r = app
        .post("/integrations", &admin, integration(id, modules))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(
            &format!("/integrations/{id}/keys"),
            &admin,
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["key"].as_str().unwrap().to_owned()
}

/// The ids of a page of interests.
fn interest_ids(r: &Reply) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

impl TestApp {
    async fn register(&self, token: &str, body: Value) -> String {
        let r = self.post("/interest", token, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "waiting");
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// The interest once it is no longer waiting (the contract: within 5 s of the change).
    async fn notified(&self, id: &str) -> Value {
        let admin = self.admin();
        let started = std::time::Instant::now();
        loop {
            let r = self.get(&format!("/interest/{id}"), &admin).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body["status"] != "waiting" || started.elapsed() > Duration::from_secs(5) {
                return r.body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The stored events of a type, as (subject, body).
    async fn events_of(&self, kind: &str) -> Vec<(String, Value)> {
        let sql = if self.config.database_url.starts_with("sqlite:") {
            format!(
                "SELECT COALESCE((SELECT json_group_array(json_array(subject, body)) \
                 FROM (SELECT * FROM events WHERE type = '{kind}' ORDER BY seq)), '[]')"
            )
        } else {
            format!(
                "SELECT COALESCE((SELECT json_agg(json_build_array(subject, body) ORDER BY seq)::text \
                 FROM events WHERE type = '{kind}'), '[]')"
            )
        };
        let text = self.sql_text(&sql).await.unwrap_or_else(|| "[]".into());
        serde_json::from_str::<Vec<(String, String)>>(&text)
            .unwrap()
            .into_iter()
            .map(|(s, b)| (s, serde_json::from_str(&b).unwrap()))
            .collect()
    }
}

on_both_engines!(
    an_interest_needs_consent_a_plan_and_a_way_to_reach,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let writer = app.token(&["reservations:write", "reservations:read"], &["*"]);
        let r = app
            .post("/interest", &writer, interest_body(far(), "fibra-600"))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        for field in ["id", "created_at", "updated_at"] {
            assert!(r.body[field].is_string(), "{field}: {}", r.body);
        }
        assert_eq!(r.body["status"], "waiting");
        assert_eq!(r.body["plan_id"], "fibra-600");
        assert_eq!(r.body["contact"]["email"], "ana@example.com");
        assert_eq!(r.body["address"], "Rua Longe 5, Sao Paulo");
        assert_eq!(r.body["created_by"], "tester");
        assert!(r.body["box_id"].is_null() && r.body["notified_at"].is_null());
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            app.get(&format!("/interest/{id}"), &writer).await.body,
            r.body
        );

        let mut cases: Vec<(Value, &str)> = Vec::new();
        let mut without = |f: &str, field: &'static str| {
            let mut b = interest_body(far(), "fibra-600");
            b.as_object_mut().unwrap().remove(f);
            cases.push((b, field));
        };
        without("consent", "consent");
        without("plan_id", "plan_id");
        without("contact", "contact");
        without("lat", "lat");
        let mut b = interest_body(far(), "fibra-600");
        b["consent"] = json!(false);
        cases.push((b, "consent"));
        let mut b = interest_body(far(), "fibra-600");
        b["contact"] = json!({"name": "Ana"});
        cases.push((b, "contact.email"));
        let mut b = interest_body(far(), "fibra-600");
        b["contact"] = json!({"email": "ana@example.com"});
        cases.push((b, "contact.name"));
        let mut b = interest_body(far(), "fibra-600");
        b["contact"]["email"] = json!("not-an-address");
        cases.push((b, "contact.email"));
        let mut b = interest_body(far(), "fibra-600");
        b["contact"]["phone"] = json!("11 9999");
        cases.push((b, "contact.phone"));
        let mut b = interest_body(far(), "fibra-600");
        b["colour"] = json!("blue");
        cases.push((b, "colour"));
        for (body, field) in cases {
            let r = app.post("/interest", &writer, body.clone()).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
        }
        // Only a phone is enough.
        let mut b = interest_body(far(), "fibra-600");
        b["contact"] = json!({"name": "Ana", "phone": "+5511912345678"});
        app.register(&writer, b).await;
        // An unknown plan is 404; a plan that can be sold there now is 409.
        app.post("/interest", &writer, interest_body(far(), "gold"))
            .await
            .assert_problem(404, "not_found");
        app.post("/interest", &writer, interest_body(C, "fibra-600"))
            .await
            .assert_problem(409, "already_feasible");
        // Nothing was stored by the refused ones.
        let r = app.get("/interest", &writer).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2, "{}", r.body);
        // The scopes: writing needs reservations:write, reading reservations:read.
        let reader = app.token(&["reservations:read"], &["*"]);
        app.post("/interest", &reader, interest_body(far(), "fibra-600"))
            .await
            .assert_problem(403, "insufficient_scope");
        app.send("DELETE", &format!("/interest/{id}"), Some(&reader), None)
            .await
            .assert_problem(403, "insufficient_scope");
        let only_writer = app.token(&["reservations:write"], &["*"]);
        app.get(&format!("/interest/{id}"), &only_writer)
            .await
            .assert_problem(403, "insufficient_scope");
    }
);

on_both_engines!(
    interests_are_listed_newest_first_in_pages,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(
                app.register(&admin, interest_body(far(), "fibra-600"))
                    .await,
            );
        }
        let r = app
            .send(
                "DELETE",
                &format!("/interest/{}", ids[0]),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, 204);
        let mut seen = Vec::new();
        let mut path = "/interest?limit=2".to_owned();
        loop {
            let r = app.get(&path, &admin).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let items = r.body["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
            match r.body["next_cursor"].as_str() {
                Some(c) => path = format!("/interest?limit=2&cursor={c}"),
                None => break,
            }
        }
        let mut newest_first = ids.clone();
        newest_first.reverse();
        assert_eq!(seen, newest_first);
        let r = app.get("/interest?status=waiting", &admin).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 4);
        let r = app.get("/interest?status=withdrawn", &admin).await;
        assert_eq!(r.body["items"][0]["id"], ids[0].as_str());
        for (query, field) in [
            ("status=gone", "status"),
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("cursor=nonsense", "cursor"),
        ] {
            let r = app.get(&format!("/interest?{query}"), &admin).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
        }
    }
);

on_both_engines!(
    an_interest_is_seen_as_a_reservation_would_be,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let key_a = partner_key(&app, "a", &["reservations"]).await;
        let key_b = partner_key(&app, "b", &["reservations"]).await;
        let key_m = partner_key(&app, "m", &["reservations_manage"]).await;
        let mine = app
            .register(&key_a, interest_body(far(), "fibra-600"))
            .await;
        let r = app.get(&format!("/interest/{mine}"), &key_a).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["created_by"], "a");
        // Another integration's key without reservations:manage: it does not exist.
        app.get(&format!("/interest/{mine}"), &key_b)
            .await
            .assert_problem(404, "not_found");
        app.send("DELETE", &format!("/interest/{mine}"), Some(&key_b), None)
            .await
            .assert_problem(404, "not_found");
        assert_eq!(app.get("/interest", &key_b).await.body["items"], json!([]));
        // reservations:manage, and JWTs, see every interest of their projects.
        assert_eq!(
            app.get(&format!("/interest/{mine}"), &key_m).await.status,
            200
        );
        let all = app.token(&["reservations:read"], &["*"]);
        assert_eq!(
            app.get(&format!("/interest/{mine}"), &all).await.status,
            200
        );
        // One registered with p2 alone is not seen by a token of p1 alone.
        let p2 = app.token(&["reservations:write", "reservations:read"], &["p2"]);
        let theirs = app.register(&p2, interest_body(far(), "fibra-600")).await;
        let p1 = app.token(&["reservations:read"], &["p1"]);
        app.get(&format!("/interest/{theirs}"), &p1)
            .await
            .assert_problem(404, "not_found");
        let listed = interest_ids(&app.get("/interest", &p1).await);
        assert!(
            listed.contains(&mine) && !listed.contains(&theirs),
            "{listed:?}"
        );
        assert_eq!(
            app.get(&format!("/interest/{theirs}"), &p2).await.status,
            200
        );
        // A's key lists only its own.
        assert_eq!(
            interest_ids(&app.get("/interest", &key_a).await),
            std::slice::from_ref(&mine)
        );
        // And withdraws it.
        let r = app
            .send("DELETE", &format!("/interest/{mine}"), Some(&key_a), None)
            .await;
        assert_eq!(r.status, 204);
    }
);

on_both_engines!(
    delete_erases_the_contact_and_keeps_the_record,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let id = app
            .register(&admin, interest_body(far(), "fibra-600"))
            .await;
        let r = app
            .send("DELETE", &format!("/interest/{id}"), Some(&admin), None)
            .await;
        assert_eq!(r.status, 204);
        let r = app.get(&format!("/interest/{id}"), &admin).await;
        assert_eq!(r.status, 200, "the record stays");
        assert_eq!(r.body["status"], "withdrawn");
        assert!(
            r.body["contact"].is_null() && r.body["address"].is_null(),
            "{}",
            r.body
        );
        assert!(r.body["erased_at"].is_string());
        assert_eq!(r.body["external_ref"], "lead-1");
        let kept = app
            .sql_text(&format!("SELECT COUNT(*) FROM interests WHERE id = '{id}' AND contact IS NULL AND address IS NULL"))
            .await;
        assert_eq!(kept.as_deref(), Some("1"));
        // Again: nothing more to erase, still 204; an unknown id is 404.
        let r = app
            .send("DELETE", &format!("/interest/{id}"), Some(&admin), None)
            .await;
        assert_eq!(r.status, 204);
        app.send("DELETE", "/interest/nope", Some(&admin), None)
            .await
            .assert_problem(404, "not_found");
        // A withdrawn interest is never notified.
        let r = app
            .import("p1", "upsert", json!({"type": "FeatureCollection", "features": [
                box_feature("B-N", from_centre(0.0, 5010.0), "deployed", json!([attendance("B-N-S1", 8, 0)])),
                region_feature("norte", -46.7, -23.6, -46.5, -23.4, &["fibra"]),
            ]}))
            .await;
        assert_eq!(r.status, 200);
        app.app.recheck_interests().await.unwrap();
        assert_eq!(app.notified(&id).await["status"], "withdrawn");
    }
);

/// A local webhook receiver: the bodies it was sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let server = actix_web::HttpServer::new(move || {
        let sink = sink.clone();
        actix_web::App::new().default_service(actix_web::web::to(
            move |body: actix_web::web::Bytes| {
                let sink = sink.clone();
                async move {
                    if let Ok(v) = serde_json::from_slice(&body) {
                        sink.lock().unwrap().push(v);
                    }
                    actix_web::HttpResponse::NoContent().finish()
                }
            },
        ))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let url = format!("http://{}/hook", server.addrs()[0]);
    tokio::spawn(server.run());
    (url, got)
}

on_both_engines!(
    an_import_that_reaches_a_waiting_interest_notifies_it_with_an_event,
    |app: TestApp| async move {
        let app = app
            .restart_with(|c| {
                c.webhook_allow_http = true;
                c.webhook_allow_private = true;
            })
            .await
            .with_fixture()
            .await;
        let admin = app.admin();
        let key = partner_key(&app, "crm", &["reservations", "events"]).await;
        partner_key(&app, "other", &["reservations_manage", "events"]).await;
        let (url, got) = receiver().await;
        let (other_url, other_got) = receiver().await;
        for (integration, url) in [("crm", &url), ("other", &other_url)] {
            let r = app
                .post(
                    &format!("/integrations/{integration}/webhooks"),
                    &admin,
                    json!({"url": url, "events": ["coverage.available"]}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let waiting = app.register(&key, interest_body(far(), "fibra-600")).await;
        // Another plan at the same point stays waiting: the import does not reach it.
        let other_plan = app.register(&key, interest_body(far(), "nowhere")).await;
        // The network reaches the point: a deployed box 20 m away in a `fibra` region.
        let (lat, lon) = from_centre(0.0, 5020.0);
        let r = app
            .import("p1", "upsert", json!({"type": "FeatureCollection", "features": [
                box_feature("B-N", (lat, lon), "deployed", json!([attendance("B-N-S1", 8, 0)])),
                region_feature("norte", lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01, &["fibra"]),
            ]}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let i = app.notified(&waiting).await;
        assert_eq!(i["status"], "notified", "{i}");
        assert_eq!(i["box_id"], "B-N");
        assert_eq!(i["project"], "p1");
        let d = i["distance_m"].as_f64().unwrap();
        assert!((d - 20.0).abs() < 0.1, "{d}");
        assert!(i["notified_at"].is_string());
        assert_eq!(i["contact"]["name"], "Ana Souza", "kept until erased");
        assert_eq!(app.notified(&other_plan).await["status"], "waiting");
        // The event, written with the status change: the interest as GET shows it.
        let events = app.events_of("coverage.available").await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].0, waiting);
        assert_eq!(events[0].1["data"], i);
        // Delivered to the webhook of the integration that registered it, and no other.
        let started = std::time::Instant::now();
        while got.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let delivered = got.lock().unwrap().clone();
        assert_eq!(delivered.len(), 1, "{delivered:?}");
        assert_eq!(delivered[0]["type"], "coverage.available");
        assert_eq!(delivered[0]["data"]["id"], waiting.as_str());
        assert!(other_got.lock().unwrap().is_empty());
        // Checking again notifies nothing twice.
        assert_eq!(app.app.recheck_interests().await.unwrap(), 0);
        assert_eq!(app.events_of("coverage.available").await.len(), 1);
    }
);

on_both_engines!(
    a_freed_port_or_a_wider_radius_notifies_waiting_interests,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        // A one-port box far from the others, and a plan sold anywhere.
        let spot = (-10.0, -40.0);
        let r = app
            .import(
                "p3",
                "upsert",
                json!({"type": "FeatureCollection", "features": [
                    box_feature("X-1", spot, "deployed", json!([attendance("X-1-S1", 1, 0)])),
                ]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = app
            .send(
                "PUT",
                "/plans/basic",
                Some(&admin),
                Some(json!({"name": "Basic", "tags": []}).to_string()),
            )
            .await;
        assert_eq!(r.status, 201);
        let held = app
            .post(
                "/reservations",
                &admin,
                reservation_body(json!({"lat": spot.0, "lon": spot.1, "plan_id": "basic"})),
            )
            .await;
        assert_eq!(held.status, 201, "{}", held.body);
        let full = app.register(&admin, interest_body(spot, "basic")).await;
        // 400 m away: beyond the default radius of 250 m.
        let beyond = geo_offset(spot, 400.0);
        let distant = app.register(&admin, interest_body(beyond, "basic")).await;
        let r = app
            .post(
                &format!("/reservations/{}/cancel", held.body["id"].as_str().unwrap()),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let i = app.notified(&full).await;
        assert_eq!(
            (&i["status"], &i["box_id"]),
            (&json!("notified"), &json!("X-1")),
            "{i}"
        );
        assert_eq!(app.notified(&distant).await["status"], "waiting");
        // The default radius grows: the re-check uses it.
        let r = app
            .send(
                "PATCH",
                "/settings",
                Some(&admin),
                Some(json!({"default_radius_m": 500}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let i = app.notified(&distant).await;
        assert_eq!(i["status"], "notified", "{i}");
        assert!(
            (i["distance_m"].as_f64().unwrap() - 400.0).abs() < 0.5,
            "{i}"
        );
        assert_eq!(app.events_of("coverage.available").await.len(), 2);
    }
);

/// The point `metres` due east of `at`.
fn geo_offset(at: (f64, f64), metres: f64) -> (f64, f64) {
    use geo::{Destination, Geodesic, Point};
    let p = Geodesic.destination(Point::new(at.1, at.0), 90.0, metres);
    (p.y(), p.x())
}

on_both_engines!(contacts_are_erased_on_schedule, |app: TestApp| async move {
    let app = app
        .restart_with(|c| c.interest_ttl_s = 1)
        .await
        .with_fixture()
        .await;
    let admin = app.admin();
    let id = app
        .register(&admin, interest_body(far(), "fibra-600"))
        .await;
    app.app.expire_overdue().await.unwrap();
    let r = app.get(&format!("/interest/{id}"), &admin).await;
    assert_eq!(r.body["status"], "waiting", "not yet: {}", r.body);
    assert!(r.body["contact"].is_object());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The expiry job erases it: lapsed, the record kept.
    app.app.expire_overdue().await.unwrap();
    let r = app.get(&format!("/interest/{id}"), &admin).await;
    assert_eq!(r.body["status"], "lapsed", "{}", r.body);
    assert!(r.body["contact"].is_null() && r.body["address"].is_null());
    assert_eq!(r.body["plan_id"], "fibra-600");
});

on_both_engines!(
    a_notified_interest_keeps_its_contact_thirty_days,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let id = app
            .register(&admin, interest_body(far(), "fibra-600"))
            .await;
        let (lat, lon) = from_centre(0.0, 5020.0);
        let r = app
            .import("p1", "upsert", json!({"type": "FeatureCollection", "features": [
                box_feature("B-N", (lat, lon), "deployed", json!([attendance("B-N-S1", 8, 0)])),
                region_feature("norte", lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01, &["fibra"]),
            ]}))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(app.notified(&id).await["status"], "notified");
        let now = chrono::Utc::now();
        assert_eq!(
            app.app
                .erase_due_interests(now + chrono::TimeDelta::days(29))
                .await
                .unwrap(),
            0
        );
        assert!(app.get(&format!("/interest/{id}"), &admin).await.body["contact"].is_object());
        assert_eq!(
            app.app
                .erase_due_interests(now + chrono::TimeDelta::days(31))
                .await
                .unwrap(),
            1
        );
        let r = app.get(&format!("/interest/{id}"), &admin).await;
        assert_eq!(r.body["status"], "notified", "{}", r.body);
        assert!(r.body["contact"].is_null() && r.body["address"].is_null());
        // Also from the event that carried it.
        let events = app.events_of("coverage.available").await;
        assert_eq!(events.len(), 1);
        assert!(events[0].1["data"]["contact"].is_null(), "{}", events[0].1);
        assert!(events[0].1["data"]["address"].is_null());
        // Without a notification, 180 days by default.
        let waiting = app
            .register(&admin, interest_body(from_centre(0.0, 9000.0), "fibra-600"))
            .await;
        assert_eq!(
            app.app
                .erase_due_interests(now + chrono::TimeDelta::days(179))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            app.app
                .erase_due_interests(now + chrono::TimeDelta::days(181))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            app.get(&format!("/interest/{waiting}"), &admin).await.body["status"],
            "lapsed"
        );
    }
);

on_both_engines!(
    text_no_engine_can_store_is_refused,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        for (field, value) in [
            (
                "contact.name",
                json!({"name": "A\u{0}", "email": "a@example.com"}),
            ),
            (
                "contact.email",
                json!({"name": "A", "email": "a\u{0}@example.com"}),
            ),
        ] {
            let mut b = interest_body(far(), "fibra-600");
            b["contact"] = value;
            let r = app.post("/interest", &admin, b).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
        }
        let mut b = interest_body(far(), "fibra-600");
        b["address"] = json!("Rua \u{0}");
        app.post("/interest", &admin, b)
            .await
            .assert_problem(422, "validation_failed");
        app.get("/interest/%00", &admin)
            .await
            .assert_problem(404, "not_found");
        app.get(
            "/demand?bbox=-47,-24,-46,-23&plan_id=%00",
            &app.token(&["demand:read"], &["*"]),
        )
        .await
        .assert_problem(422, "validation_failed");
        assert_eq!(app.get("/interest", &admin).await.body["items"], json!([]));
    }
);
