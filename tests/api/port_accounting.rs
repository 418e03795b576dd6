//! Port accounting between imports and reservations: each port free, used, held or
//! installed; imports move displaced holds, never take an installed port, and catch up
//! with installs.

use crate::helpers::*;
use serde_json::{Value, json};

fn d_with(ports: u32, used_ports: &[u32]) -> Value {
    json!({"type": "FeatureCollection", "features": [box_feature("B-D", at_d(), "deployed",
        json!([{"id": "B-D-S1", "kind": "attendance", "ports": ports, "used_ports": used_ports}]))]})
}

async fn splitter(app: &TestApp, box_id: &str, i: usize) -> Value {
    let detail = app.get(&format!("/boxes/{box_id}"), &app.admin()).await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    detail.body["splitters"][i].clone()
}

/// (used_ports, held_ports, installed_ports, free)
fn states(s: &Value) -> (Value, Value, Value, u64) {
    (
        s["used_ports"].clone(),
        s["held_ports"].clone(),
        s["installed_ports"].clone(),
        s["free"].as_u64().unwrap(),
    )
}

async fn hold(app: &TestApp, box_id: &str) -> Value {
    let r = app
        .post(
            "/reservations",
            &app.admin(),
            reservation_body(json!({"box_id": box_id})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

async fn installs_not_caught_up(app: &TestApp, confirmed: bool) -> Vec<String> {
    let page = app
        .get(
            &format!("/reservations?status=installed&inventory_confirmed={confirmed}"),
            &app.admin(),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

on_both_engines!(
    imports_move_holds_and_catch_up_with_installs,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let first = hold(&app, "B-D").await;
        let id = first["id"].as_str().unwrap().to_owned();
        assert_eq!(first["port"], 1);
        assert_eq!(first["port_moves"], json!([]));

        // The inventory now shows port 1 used: the hold moves to port 2, and is listed.
        let moved = app.import("p1", "upsert", d_with(4, &[1])).await;
        assert_eq!(moved.status, 200, "{}", moved.body);
        assert_eq!(
            moved.body["moved"],
            json!([{"id": id, "code": first["code"], "from": {"splitter_id": "B-D-S1", "port": 1},
                    "to": {"splitter_id": "B-D-S1", "port": 2}}])
        );
        let r = app.get(&format!("/reservations/{id}"), &admin).await.body;
        assert_eq!(r["port"], 2);
        assert_eq!(r["port_moves"][0]["from"]["port"], 1);
        assert_eq!(r["port_moves"][0]["to"]["port"], 2);
        assert!(r["port_moves"][0]["at"].is_string());
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(states(&s), (json!([1]), json!([2]), json!([]), 2));

        // Installed: the port stays occupied by the reservation, the inventory untouched.
        for action in ["confirm", "complete"] {
            let t = app
                .post(&format!("/reservations/{id}/{action}"), &admin, json!({}))
                .await;
            assert_eq!(t.status, 200, "{}", t.body);
        }
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(states(&s), (json!([1]), json!([]), json!([2]), 2));
        assert_eq!(s["used"], 1);
        assert_eq!(installs_not_caught_up(&app, false).await, vec![id.clone()]);
        let next = hold(&app, "B-D").await;
        assert_eq!(next["port"], 3, "the installed port is not free");

        // Yesterday's export (port 2 not yet used) frees nothing.
        assert_eq!(
            app.import("p1", "upsert", d_with(4, &[1])).await.status,
            200
        );
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(states(&s), (json!([1]), json!([3]), json!([2]), 1));

        // Shrinking to 2 ports leaves the hold on port 3 nowhere to go: refused, unchanged.
        let refused = app.import("p1", "upsert", d_with(2, &[1])).await;
        refused.assert_problem(409, "ports_held");
        assert_eq!(
            refused.body["reservations"],
            json!([{"id": next["id"], "code": next["code"]}])
        );
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(s["ports"], 4);
        assert_eq!(states(&s), (json!([1]), json!([3]), json!([2]), 1));

        // The export catches up with the install: confirmed, and from then on the port
        // follows the inventory.
        assert_eq!(
            app.import("p1", "upsert", d_with(4, &[1, 2])).await.status,
            200
        );
        let r = app.get(&format!("/reservations/{id}"), &admin).await.body;
        assert!(r["inventory_confirmed_at"].is_string(), "{r}");
        assert_eq!(r["status"], "installed");
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(states(&s), (json!([1, 2]), json!([3]), json!([]), 1));
        assert!(installs_not_caught_up(&app, false).await.is_empty());
        assert_eq!(installs_not_caught_up(&app, true).await, vec![id.clone()]);
        assert_eq!(
            app.import("p1", "upsert", d_with(4, &[1])).await.status,
            200
        );
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(states(&s), (json!([1]), json!([3]), json!([]), 2));
        // Feasibility agrees with the box.
        let f = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["p1"]}))
            .await;
        assert_eq!(free_of(&f, "B-D"), Some(2));
        app.get("/reservations?inventory_confirmed=maybe", &admin)
            .await
            .assert_problem(422, "validation_failed");
    }
);

on_both_engines!(
    imports_never_leave_a_held_or_installed_port_without_its_customer,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        // B-A: attendance S1 (8 ports, 3 used) and a connection splitter.
        let held = hold(&app, "B-A").await;
        assert_eq!(
            (held["splitter_id"].as_str(), held["port"].as_u64()),
            (Some("B-A-S1"), Some(4))
        );
        // S1 made a connection splitter, with a new attendance S2: the hold moves there.
        let a = |splitters: Value| json!({"type": "FeatureCollection", "features": [box_feature("B-A", at_a(), "deployed", splitters)]});
        let s1_connection = json!({"id": "B-A-S1", "kind": "connection", "ports": 8, "used": 3});
        let r = app
            .import(
                "p1",
                "upsert",
                a(json!([s1_connection, attendance("B-A-S2", 4, 1)])),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["moved"][0]["to"],
            json!({"splitter_id": "B-A-S2", "port": 2})
        );
        // Only the connection splitter left: nowhere for the hold; refused.
        let refused = app.import("p1", "upsert", a(json!([s1_connection]))).await;
        refused.assert_problem(409, "ports_held");
        assert_eq!(refused.body["reservations"][0]["code"], held["code"]);
        assert_eq!(splitter(&app, "B-A", 1).await["held_ports"], json!([2]));

        // Replacing p1 without B-D would delete a held box: refused, listing it.
        let on_d = hold(&app, "B-D").await;
        let without_d = json!({"type": "FeatureCollection", "features": fixture_p1()["features"].as_array().unwrap().iter()
            .filter(|f| f["properties"]["id"] != "B-D" && f["properties"]["id"] != "B-A").cloned()
            .chain([a(json!([s1_connection, attendance("B-A-S2", 4, 1)]))["features"][0].clone()]).collect::<Vec<_>>()});
        let refused = app.import("p1", "replace", without_d).await;
        refused.assert_problem(409, "ports_held");
        assert_eq!(
            refused.body["reservations"],
            json!([{"id": on_d["id"], "code": on_d["code"]}])
        );
        assert_eq!(app.get("/boxes/B-D", &admin).await.status, 200);

        // An installed port may not be removed, even with free ports elsewhere in the box.
        let id = on_d["id"].as_str().unwrap();
        for action in ["confirm", "complete"] {
            app.post(&format!("/reservations/{id}/{action}"), &admin, json!({}))
                .await;
        }
        let two_splitters = |first: Value| {
            json!({"type": "FeatureCollection", "features": [box_feature("B-D", at_d(), "deployed",
                json!([first, attendance("B-D-S2", 8, 0)]))]})
        };
        for first in [
            json!({"id": "B-D-S1", "kind": "connection", "ports": 4, "used": 0}),
            json!({"id": "B-D-S0", "kind": "attendance", "ports": 4, "used": 0}),
        ] {
            app.import("p1", "upsert", two_splitters(first))
                .await
                .assert_problem(409, "ports_held");
        }
        let s = splitter(&app, "B-D", 0).await;
        assert_eq!(
            (s["id"].as_str(), s["installed_ports"].clone()),
            (Some("B-D-S1"), json!([1]))
        );
    }
);

