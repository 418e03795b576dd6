//! The outbox: each change writes its event in its own transaction, with the body a
//! webhook will get; personal data in events is erased with the reservation's.

use crate::helpers::*;
use serde_json::{Value, json};

impl TestApp {
    /// The stored events, oldest first, as (type, subject, body).
    async fn events(&self) -> Vec<(String, String, Value)> {
        let sql = if self.config.database_url.starts_with("sqlite:") {
            "SELECT COALESCE((SELECT json_group_array(json_array(type, subject, body)) \
             FROM (SELECT * FROM events ORDER BY seq)), '[]')"
        } else {
            "SELECT COALESCE((SELECT json_agg(json_build_array(type, subject, body) ORDER BY seq)::text \
             FROM events), '[]')"
        };
        let text = self.sql_text(sql).await.unwrap_or_else(|| "[]".into());
        serde_json::from_str::<Vec<(String, String, String)>>(&text)
            .unwrap()
            .into_iter()
            .map(|(t, s, b)| (t, s, serde_json::from_str(&b).unwrap()))
            .collect()
    }
}

on_both_engines!(each_change_writes_its_event, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let admin = app.admin();
    let imported = app.events().await;
    assert!(
        imported.iter().all(|(t, _, _)| t == "inventory.imported") && imported.len() == 2,
        "{imported:?}"
    );
    assert_eq!(imported[0].2["data"]["project"], "p1");
    assert_eq!(imported[0].2["data"]["boxes"]["added"], 5);
    let held = app
        .post(
            "/reservations",
            &admin,
            reservation_body(json!({"box_id": "B-D"})),
        )
        .await;
    assert_eq!(held.status, 201, "{}", held.body);
    let id = held.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&format!("/reservations/{id}/confirm"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post(&format!("/reservations/{id}/cancel"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 200);
    // A refused request writes nothing.
    let r = app
        .post(&format!("/reservations/{id}/confirm"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 409);
    let events = app.events().await;
    let about: Vec<&str> = events
        .iter()
        .filter(|(_, s, _)| *s == id)
        .map(|(t, _, _)| t.as_str())
        .collect();
    assert_eq!(
        about,
        [
            "reservation.created",
            "reservation.confirmed",
            "reservation.cancelled"
        ]
    );
    let (_, _, created) = events
        .iter()
        .find(|(t, s, _)| t == "reservation.created" && *s == id)
        .unwrap();
    assert!(
        created["id"].as_str().unwrap().starts_with("evt_"),
        "{created}"
    );
    assert_eq!(created["type"], "reservation.created");
    assert_eq!(created["data"]["id"], held.body["id"]);
    assert_eq!(
        created["data"]["customer"], held.body["customer"],
        "as GET showed it"
    );
    let (_, _, cancelled) = events
        .iter()
        .find(|(t, s, _)| t == "reservation.cancelled" && *s == id)
        .unwrap();
    assert_eq!(cancelled["data"]["status"], "cancelled");
    // Its time: the receiver keeps the newest state whatever order events come in.
    assert_eq!(
        cancelled["data"]["updated_at"],
        cancelled["data"]["closed_at"]
    );
    assert_eq!(created["data"]["updated_at"], created["data"]["created_at"]);

    // An import that takes a held port moves the hold and says so.
    let other = app
        .post(
            "/reservations",
            &admin,
            reservation_body(json!({"box_id": "B-D"})),
        )
        .await;
    let other_id = other.body["id"].as_str().unwrap().to_owned();
    let port = other.body["port"].as_u64().unwrap();
    let taken = json!({"type": "FeatureCollection", "features": [box_feature("B-D", at_d(), "deployed",
        json!([{"id": "B-D-S1", "kind": "attendance", "ports": 4, "used_ports": [port]}]))]});
    let r = app.import("p1", "upsert", taken).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let events = app.events().await;
    let (_, _, moved) = events
        .iter()
        .find(|(t, s, _)| t == "reservation.port_moved" && *s == other_id)
        .expect("a port_moved event");
    assert_ne!(moved["data"]["port"].as_u64().unwrap(), port, "{moved}");
    assert_eq!(moved["data"]["port_moves"].as_array().unwrap().len(), 1);
});

on_both_engines!(
    expiry_is_told_and_erases_personal_data_from_earlier_events,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let held = app
            .post(
                "/reservations",
                &admin,
                reservation_body(json!({"box_id": "B-D"})),
            )
            .await;
        let id = held.body["id"].as_str().unwrap().to_owned();
        let name = held.body["customer"]["name"].as_str().unwrap().to_owned();
        app.sql(&format!(
            "UPDATE reservations SET expires_at = 1 WHERE id = '{id}'"
        ))
        .await;
        assert_eq!(app.app.expire_overdue().await.unwrap(), 1);
        let events = app.events().await;
        let about: Vec<&(String, String, Value)> =
            events.iter().filter(|(_, s, _)| *s == id).collect();
        assert_eq!(
            about.iter().map(|(t, _, _)| t.as_str()).collect::<Vec<_>>(),
            ["reservation.created", "reservation.expired"]
        );
        assert_eq!(about[1].2["data"]["status"], "expired");
        for (_, _, body) in about {
            assert_eq!(body["data"]["customer"], Value::Null, "{body}");
            assert_eq!(body["data"]["address"], Value::Null, "{body}");
            assert!(!body.to_string().contains(&name));
        }
    }
);
