//! `POST /feasibility/batch` (JSON, and CSV in with CSV or NDJSON out) and the CLI's
//! `feasibility check FILE.csv`, against the contract's "Batch feasibility".

use crate::helpers::*;
use serde_json::{Value, json};

/// Points with every outcome of the fixture: feasible near the centre, no coverage far
/// away, the full box B-B alone, and the in-project box C alone.
fn points() -> Vec<(&'static str, (f64, f64))> {
    vec![
        ("centre", C),
        ("far", (-10.0, -40.0)),
        ("near-b", from_centre(90.0, 300.0)),
        ("near-c", from_centre(180.0, 390.0)),
        ("north", at_e()),
    ]
}

/// A CSV batch: status, content type, body as text.
async fn post_csv(
    app: &TestApp,
    query: &str,
    token: &str,
    accept: Option<&str>,
    body: String,
) -> (u16, String, String) {
    let mut req = app
        .client
        .post(format!("{}/feasibility/batch{query}", app.base))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, res.text().await.unwrap())
}

fn csv_of(rows: &[(&str, (f64, f64))]) -> String {
    let mut text = String::from("ref,lat,lon\n");
    for (r, (lat, lon)) in rows {
        text += &format!("{r},{lat},{lon}\n");
    }
    text
}

/// The CSV answer as rows of cells (none of the fixture's cells needs quoting).
fn cells(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

on_both_engines!(
    a_json_batch_answers_each_item_as_post_feasibility_would,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let items: Vec<Value> = points()
            .iter()
            .map(|(r, (lat, lon))| json!({"ref": r, "lat": lat, "lon": lon}))
            .collect();
        for (batch_fields, single_fields) in [
            (json!({}), json!({"limit": 1})),
            (
                json!({"plan_id": "fibra-600", "limit": 3, "radius_m": 300}),
                json!({"plan_id": "fibra-600", "limit": 3, "radius_m": 300}),
            ),
            (
                json!({"projects": ["p1"], "tags": ["centro"]}),
                json!({"projects": ["p1"], "tags": ["centro"], "limit": 1}),
            ),
        ] {
            let mut body = batch_fields.clone();
            body["items"] = json!(items);
            let r = app.post("/feasibility/batch", &app.admin(), body).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let answered = r.body["items"].as_array().unwrap();
            assert_eq!(answered.len(), items.len());
            let mut feasible = 0;
            let mut by_reason = std::collections::BTreeMap::<String, u64>::new();
            for ((reference, (lat, lon)), got) in points().iter().zip(answered) {
                let mut single = single_fields.clone();
                single["lat"] = json!(lat);
                single["lon"] = json!(lon);
                let one = app.feasibility(single).await;
                assert_eq!(one.status, 200);
                assert_eq!(got["ref"], *reference);
                assert_eq!(got["feasible"], one.body["feasible"], "{reference}");
                assert_eq!(got["reason"], one.body["reason"], "{reference}");
                assert_eq!(got["candidates"], one.body["candidates"], "{reference}");
                if got["feasible"] == true {
                    feasible += 1;
                } else {
                    *by_reason
                        .entry(got["reason"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                }
            }
            let summary = &r.body["summary"];
            assert_eq!(summary["total"], items.len());
            assert_eq!(summary["feasible"], feasible);
            assert_eq!(summary["errors"], 0);
            for reason in [
                "no_coverage",
                "network_not_deployed",
                "plan_not_available",
                "no_free_ports",
            ] {
                assert_eq!(
                    summary["by_reason"][reason],
                    by_reason.get(reason).copied().unwrap_or(0),
                    "{reason}: {summary}"
                );
            }
        }
        // The default limit is 1, and the points do reach each outcome.
        let r = app
            .post(
                "/feasibility/batch",
                &app.admin(),
                json!({"items": items, "radius_m": 2000}),
            )
            .await;
        assert_eq!(
            r.body["items"][0]["candidates"].as_array().unwrap().len(),
            1
        );
        let r = app
            .post("/feasibility/batch", &app.admin(), json!({"items": items}))
            .await;
        let reasons: Vec<_> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["reason"].clone())
            .collect();
        assert_eq!(
            reasons,
            [
                Value::Null,
                json!("no_coverage"),
                json!("no_free_ports"),
                json!("network_not_deployed"),
                Value::Null
            ]
        );
    }
);

on_both_engines!(
    a_bad_item_gets_its_own_error_and_the_rest_are_answered,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let body = json!({"plan_id": "fibra-600", "items": [
            {"ref": "ok", "lat": C.0, "lon": C.1},
            {"ref": "lat", "lat": 91, "lon": C.1},
            {"ref": "plan", "lat": C.0, "lon": C.1, "plan_id": "no-such-plan"},
            {"ref": "typo", "lat": C.0, "lng": C.1},
            {"ref": "own-plan", "lat": C.0, "lon": C.1, "plan_id": "nowhere"},
            "not an item",
            {"ref": "last", "lat": C.0, "lon": C.1},
        ]});
        let r = app.post("/feasibility/batch", &app.admin(), body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let items = r.body["items"].as_array().unwrap();
        let error = |i: usize| {
            (
                items[i]["error"]["code"].clone(),
                items[i]["error"]["errors"].clone(),
            )
        };
        assert_eq!(items[0]["feasible"], true);
        assert_eq!(error(1).0, "validation_failed");
        assert_eq!(error(1).1[0]["field"], "lat");
        assert_eq!(items[1]["ref"], "lat");
        assert!(items[1].get("candidates").is_none());
        assert_eq!(error(2).0, "not_found");
        assert_eq!(error(2).1[0]["field"], "plan_id");
        let fields: Vec<_> = error(3)
            .1
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].clone())
            .collect();
        assert_eq!(fields, ["lng", "lon"]);
        // An item's own plan replaces the batch's: `nowhere` is sold in no region here.
        assert_eq!(items[4]["reason"], "plan_not_available");
        assert_eq!(error(5).0, "validation_failed");
        assert_eq!(items[5]["ref"], Value::Null);
        assert_eq!(items[6]["feasible"], true);
        assert_eq!(r.body["summary"]["total"], 7);
        assert_eq!(r.body["summary"]["feasible"], 2);
        assert_eq!(r.body["summary"]["errors"], 4);
        assert_eq!(r.body["summary"]["by_reason"]["plan_not_available"], 1);
    }
);

