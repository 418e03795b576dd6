use crate::helpers::*;
use serde_json::{Value, json};
use std::collections::HashSet;

/// The fixture with a one-second TTL and an expiry job that would not run for a year, and
/// one pending reservation on B-D: (the service, an all-scopes token, the reservation).
async fn one_second_hold_and_no_job(app: TestApp) -> (TestApp, String, Reply) {
    let app = app
        .with_fixture()
        .await
        .restart_with(|c| c.expiry_cron = "0 0 0 1 1 *".into())
        .await;
    let admin = app.admin();
    let patch = json!({"reservation_ttl_s": 1}).to_string();
    assert_eq!(
        app.send("PATCH", "/settings", Some(&admin), Some(patch))
            .await
            .status,
        200
    );
    let r = app
        .post(
            "/reservations",
            &admin,
            reservation_body(json!({"box_id": "B-D"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (app, admin, r)
}

on_both_engines!(
    a_reservation_holds_the_lowest_free_port_of_the_nearest_candidate,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let writer = app.token(&["reservations:write"], &["p1"]);
        let r = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"plan_id": "fibra-600"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let b = &r.body;
        assert_eq!(
            (
                b["status"].as_str(),
                b["project"].as_str(),
                b["box_id"].as_str()
            ),
            (Some("pending"), Some("p1"), Some("B-A"))
        );
        // B-A-S1 has ports 1..3 used: port 4 is the lowest free.
        assert_eq!(
            (b["splitter_id"].as_str(), b["port"].as_u64()),
            (Some("B-A-S1"), Some(4))
        );
        assert_eq!(b["tags"], json!(["fibra"]));
        assert_eq!(b["plan_id"], "fibra-600");
        assert_eq!(b["location"], json!({"lat": C.0, "lon": C.1}));
        assert_eq!(b["customer"]["name"], "Maria Silva");
        assert_eq!(b["address"], "Rua Exemplo 100, Sao Paulo");
        assert_eq!(b["created_by"], "tester");
        assert_eq!(b["external_ref"], "lead-8812");
        assert!((b["distance_m"].as_f64().unwrap() - geodesic(C, at_a())).abs() <= 0.01);
        let code = b["code"].as_str().unwrap();
        assert!(
            code.len() == 10 && code.starts_with("R-") && !code[2..].contains(['0', 'O', '1', 'I']),
            "{code}"
        );
        let created =
            chrono::DateTime::parse_from_rfc3339(b["created_at"].as_str().unwrap()).unwrap();
        let expires =
            chrono::DateTime::parse_from_rfc3339(b["expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((expires - created).num_seconds(), 604_800);
        assert_eq!(
            (b["confirmed_at"].clone(), b["closed_at"].clone()),
            (Value::Null, Value::Null)
        );

        // Found by id and by code exactly as written.
        let reader = app.token(&["reservations:read"], &["p1"]);
        let by_id = app
            .get(
                &format!("/reservations/{}", b["id"].as_str().unwrap()),
                &reader,
            )
            .await;
        assert_eq!(&by_id.body, b);
        let by_code = app.get(&format!("/reservations/{code}"), &reader).await;
        assert_eq!(&by_code.body, b);
        app.get(&format!("/reservations/{}", code.to_lowercase()), &reader)
            .await
            .assert_problem(404, "not_found");
        // Invisible to another project's token.
        app.get(
            &format!("/reservations/{code}"),
            &app.token(&["reservations:read"], &["p2"]),
        )
        .await
        .assert_problem(404, "not_found");

        // The hold shows at once; the next one takes port 5.
        let f = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["p1"]}))
            .await;
        assert_eq!(free_of(&f, "B-A"), Some(4));
        let r = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"plan_id": "fibra-600"})),
            )
            .await;
        assert_eq!(r.body["port"], 5);
        let detail = app.get("/boxes/B-A", &app.admin()).await;
        assert_eq!(detail.body["splitters"][1]["holds"], 2);
        assert_eq!(detail.body["splitters"][1]["free"], 3);
    }
);

