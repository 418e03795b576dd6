//! Demand: answers of `POST /feasibility` and `POST /check` counted by H3 cell, plan,
//! outcome and day, flushed to the store, and drawn by `GET /demand`.

use crate::helpers::*;
use h3o::{LatLng, Resolution};
use serde_json::{Value, json};

const SP: &str = "-47,-24,-46,-23";

/// The cell counting `at` at `res`: the ancestor of its resolution-9 cell (H3 cells do not
/// nest exactly, so not always the cell of the point itself at that resolution).
fn cell(at: (f64, f64), res: u8) -> String {
    LatLng::new(at.0, at.1)
        .unwrap()
        .to_cell(Resolution::Nine)
        .parent(Resolution::try_from(res).unwrap())
        .unwrap()
        .to_string()
}

/// The features of a demand map by cell.
fn by_cell(r: &Reply) -> std::collections::BTreeMap<String, Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/geo+json");
    assert_eq!(r.body["type"], "FeatureCollection");
    r.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "Feature");
            assert_eq!(f["geometry"]["type"], "Polygon");
            let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
            assert!(ring.len() >= 6 && ring.first() == ring.last(), "{f}");
            let c = f["properties"]["cell"].as_str().unwrap().to_owned();
            assert_eq!(c.len(), 15);
            assert!(c.chars().all(|ch| ch.is_ascii_hexdigit()));
            (c, f["properties"].clone())
        })
        .collect()
}

fn demand_reader(app: &TestApp) -> String {
    app.token(&["demand:read"], &["*"])
}