on_both_engines!(
    batch_level_problems_fail_the_whole_request,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let item = json!({"lat": C.0, "lon": C.1});
        let too_many = vec![item.clone(); 10_001];
        let r = app
            .send(
                "POST",
                "/feasibility/batch",
                Some(&admin),
                Some(json!({"items": too_many}).to_string()),
            )
            .await;
        r.assert_problem(413, "payload_too_large");
        assert!(r.body["detail"].as_str().unwrap().contains("10000"));
        let r = app
            .post(
                "/feasibility/batch",
                &admin,
                json!({"items": vec![item.clone(); 10_000]}),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["summary"]["total"], 10_000);
        for (body, field) in [
            (json!({"radius_m": 2001, "items": [item]}), "radius_m"),
            (json!({"limit": 0, "items": [item]}), "limit"),
            (json!({"tags": [""], "items": [item]}), "tags[0]"),
            (
                json!({"record_demand": "yes", "items": [item]}),
                "record_demand",
            ),
            (json!({"item": [item]}), "item"),
            (json!({"plan_id": "fibra-600"}), "items"),
        ] {
            let r = app.post("/feasibility/batch", &admin, body.clone()).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
        }
        app.post(
            "/feasibility/batch?radius_m=100",
            &admin,
            json!({"items": [item]}),
        )
        .await
        .assert_problem(422, "validation_failed");
        app.post(
            "/feasibility/batch",
            &admin,
            json!({"plan_id": "no-such-plan", "items": [item]}),
        )
        .await
        .assert_problem(404, "not_found");
        app.send(
            "POST",
            "/feasibility/batch",
            Some(&admin),
            Some("{\"items\": [".into()),
        )
        .await
        .assert_problem(400, "malformed_json");
        let res = app
            .client
            .post(format!("{}/feasibility/batch", app.base))
            .bearer_auth(&admin)
            .header("content-type", "text/plain")
            .body("ref,lat,lon\n")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415);
        // CSV: the batch-level fields are query parameters, checked before any row.
        for (query, status, field) in [
            ("?radius_m=-1", 422, "radius_m"),
            ("?radius_m=abc", 422, "radius_m"),
            ("?record_demand=maybe", 422, "record_demand"),
            ("?limit=1&limit=2", 422, "limit"),
            ("?radius=100", 422, "radius"),
            ("?plan_id=no-such-plan", 404, ""),
        ] {
            let (s, ct, text) = post_csv(&app, query, &admin, None, csv_of(&points())).await;
            assert_eq!(
                (s, ct.as_str()),
                (status, "application/problem+json"),
                "{query}: {text}"
            );
            let problem: Value = serde_json::from_str(&text).unwrap();
            if status == 422 {
                assert_eq!(problem["errors"][0]["field"], field, "{query}");
            }
        }
        // A header without the required columns, or no header at all.
        let (s, ct, text) = post_csv(&app, "", &admin, None, "id,lat\n1,2\n".into()).await;
        assert_eq!((s, ct.as_str()), (422, "application/problem+json"));
        let problem: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "ref");
        assert_eq!(problem["errors"][1]["field"], "lon");
        let (s, _, _) = post_csv(&app, "", &admin, None, String::new()).await;
        assert_eq!(s, 422);
    }
);