on_both_engines!(
    a_named_box_must_itself_be_a_candidate,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let writer = app.token(&["reservations:write"], &["*"]);
        let r = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        assert_eq!(
            (
                r.status.as_u16(),
                r.body["box_id"].as_str(),
                r.body["port"].as_u64()
            ),
            (201, Some("B-D"), Some(1))
        );
        for (box_id, code) in [
            ("B-B", "no_free_ports"),
            ("B-C", "network_not_deployed"),
            ("B-E", "no_coverage"),
            ("B-NONE", "no_coverage"),
        ] {
            let r = app
                .post(
                    "/reservations",
                    &writer,
                    reservation_body(json!({"box_id": box_id})),
                )
                .await;
            r.assert_problem(409, code);
        }
        let r = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"box_id": "B-D", "plan_id": "fibra-600"})),
            )
            .await;
        r.assert_problem(409, "plan_not_available");
        let r = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"radius_m": 20, "projects": ["p1"]})),
            )
            .await;
        r.assert_problem(409, "no_coverage");
        // Another project's box does not exist for a p1 token.
        let p1 = app.token(&["reservations:write"], &["p1"]);
        app.post(
            "/reservations",
            &p1,
            reservation_body(json!({"box_id": "P2-A"})),
        )
        .await
        .assert_problem(409, "no_coverage");
    }
);

on_both_engines!(
    bad_reservation_requests_change_nothing,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let writer = app.token(&["reservations:write"], &["*"]);
        for (body, field) in [
            (
                json!({"customer": {"phone": "+5511987654321"}}),
                "customer.name",
            ),
            (json!({"address": ""}), "address"),
            (
                json!({"customer": {"name": "Ana", "phone": "11 98765"}}),
                "customer.phone",
            ),
            (
                json!({"customer": {"name": "Ana", "email": "ana-at-example"}}),
                "customer.email",
            ),
            (json!({"lat": 123}), "lat"),
            (json!({"radius_m": 99999}), "radius_m"),
        ] {
            let r = app
                .post("/reservations", &writer, reservation_body(body.clone()))
                .await;
            r.assert_problem(422, "validation_failed");
            let fields: Vec<&str> = r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&field), "{field} not in {fields:?}");
        }
        let mut no_customer = reservation_body(json!({}));
        no_customer.as_object_mut().unwrap().remove("customer");
        app.post("/reservations", &writer, no_customer)
            .await
            .assert_problem(422, "validation_failed");
        app.post(
            "/reservations",
            &writer,
            reservation_body(json!({"plan_id": "gold"})),
        )
        .await
        .assert_problem(404, "not_found");
        let r = app
            .send(
                "POST",
                "/reservations",
                Some(&writer),
                Some("{\"lat\":".into()),
            )
            .await;
        r.assert_problem(400, "malformed_json");
        let list = app.get("/reservations", &app.admin()).await;
        assert_eq!(list.body["items"], json!([]));
    }
);

