//! The console in a real browser: a server with a grid of boxes, and
//! `tests/console_browser.py` driving Debian's headless Chromium through Selenium and the
//! system chromedriver (signing in, the boxes drawn, a click checked, reservations confirmed,
//! the Portuguese texts, no console error or warning). Screenshots go to
//! `target/console-screenshots/`. `CONSOLE_BOXES` sets the grid's size (default 2,500;
//! docs/PERFORMANCE.md measures 100,000).

mod common;

use common::{Api, free_port, python_with, spawn_server_with, wait_ready};
use serde_json::{Value, json};

const SECRET: &str = "console-test-secret-0123456789";
/// The grid's south-west corner and step (about 55 m).
const LON0: f64 = -46.66;
const LAT0: f64 = -23.57;
const STEP: f64 = 0.0005;

/// Chromium and chromedriver from Debian's packages: required under CI (`.ci/run` installs
/// them), else the test is skipped.
fn browser_tools() -> bool {
    let found = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "chromium and chromium-driver are not installed; .ci/run installs them"
        );
        eprintln!("SKIPPED: apt-get install chromium chromium-driver");
    }
    found
}

/// `side`² boxes on a grid; their free ports cycle through 8..0, and every 17th is only
/// planned. One region with tags covers the grid's south-west quarter.
fn grid(side: usize) -> Value {
    let mut features: Vec<Value> = (0..side * side)
        .map(|k| {
            let (i, j) = (k / side, k % side);
            let status = if k % 17 == 16 { "in_project" } else { "deployed" };
            json!({"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [LON0 + j as f64 * STEP, LAT0 + i as f64 * STEP]},
                "properties": {"kind": "box", "id": format!("CTO-{k:06}"), "name": format!("CTO {k}"),
                    "status": status,
                    "splitters": [{"id": format!("CTO-{k:06}-S1"), "kind": "attendance", "ports": 8, "used": k % 9}]}})
        })
        .collect();
    let half = side as f64 * STEP / 2.0;
    let (w, s, e, n) = (LON0 - STEP, LAT0 - STEP, LON0 + half, LAT0 + half);
    features.push(json!({"type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"kind": "region", "id": "centro", "name": "Centro", "tags": ["centro", "fibra"]}}));
    json!({"type": "FeatureCollection", "features": features})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_works_in_a_real_browser() {
    let Some(python) = python_with("selenium") else {
        return;
    };
    if !browser_tools() {
        return;
    }
    let boxes: usize = std::env::var("CONSOLE_BOXES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_500);
    let side = (boxes as f64).sqrt().round() as usize;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/console.db", dir.path().display());
    let log = dir.path().join("server.log");
    let port = free_port();
    // Demand reaches the store within a second: the demand layer then shows the cells of
    // the test's own clicks.
    let env = [("FEASIBILITY_DEMAND_FLUSH_S", "1")];
    let _server = spawn_server_with(&db, port, SECRET, Some(&log), "warn", &env);
    let api = Api::new(port, SECRET);
    wait_ready(&api.client, &api.base).await;
    api.post("/inventory/import?project=sp-centro", grid(side))
        .await;
    let integration = json!({"id": "site", "name": "Site", "projects": ["sp-centro"],
        "modules": ["feasibility"],
        "contacts": {"alert": ["a@site.example"], "emergency": ["+5511999990000"],
            "technical": ["t@site.example"], "operational": ["o@site.example"],
            "operational_public": "s@site.example"},
        "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]});
    api.post("/integrations", integration).await;
    let key = api
        .post("/integrations/site/keys", json!({"name": "console"}))
        .await;
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let out = tokio::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/console_browser.py"
        ))
        .env("CONSOLE_BASE", &api.base)
        .env("CONSOLE_TOKEN", &api.token)
        .env("CONSOLE_KEY", key["key"].as_str().unwrap())
        .env("CONSOLE_BOXES", (side * side).to_string())
        .env("CONSOLE_GRID", format!("{LON0},{LAT0},{STEP},{side}"))
        .env("CONSOLE_SHOTS", &shots)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