on_both_engines!(
    csv_in_is_answered_as_csv_or_ndjson_in_input_order,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let items: Vec<Value> = points()
            .iter()
            .map(|(r, (lat, lon))| json!({"ref": r, "lat": lat, "lon": lon}))
            .collect();
        let json_answer = app
            .post(
                "/feasibility/batch",
                &admin,
                json!({"plan_id": "fibra-600", "radius_m": 300, "items": items}),
            )
            .await;
        let expected = json_answer.body["items"].as_array().unwrap();
        let (status, ct, text) = post_csv(
            &app,
            "?plan_id=fibra-600&radius_m=300",
            &admin,
            None,
            csv_of(&points()),
        )
        .await;
        assert_eq!((status, ct.as_str()), (200, "text/csv; charset=utf-8"));
        let rows = cells(&text);
        assert_eq!(
            rows[0],
            [
                "ref",
                "lat",
                "lon",
                "feasible",
                "reason",
                "box_id",
                "distance_m",
                "free_ports",
                "error"
            ]
        );
        assert_eq!(rows.len(), 1 + points().len());
        for ((row, (reference, (lat, lon))), want) in rows[1..].iter().zip(points()).zip(expected) {
            assert_eq!(row.len(), 9, "{row:?}");
            assert_eq!(row[0], reference);
            assert_eq!(row[1].parse::<f64>().unwrap(), lat);
            assert_eq!(row[2].parse::<f64>().unwrap(), lon);
            assert_eq!(row[3], want["feasible"].to_string());
            assert_eq!(row[4], want["reason"].as_str().unwrap_or(""));
            let nearest = &want["candidates"][0];
            assert_eq!(
                row[5],
                nearest["box_id"].as_str().unwrap_or(""),
                "{reference}"
            );
            match nearest["distance_m"].as_f64() {
                Some(d) => assert_eq!(row[6].parse::<f64>().unwrap(), d),
                None => assert_eq!(row[6], ""),
            }
            assert_eq!(
                row[7],
                nearest["free_ports"]
                    .as_u64()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            );
            assert_eq!(row[8], "");
        }
        let (status, ct, text) = post_csv(
            &app,
            "?plan_id=fibra-600&radius_m=300",
            &admin,
            Some("application/x-ndjson"),
            csv_of(&points()),
        )
        .await;
        assert_eq!((status, ct.as_str()), (200, "application/x-ndjson"));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, *expected);
    }
);

on_both_engines!(
    a_bad_csv_row_gets_its_error_and_later_rows_are_answered,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let body = format!(
            "lat,plan_id,ref,lon,notes\n\
             {lat},,ok,{lon},x\n\
             north,,bad-lat,{lon},\n\
             {lat},no-such-plan,bad-plan,{lon},\n\
             {lat},,\"quoted, ref\",{lon},\n\
             {lat},,missing-lon\n\
             \n\
             {lat},,last,{lon},\n",
            lat = C.0,
            lon = C.1
        );
        let (status, _, text) = post_csv(&app, "", &admin, None, body.clone()).await;
        assert_eq!(status, 200);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 7, "{text}");
        assert!(lines[1].starts_with("ok,") && lines[1].contains(",true,"));
        assert!(lines[2].starts_with("bad-lat,north,") && lines[2].ends_with(",validation_failed"));
        assert!(lines[3].ends_with(",not_found"), "{}", lines[3]);
        assert!(lines[4].starts_with("\"quoted, ref\",") && lines[4].contains(",true,"));
        assert!(lines[5].starts_with("missing-lon,") && lines[5].ends_with(",validation_failed"));
        assert!(lines[6].starts_with("last,") && lines[6].ends_with(','));
        let (_, _, text) = post_csv(&app, "", &admin, Some("application/x-ndjson"), body).await;
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[1]["error"]["errors"][0]["field"], "lat");
        assert_eq!(lines[2]["error"]["code"], "not_found");
        assert_eq!(lines[3]["ref"], "quoted, ref");
        assert_eq!(lines[4]["error"]["errors"][0]["field"], "lon");
        assert_eq!(lines[5]["feasible"], true);
    }
);