on_both_engines!(
    concurrent_requests_never_hold_more_ports_than_are_free,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        // B-D has 4 free ports: 16 clients race for them.
        let writer = app.token(&["reservations:write"], &["*"]);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let (client, url, token) = (
                app.client.clone(),
                format!("{}/reservations", app.base),
                writer.clone(),
            );
            let body =
                reservation_body(json!({"box_id": "B-D", "external_ref": format!("race-{i}")}));
            tasks.push(tokio::spawn(async move {
                let res = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            }));
        }
        let mut ports = HashSet::new();
        let mut refused = 0;
        for t in tasks {
            let (status, body) = t.await.unwrap();
            match status {
                201 => assert!(
                    ports.insert(body["port"].as_u64().unwrap()),
                    "port given twice: {body}"
                ),
                409 => {
                    assert_eq!(body["code"], "no_free_ports");
                    refused += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(ports, HashSet::from([1, 2, 3, 4]));
        assert_eq!(refused, 12);
        let detail = app.get("/boxes/B-D", &app.admin()).await;
        assert_eq!(
            (
                detail.body["splitters"][0]["holds"].as_u64(),
                detail.body["splitters"][0]["free"].as_u64()
            ),
            (Some(4), Some(0))
        );
    }
);

on_both_engines!(
    concurrent_requests_with_one_key_hold_one_port,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.token(&["reservations:write", "reservations:read"], &["*"]);
        // Sent at once, so that several land in one write batch: the first holds, the
        // others with its body replay its answer, those with another body are refused.
        let mut tasks = Vec::new();
        for i in 0..12 {
            let box_id = if i % 4 == 3 { "B-A" } else { "B-D" };
            let req = app
                .client
                .post(format!("{}/reservations", app.base))
                .bearer_auth(&token)
                .header("idempotency-key", "race-key")
                .json(&reservation_body(json!({"box_id": box_id})));
            tasks.push(tokio::spawn(async move {
                let res = req.send().await.unwrap();
                (
                    box_id,
                    res.status().as_u16(),
                    res.json::<Value>().await.unwrap(),
                )
            }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        let held: Vec<&Value> = answers
            .iter()
            .filter(|a| a.1 == 201)
            .map(|a| &a.2)
            .collect();
        assert!(!held.is_empty(), "{answers:?}");
        assert!(
            held.iter().all(|b| *b == held[0]),
            "one answer, replayed: {held:?}"
        );
        let first_box = held[0]["box_id"].as_str().unwrap();
        for (box_id, status, body) in &answers {
            if *box_id == first_box {
                assert_eq!(*status, 201, "{body}");
            } else {
                assert_eq!(
                    (*status, body["code"].as_str()),
                    (422, Some("idempotency_key_reused"))
                );
            }
        }
        let list = app.get("/reservations", &token).await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            1,
            "{}",
            list.body
        );
    }
);

on_both_engines!(
    an_idempotency_key_replays_the_first_answer,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.token(&["reservations:write", "reservations:read"], &["*"]);
        let send = |key: &str, body: Value| {
            let req = app
                .client
                .post(format!("{}/reservations", app.base))
                .bearer_auth(&token)
                .header("idempotency-key", key)
                .json(&body);
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            }
        };
        let body = reservation_body(json!({"box_id": "B-D"}));
        let first = send("key-1", body.clone()).await;
        assert_eq!(first.0, 201);
        // The same JSON with keys in another order is the same body.
        let reordered: Value =
            serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(send("key-1", reordered).await, first);
        let other = send("key-1", reservation_body(json!({"box_id": "B-A"}))).await;
        assert_eq!(
            (other.0, other.1["code"].as_str()),
            (422, Some("idempotency_key_reused"))
        );
        let bad = app
            .client
            .post(format!("{}/reservations", app.base))
            .bearer_auth(&token)
            .header("idempotency-key", "has space")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        // Another integration's key is its own.
        let other_sub = app.keys.mint(
            "another",
            &["*".into()],
            &["reservations:write".into()],
            600,
        );
        let res = app
            .client
            .post(format!("{}/reservations", app.base))
            .bearer_auth(&other_sub)
            .header("idempotency-key", "key-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let app = app.restart().await;
        let token = app.token(&["reservations:write", "reservations:read"], &["*"]);
        let res = app
            .client
            .post(format!("{}/reservations", app.base))
            .bearer_auth(&token)
            .header("idempotency-key", "key-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(res.json::<Value>().await.unwrap(), first.1);
        let list = app.get("/reservations?box_id=B-D", &token).await;
        assert_eq!(
            list.body["items"].as_array().unwrap().len(),
            2,
            "one per integration, none for the replays"
        );
    }
);

on_both_engines!(
    reservations_move_through_their_lifecycle,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let writer = app.token(&["reservations:write"], &["*"]);
        let manager = app.token(&["reservations:manage"], &["*"]);
        let r = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        let id = r.body["id"].as_str().unwrap().to_owned();
        let path = |action: &str| format!("/reservations/{id}/{action}");
        app.post(&path("complete"), &manager, json!({}))
            .await
            .assert_problem(409, "invalid_transition");
        let c = app.post(&path("confirm"), &manager, json!({})).await;
        assert_eq!(
            (c.status.as_u16(), c.body["status"].as_str()),
            (200, Some("confirmed"))
        );
        assert_eq!(c.body["expires_at"], Value::Null);
        assert!(c.body["confirmed_at"].is_string());
        let again = app.post(&path("confirm"), &manager, json!({})).await;
        assert_eq!(again.body, c.body, "confirming again changes nothing");
        app.post(&path("confirm"), &writer, json!({}))
            .await
            .assert_problem(403, "insufficient_scope");
        let done = app.post(&path("complete"), &manager, json!({})).await;
        assert_eq!(
            (done.status.as_u16(), done.body["status"].as_str()),
            (200, Some("installed"))
        );
        assert!(done.body["closed_at"].is_string());
        // The port is installed: occupied, though the inventory does not show it used yet.
        let detail = app.get("/boxes/B-D", &app.admin()).await;
        let s = &detail.body["splitters"][0];
        assert_eq!(
            (s["used"].as_u64(), s["holds"].as_u64(), s["free"].as_u64()),
            (Some(0), Some(0), Some(3))
        );
        assert_eq!(
            (&s["installed_ports"], &s["held_ports"]),
            (&json!([1]), &json!([]))
        );
        for action in ["confirm", "cancel", "complete"] {
            app.post(&path(action), &manager, json!({}))
                .await
                .assert_problem(409, "invalid_transition");
        }
        // The next reservation takes port 2: 1 is installed.
        let r2 = app
            .post(
                "/reservations",
                &writer,
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        assert_eq!(r2.body["port"], 2);
        // Its creator may cancel it with reservations:write; another integration may not.
        let id2 = r2.body["id"].as_str().unwrap();
        let stranger = app.keys.mint(
            "stranger",
            &["*".into()],
            &["reservations:write".into()],
            600,
        );
        app.post(&format!("/reservations/{id2}/cancel"), &stranger, json!({}))
            .await
            .assert_problem(403, "insufficient_scope");
        let cancelled = app
            .post(&format!("/reservations/{id2}/cancel"), &writer, json!({}))
            .await;
        assert_eq!(cancelled.body["status"], "cancelled");
        let f = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["p1"]}))
            .await;
        assert_eq!(
            free_of(&f, "B-D"),
            Some(3),
            "the cancelled port is free at once"
        );
        app.post("/reservations/nope/confirm", &manager, json!({}))
            .await
            .assert_problem(404, "not_found");
    }
);