impl TestApp {
    async fn ask(&self, at: (f64, f64), plan: Option<&str>) -> Reply {
        let mut body = json!({"lat": at.0, "lon": at.1});
        if let Some(p) = plan {
            body["plan_id"] = json!(p);
        }
        let r = self.feasibility(body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    async fn demand(&self, query: &str) -> Reply {
        self.get(&format!("/demand?{query}"), &demand_reader(self))
            .await
    }
}

on_both_engines!(
    answers_are_counted_by_cell_plan_and_outcome,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        assert_eq!(app.ask(C, Some("fibra-600")).await.body["feasible"], true);
        assert_eq!(
            app.ask(C, Some("nowhere")).await.body["reason"],
            "plan_not_available"
        );
        // A check counts once, under no plan without one.
        let r = app
            .post("/check", &admin, json!({"lat": C.0, "lon": C.1}))
            .await;
        assert_eq!(r.body["feasible"], true, "{}", r.body);
        // Somewhere else: its own cell, far from the network.
        let rio = (-22.9068, -43.1729);
        assert_eq!(app.ask(rio, None).await.body["reason"], "no_coverage");
        // Nothing is stored before the flush; everything after it.
        assert!(
            app.demand(&format!("bbox={SP}")).await.body["features"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert!(app.app.flush_demand().await.unwrap() > 0);

        let map = by_cell(&app.demand(&format!("bbox={SP}&resolution=9")).await);
        assert_eq!(map.len(), 1, "{map:?}");
        let c = &map[&cell(C, 9)];
        assert_eq!(c["resolution"], 9);
        assert_eq!(
            (&c["total"], &c["feasible"], &c["plan_not_available"]),
            (&json!(3), &json!(2), &json!(1)),
            "{c}"
        );
        for r in ["no_coverage", "network_not_deployed", "no_free_ports"] {
            assert_eq!(c[r], 0, "{c}");
        }
        // By plan, and by reason.
        let map = by_cell(
            &app.demand(&format!("bbox={SP}&resolution=9&plan_id=nowhere"))
                .await,
        );
        assert_eq!(map[&cell(C, 9)]["total"], 1);
        assert_eq!(map[&cell(C, 9)]["plan_not_available"], 1);
        let map = by_cell(
            &app.demand(&format!("bbox={SP}&resolution=9&reason=plan_not_available"))
                .await,
        );
        assert_eq!(
            (&map[&cell(C, 9)]["total"], &map[&cell(C, 9)]["feasible"]),
            (&json!(1), &json!(0))
        );
        // Days: today is in, tomorrow is not.
        let today = chrono::Utc::now().date_naive();
        let tomorrow = today.succ_opt().unwrap();
        let map = by_cell(
            &app.demand(&format!("bbox={SP}&from={today}&to={today}"))
                .await,
        );
        assert_eq!(map[&cell(C, 8)]["total"], 3);
        assert!(by_cell(&app.demand(&format!("bbox={SP}&from={tomorrow}")).await).is_empty());
        // Each flush adds to what is stored.
        app.ask(C, Some("fibra-600")).await;
        app.app.flush_demand().await.unwrap();
        let map = by_cell(&app.demand(&format!("bbox={SP}&resolution=9")).await);
        assert_eq!(map[&cell(C, 9)]["total"], 4);
        // Rio is in its own bbox.
        let map = by_cell(&app.demand("bbox=-44,-23.5,-43,-22").await);
        assert_eq!(map.len(), 1);
        assert_eq!(map[&cell(rio, 8)]["no_coverage"], 1);
        // Never the point itself: what is kept is the cell and its centre.
        let kept = app
            .sql_text("SELECT MIN(lat) FROM demand_counts WHERE outcome = 'no_coverage'")
            .await
            .unwrap();
        let centre = LatLng::from(LatLng::new(rio.0, rio.1).unwrap().to_cell(Resolution::Nine));
        assert!((kept.parse::<f64>().unwrap() - centre.lat()).abs() < 1e-9);
        assert_ne!(kept.parse::<f64>().unwrap(), rio.0);
    }
);

on_both_engines!(
    coarser_cells_sum_their_children,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        // Points up to 3 km apart, in several resolution-9 cells.
        let points: Vec<(f64, f64)> = [0.0, 300.0, 700.0, 1500.0, 3000.0]
            .iter()
            .map(|&m| from_centre(60.0, m))
            .collect();
        for (i, p) in points.iter().enumerate() {
            for _ in 0..=i {
                app.ask(*p, None).await;
            }
        }
        app.app.flush_demand().await.unwrap();
        for res in 5..=9u8 {
            let map = by_cell(&app.demand(&format!("bbox={SP}&resolution={res}")).await);
            let mut expected = std::collections::BTreeMap::<String, u64>::new();
            for (i, p) in points.iter().enumerate() {
                *expected.entry(cell(*p, res)).or_default() += i as u64 + 1;
            }
            let got: std::collections::BTreeMap<String, u64> = map
                .iter()
                .map(|(c, p)| {
                    assert_eq!(p["resolution"], res);
                    (c.clone(), p["total"].as_u64().unwrap())
                })
                .collect();
            assert_eq!(got, expected, "resolution {res}");
        }
        // The default resolution is 8.
        let map = by_cell(&app.demand(&format!("bbox={SP}")).await);
        assert!(map.values().all(|p| p["resolution"] == 8));
        assert_eq!(
            map.values()
                .map(|p| p["total"].as_u64().unwrap())
                .sum::<u64>(),
            15
        );
    }
);

on_both_engines!(
    only_cells_centred_in_the_bbox_are_drawn,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        app.ask(C, None).await;
        app.app.flush_demand().await.unwrap();
        let centre = LatLng::from(LatLng::new(C.0, C.1).unwrap().to_cell(Resolution::Nine));
        let (lat, lon) = (centre.lat(), centre.lng());
        let around = format!(
            "{},{},{},{}",
            lon - 1e-4,
            lat - 1e-4,
            lon + 1e-4,
            lat + 1e-4
        );
        assert_eq!(
            by_cell(&app.demand(&format!("bbox={around}&resolution=9")).await).len(),
            1
        );
        // A bbox just beside the centre, still over the hexagon, draws nothing.
        let beside = format!(
            "{},{},{},{}",
            lon + 2e-4,
            lat - 1e-4,
            lon + 4e-4,
            lat + 1e-4
        );
        assert!(by_cell(&app.demand(&format!("bbox={beside}&resolution=9")).await).is_empty());
        // Far away, nothing.
        assert!(by_cell(&app.demand("bbox=0,0,1,1").await).is_empty());
    }
);

on_both_engines!(
    bad_queries_are_422_naming_the_field,
    |app: TestApp| async move {
        for (query, field) in [
            ("", "bbox"),
            ("bbox=1,2,3", "bbox"),
            ("bbox=0,0,1,100", "bbox"),
            (&format!("bbox={SP}&resolution=4") as &str, "resolution"),
            (&format!("bbox={SP}&resolution=10"), "resolution"),
            (&format!("bbox={SP}&resolution=x"), "resolution"),
            (&format!("bbox={SP}&from=2026-02-30"), "from"),
            (&format!("bbox={SP}&to=tomorrow"), "to"),
            (&format!("bbox={SP}&from=2026-02-02&to=2026-02-01"), "to"),
            (&format!("bbox={SP}&reason=busy"), "reason"),
            (&format!("bbox={SP}&reason=feasible"), "reason"),
            (&format!("bbox={SP}&bbox={SP}"), "bbox"),
        ] {
            let r = app.demand(query).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{query}: {}", r.body);
        }
    }
);

on_both_engines!(the_map_needs_demand_read, |app: TestApp| async move {
    let r = app.get(&format!("/demand?bbox={SP}"), &app.admin()).await;
    r.assert_problem(403, "insufficient_scope");
    assert!(
        r.body["detail"].as_str().unwrap().contains("demand:read"),
        "{}",
        r.body
    );
    let r = app.demand(&format!("bbox={SP}")).await;
    assert_eq!(r.status, 200);
    // An integration's key gets it with the `demand` module.
    let admin = app.admin();
    let contacts = json!({"alert": ["a@x.example"], "emergency": ["+5511999990000"],
        "technical": ["t@x.example"], "operational": ["o@x.example"],
        "operational_public": "s@x.example"});
    let hours = json!([{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]);
    for (id, modules) in [
        ("planner", json!(["demand"])),
        ("seller", json!(["feasibility"])),
    ] {
        let r = app
            .post(
                "/integrations",
                &admin,
                json!({"id": id, "name": id, "projects": ["p1"], "modules": modules,
                    "contacts": contacts, "support_hours": hours}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let mut keys = Vec::new();
    for id in ["planner", "seller"] {
        let r = app
            .post(
                &format!("/integrations/{id}/keys"),
                &admin,
                json!({"name": "k"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        keys.push(r.body["key"].as_str().unwrap().to_owned());
    }
    let (planner, seller) = (&keys[0], &keys[1]);
    assert_eq!(
        app.get(&format!("/demand?bbox={SP}"), planner).await.status,
        200
    );
    app.get(&format!("/demand?bbox={SP}"), seller)
        .await
        .assert_problem(403, "insufficient_scope");
});

on_both_engines!(
    batch_items_count_only_with_record_demand,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let items =
            json!([{"ref": "a", "lat": C.0, "lon": C.1}, {"ref": "b", "lat": C.0, "lon": C.1}]);
        let r = app
            .post("/feasibility/batch", &admin, json!({"items": items}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        app.app.flush_demand().await.unwrap();
        assert!(by_cell(&app.demand(&format!("bbox={SP}")).await).is_empty());
        let r = app
            .post(
                "/feasibility/batch",
                &admin,
                json!({"items": items, "record_demand": true, "plan_id": "fibra-600"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        app.app.flush_demand().await.unwrap();
        let map = by_cell(
            &app.demand(&format!("bbox={SP}&resolution=9&plan_id=fibra-600"))
                .await,
        );
        assert_eq!(map[&cell(C, 9)]["total"], 2, "{map:?}");
        assert_eq!(map[&cell(C, 9)]["feasible"], 2);
    }
);