on_both_engines!(
    holds_racing_imports_never_share_a_port_with_the_inventory,
    |app: TestApp| async move {
        let race = |used: Vec<u32>| {
            json!({"type": "FeatureCollection", "features": [box_feature("RACE", C, "deployed",
                json!([{"id": "RACE-S1", "kind": "attendance", "ports": 64, "used_ports": used}]))]})
        };
        assert_eq!(app.import("race", "upsert", race(vec![])).await.status, 200);
        let admin = app.admin();
        let mut holds = Vec::new();
        for i in 0..96u64 {
            let (client, base, token) = (app.client.clone(), app.base.clone(), admin.clone());
            holds.push(tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i * 3)).await;
                let r = client
                    .post(format!("{base}/reservations"))
                    .bearer_auth(token)
                    .json(&reservation_body(json!({"box_id": "RACE"})))
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            }));
        }
        // Meanwhile the inventory marks low ports used, then frees them, again and again.
        for k in 0..24u32 {
            let used: Vec<u32> = if k % 2 == 0 {
                (1..=8).collect()
            } else {
                vec![]
            };
            let r = app.import("race", "upsert", race(used)).await;
            assert!(matches!(r.status.as_u16(), 200 | 409), "{}", r.body);
        }
        let mut created = 0;
        for h in holds {
            let status = h.await.unwrap();
            assert!(matches!(status, 201 | 409), "answered {status}");
            created += usize::from(status == 201);
        }
        // The last file marks 1..=8 used once more.
        let r = app.import("race", "upsert", race((1..=8).collect())).await;
        assert!(matches!(r.status.as_u16(), 200 | 409), "{}", r.body);
        let s = splitter(&app, "RACE", 0).await;
        let used: Vec<u64> = serde_json::from_value(s["used_ports"].clone()).unwrap();
        let held: Vec<u64> = serde_json::from_value(s["held_ports"].clone()).unwrap();
        assert_eq!(held.len(), created, "{s}");
        assert!(
            held.iter().all(|p| !used.contains(p)),
            "a held port is used: {s}"
        );
        assert_eq!(
            used.len() + held.len() + s["free"].as_u64().unwrap() as usize,
            64,
            "{s}"
        );
    }
);