on_both_engines!(
    reservations_are_listed_newest_first_with_filters_and_cursors,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let writer = app.token(&["reservations:write"], &["*"]);
        let mut ids = Vec::new();
        for (i, box_id) in ["B-A", "B-D", "B-A", "P2-A", "B-A"].iter().enumerate() {
            let r = app
                .post(
                    "/reservations",
                    &writer,
                    reservation_body(
                        json!({"box_id": box_id, "external_ref": format!("lead-{i}")}),
                    ),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            ids.push(r.body["id"].as_str().unwrap().to_owned());
        }
        let reader = app.token(&["reservations:read"], &["*"]);
        let all = app.get("/reservations", &reader).await;
        let got: Vec<&str> = all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
        assert_eq!(got, newest_first);
        assert_eq!(all.body["next_cursor"], Value::Null);
        // Two by two with the cursor.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = match &cursor {
                Some(c) => format!("/reservations?limit=2&cursor={c}"),
                None => "/reservations?limit=2".into(),
            };
            let page = app.get(&q, &reader).await;
            seen.extend(
                page.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned()),
            );
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, newest_first);
        let count = |q: &str| {
            let (app, reader) = (&app, &reader);
            let q = q.to_owned();
            async move {
                app.get(&q, reader).await.body["items"]
                    .as_array()
                    .map_or(usize::MAX, Vec::len)
            }
        };
        assert_eq!(count("/reservations?box_id=B-A").await, 3);
        assert_eq!(count("/reservations?project=p2").await, 1);
        assert_eq!(count("/reservations?external_ref=lead-1").await, 1);
        assert_eq!(count("/reservations?status=pending").await, 5);
        assert_eq!(count("/reservations?status=confirmed").await, 0);
        let code = all.body["items"][0]["code"].as_str().unwrap().to_owned();
        assert_eq!(count(&format!("/reservations?code={code}")).await, 1);
        assert_eq!(
            count(
                "/reservations?created_from=2000-01-01T00:00:00Z&created_to=2999-01-01T00:00:00Z"
            )
            .await,
            5
        );
        assert_eq!(
            count("/reservations?created_to=2000-01-01T00:00:00Z").await,
            0
        );
        let p1_only = app.token(&["reservations:read"], &["p1"]);
        assert_eq!(
            app.get("/reservations", &p1_only).await.body["items"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
        for bad in [
            "limit=0",
            "limit=501",
            "status=held",
            "created_from=yesterday",
            "cursor=zzz",
        ] {
            app.get(&format!("/reservations?{bad}"), &reader)
                .await
                .assert_problem(422, "validation_failed");
        }
    }
);