on_both_engines!(
    rows_past_batch_max_items_end_the_answer_with_one_payload_too_large_row,
    |app: TestApp| async move {
        let app = app
            .with_fixture()
            .await
            .restart_with(|c| c.batch_max_items = 3)
            .await;
        let admin = app.admin();
        let (status, _, text) = post_csv(&app, "", &admin, None, csv_of(&points())).await;
        assert_eq!(status, 200);
        let rows = cells(&text);
        assert_eq!(rows.len(), 1 + 3 + 1, "{text}");
        assert_eq!(rows[3][0], "near-b");
        assert_eq!(
            rows[4],
            ["", "", "", "", "", "", "", "", "payload_too_large"]
        );
        let (_, _, text) = post_csv(
            &app,
            "",
            &admin,
            Some("application/x-ndjson"),
            csv_of(&points()),
        )
        .await;
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[3]["ref"], Value::Null);
        assert_eq!(lines[3]["error"]["code"], "payload_too_large");
        assert!(
            lines[3]["error"]["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("batch_max_items (3)")
        );
        // Exactly the limit: every row answered, nothing more.
        let (_, _, text) = post_csv(&app, "", &admin, None, csv_of(&points()[..3])).await;
        assert_eq!(cells(&text).len(), 4);
        assert!(!text.contains("payload_too_large"));
    }
);

on_both_engines!(
    a_batch_needs_the_feasibility_scope_and_sees_only_the_tokens_projects,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let body = json!({"items": [{"ref": "c", "lat": C.0, "lon": C.1}]});
        let reader = app.token(&["reservations:read", "inventory:write"], &["*"]);
        app.post("/feasibility/batch", &reader, body.clone())
            .await
            .assert_problem(403, "insufficient_scope");
        let (status, ct, _) = post_csv(&app, "", &reader, None, csv_of(&points())).await;
        assert_eq!((status, ct.as_str()), (403, "application/problem+json"));
        app.send("POST", "/feasibility/batch", None, Some(body.to_string()))
            .await
            .assert_problem(401, "invalid_credentials");
        // A token of p2 only gets p2's box, as POST /feasibility would.
        let p2 = app.token(&["feasibility"], &["p2"]);
        let r = app.post("/feasibility/batch", &p2, body).await;
        assert_eq!(r.body["items"][0]["candidates"][0]["box_id"], "P2-A");
        let (_, _, text) = post_csv(&app, "?projects=p1", &p2, None, csv_of(&points()[..1])).await;
        assert_eq!(cells(&text)[1][4], "no_coverage");
    }
);

on_both_engines!(
    the_cli_checks_a_csv_file_as_the_endpoint_does,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("leads.csv");
        let mut text = csv_of(&points());
        text += "bad,91,0\n";
        std::fs::write(&file, &text).unwrap();
        for (format, accept) in [("csv", None), ("ndjson", Some("application/x-ndjson"))] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_feasibility"))
                .args([
                    "check",
                    file.to_str().unwrap(),
                    "--plan-id",
                    "fibra-600",
                    "--radius-m",
                    "300",
                ])
                .args(["--projects", "p1,p2", "--format", format])
                .current_dir(dir.path())
                .env("FEASIBILITY_DATABASE_URL", &app.config.database_url)
                .output()
                .expect("the binary runs");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (status, _, answered) = post_csv(
                &app,
                "?plan_id=fibra-600&radius_m=300&projects=p1,p2",
                &app.admin(),
                accept,
                text.clone(),
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(stdout, answered, "{format}");
            assert_eq!(
                stdout.lines().count(),
                points().len() + 1 + usize::from(format == "csv")
            );
        }
        // A refused batch-level field: the reason on stderr, a failing status.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_feasibility"))
            .args(["check", file.to_str().unwrap(), "--plan-id", "no-such-plan"])
            .current_dir(dir.path())
            .env("FEASIBILITY_DATABASE_URL", &app.config.database_url)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-plan"));
        assert!(out.stdout.is_empty());
    }
);