on_both_engines!(
    overdue_pending_reservations_expire_and_forget_the_customer,
    |app: TestApp| async move {
        let app = app
            .with_fixture()
            .await
            .restart_with(|c| c.expiry_cron = "* * * * * *".into())
            .await;
        let admin = app.admin();
        app.send(
            "PATCH",
            "/settings",
            Some(&admin),
            Some(json!({"reservation_ttl_s": 2}).to_string()),
        )
        .await;
        let pending = app
            .post(
                "/reservations",
                &admin,
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        let confirmed = app
            .post(
                "/reservations",
                &admin,
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        app.post(
            &format!(
                "/reservations/{}/confirm",
                confirmed.body["id"].as_str().unwrap()
            ),
            &admin,
            json!({}),
        )
        .await;
        let path = format!("/reservations/{}", pending.body["id"].as_str().unwrap());
        let mut expired = None;
        for _ in 0..60 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let r = app.get(&path, &admin).await;
            if r.body["status"] == "expired" {
                expired = Some(r);
                break;
            }
        }
        let r = expired.expect("expired within 6 s of a 2 s TTL with a one-second job");
        assert_eq!(
            (r.body["customer"].clone(), r.body["address"].clone()),
            (Value::Null, Value::Null)
        );
        assert_eq!(r.body["code"], pending.body["code"], "the record stays");
        assert!(r.body["closed_at"].is_string());
        let c = app
            .get(
                &format!("/reservations/{}", confirmed.body["id"].as_str().unwrap()),
                &admin,
            )
            .await;
        assert_eq!(
            c.body["status"], "confirmed",
            "a confirmed reservation is never released"
        );
        let detail = app.get("/boxes/B-D", &admin).await;
        assert_eq!(detail.body["splitters"][0]["holds"], 1);
        let f = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["p1"]}))
            .await;
        assert_eq!(free_of(&f, "B-D"), Some(3));
    }
);

on_both_engines!(
    a_restart_releases_what_fell_due_while_down,
    |app: TestApp| async move {
        // Only the start-up catch-up can release it.
        let (app, admin, r) = one_second_hold_and_no_job(app).await;
        let path = format!("/reservations/{}", r.body["id"].as_str().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(
            app.get(&path, &admin).await.body["status"],
            "pending",
            "no job has run yet"
        );
        let app = app.restart().await;
        let r = app.get(&path, &app.admin()).await;
        assert_eq!(r.body["status"], "expired");
        assert_eq!(r.body["customer"], Value::Null);
    }
);

on_both_engines!(
    an_overdue_reservation_cannot_be_confirmed,
    |app: TestApp| async move {
        let (app, admin, r) = one_second_hold_and_no_job(app).await;
        let id = r.body["id"].as_str().unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        app.post(&format!("/reservations/{id}/confirm"), &admin, json!({}))
            .await
            .assert_problem(409, "invalid_transition");
        let r = app.get(&format!("/reservations/{id}"), &admin).await;
        assert_eq!(
            (r.body["status"].as_str(), r.body["customer"].clone()),
            (Some("expired"), Value::Null)
        );
    }
);

on_both_engines!(
    idempotency_keys_are_forgotten_after_a_day,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.token(&["reservations:write"], &["*"]);
        let send = |body: Value| {
            let req = app
                .client
                .post(format!("{}/reservations", app.base))
                .bearer_auth(&token)
                .header("idempotency-key", "old-key")
                .json(&body);
            async move { req.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(send(reservation_body(json!({"box_id": "B-D"}))).await, 201);
        assert_eq!(send(reservation_body(json!({"box_id": "B-A"}))).await, 422);
        // A day and a bit later (straight in the database), the job forgets the key.
        let sql = "UPDATE idempotency_keys SET created_at = created_at - 90000000000";
        if app.config.database_url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&app.config.database_url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
        } else {
            let pool = sqlx::PgPool::connect(&app.config.database_url)
                .await
                .unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        app.app.expire_overdue().await.unwrap();
        assert_eq!(
            send(reservation_body(json!({"box_id": "B-A"}))).await,
            201,
            "the key is free again"
        );
    }
);

on_both_engines!(
    a_replay_answers_the_reservation_as_it_is_now_and_keeps_nothing_personal,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.token(&["reservations:write"], &["*"]);
        let send = || {
            let req = app
                .client
                .post(format!("{}/reservations", app.base))
                .bearer_auth(&token)
                .header("idempotency-key", "replay-key")
                .json(&reservation_body(json!({"box_id": "B-D"})));
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (status, first) = send().await;
        assert_eq!(status, 201);
        let id = first["id"].as_str().unwrap().to_owned();
        // What is kept for the key: the reservation's id and an HMAC, nothing personal.
        let kept = app
            .sql_text("SELECT reservation_id || ' ' || request_hmac FROM idempotency_keys")
            .await
            .unwrap();
        assert!(kept.starts_with(&id), "{kept}");
        for personal in ["Maria", "+55", "@example", "Rua"] {
            assert!(!kept.contains(personal), "{kept}");
        }
        // Expired and erased: the replay answers 201 with the reservation as it is now.
        app.sql(&format!(
            "UPDATE reservations SET expires_at = 0 WHERE id = '{id}'"
        ))
        .await;
        app.app.expire_overdue().await.unwrap();
        let (status, replayed) = send().await;
        assert_eq!(status, 201);
        assert_eq!(
            (
                replayed["id"].as_str(),
                replayed["status"].as_str(),
                &replayed["customer"],
                &replayed["address"]
            ),
            (
                Some(id.as_str()),
                Some("expired"),
                &Value::Null,
                &Value::Null
            )
        );
    }
);

on_both_engines!(
    the_expiry_job_prunes_the_change_log,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let count = || app.sql_text("SELECT COUNT(*) FROM changes");
        let before: i64 = count().await.unwrap().parse().unwrap();
        assert!(before >= 2, "the fixture's imports are logged");
        // Two hours pass for the rows so far; one more change is recent.
        app.sql("UPDATE changes SET created_at = created_at - 7200000000")
            .await;
        let r = app
            .post(
                "/reservations",
                &app.admin(),
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        assert_eq!(r.status, 201);
        app.app.expire_overdue().await.unwrap();
        assert_eq!(
            count().await.as_deref(),
            Some("1"),
            "only the recent change is kept"
        );
        // The service still follows: a later change reaches the index.
        let r = app
            .post(
                "/reservations",
                &app.admin(),
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        assert_eq!(r.body["port"], 2);
    }
);
