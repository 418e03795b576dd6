//! Imports of the files GIS tools produce: GeoJSON dialects written by hand, CSV over HTTP
//! and through the CLI, and layers converted and reprojected by GDAL's real `ogr2ogr`.

use crate::helpers::*;
use serde_json::{Value, json};
use std::path::Path;

impl TestApp {
    /// Posts an import body as it is, with this `Content-Type`.
    async fn import_text(&self, project: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let res = self
            .client
            .post(format!(
                "{}/inventory/import?project={project}&mode=upsert",
                self.base
            ))
            .bearer_auth(self.admin())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            content_type,
            request_id: None,
        }
    }
}

/// The fields of a 422 `validation_failed`, with their messages.
#[track_caller]
fn refused(r: &Reply) -> Vec<(String, String)> {
    r.assert_problem(422, "validation_failed");
    r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("field"), text("message"))
        })
        .collect()
}

on_both_engines!(
    geojson_dialects_are_taken_as_gis_tools_write_them,
    |app: TestApp| async move {
        let (a, b) = (from_centre(0.0, 40.0), from_centre(90.0, 60.0));
        let doc = json!({"type": "FeatureCollection", "name": "boxes", "bbox": [-47, -24, -46, -23],
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
            "features": [
            // The Feature's own integer id, no kind, a third coordinate, counts as Reals,
            // ports in the box's own properties, and properties the import does not use.
            {"type": "Feature", "id": 1001, "bbox": [a.1, a.0, a.1, a.0],
             "geometry": {"type": "Point", "coordinates": [a.1, a.0, 812.5]},
             "properties": {"status": "Deployed", "ports": 8.0, "used": 3.0, "note": "poste 7",
                            "free_ports": 99, "project": "elsewhere", "lat": a.0, "lon": a.1}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [b.1, b.0]},
             "properties": {"kind": "BOX", "id": "CTO-2", "status": "IN_PROJECT", "note": "x",
                "splitters": [{"id": "CTO-2-S1", "kind": "Attendance", "ports": 4.0,
                               "used": 1, "used_ports": [2.0], "holds": 0, "free": 3}]}},
            {"type": "Feature", "id": "CTO-3", "geometry": {"type": "Point", "coordinates": [b.1, a.0]},
             "properties": {"status": "deployed",
                "splitters": [{"id": "CTO-3-C1", "kind": "connection", "ports": 4}]}},
            {"type": "Feature", "id": "zona",
             "geometry": {"type": "Polygon", "coordinates": [[[-46.64, -23.56], [-46.62, -23.56], [-46.62, -23.54], [-46.64, -23.54], [-46.64, -23.56]]]},
             "properties": {"tags": ["fibra"], "color": "red"}},
        ]});
        let mut body = b"\xEF\xBB\xBF".to_vec();
        body.extend(doc.to_string().into_bytes());
        let r = app.import_text("d", "application/geo+json", body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["boxes"]["added"], 3, "{}", r.body);
        assert_eq!(r.body["regions"]["added"], 1, "{}", r.body);
        assert_eq!(
            r.body["warnings"],
            json!([
                {"code": "ignored_property", "property": "color", "count": 1},
                {"code": "ignored_property", "property": "note", "count": 2},
                {"code": "no_attendance_splitter", "count": 1},
            ])
        );
        let admin = app.admin();
        let r = app.get("/boxes/1001", &admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body["project"].as_str(), r.body["status"].as_str()),
            (Some("d"), Some("deployed"))
        );
        assert_eq!(r.body["region_tags"], json!(["fibra"]));
        let s = &r.body["splitters"][0];
        assert_eq!(
            (s["id"].as_str(), s["kind"].as_str()),
            (Some("1001-S1"), Some("attendance"))
        );
        assert_eq!(
            (s["ports"].as_u64(), s["used_ports"].clone()),
            (Some(8), json!([1, 2, 3]))
        );
        let r = app.get("/boxes/CTO-2", &admin).await;
        assert_eq!(r.body["status"], "in_project");
        assert_eq!(r.body["splitters"][0]["used_ports"], json!([2]));
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "tags": ["fibra"], "projects": ["d"]}))
            .await;
        assert_eq!(ids(&r), ["1001"], "{}", r.body);
        assert_eq!(r.body["candidates"][0]["free_ports"], 5);

        // Refused, naming the field: a fraction of a port, used that disagrees with
        // used_ports, a kind that is neither; and nothing changes.
        let bad = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": 1001, "geometry": {"type": "Point", "coordinates": [a.1, a.0]},
             "properties": {"status": "deployed", "ports": 8.5}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [b.1, b.0]},
             "properties": {"id": "CTO-2", "status": "deployed",
                "splitters": [{"id": "CTO-2-S1", "kind": "attendance", "ports": 4, "used": 2, "used_ports": [1]}]}},
            {"type": "Feature", "id": 7, "geometry": {"type": "Point", "coordinates": [b.1, b.0]},
             "properties": {"kind": "pole"}},
        ]});
        let errors = refused(&app.import("d", "upsert", bad).await);
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "features[0].properties.ports",
                "features[1].properties.splitters[0].used",
                "features[2].properties.kind"
            ]
        );
        assert!(errors[0].1.contains("8.5"), "{errors:?}");
        assert!(
            !errors
                .iter()
                .any(|(_, m)| m.contains("u32") || m.contains("f64"))
        );
        let r = app.get("/boxes/CTO-2", &admin).await;
        assert_eq!(r.body["status"], "in_project");
    }
);

on_both_engines!(
    a_box_read_back_re_imports_unchanged_without_warnings,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let before = app.get("/boxes/B-A", &admin).await;
        let (lat, lon) = at_a();
        let r = app
            .get(
                &format!(
                    "/boxes?bbox={},{},{},{}",
                    lon - 0.0001,
                    lat - 0.0001,
                    lon + 0.0001,
                    lat + 0.0001
                ),
                &admin,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // What the map view shows of the box, with its splitters as GET /boxes/{id} shows
        // them, and every other member of GET /boxes/{id} besides.
        let mut feature = r.body["features"][0].clone();
        let props = feature["properties"].as_object_mut().unwrap();
        for (k, v) in before.body.as_object().unwrap() {
            props.entry(k.clone()).or_insert(v.clone());
        }
        let doc = json!({"type": "FeatureCollection", "features": [feature]});
        let r = app.import("p1", "upsert", doc).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["warnings"], json!([]), "{}", r.body);
        assert_eq!(r.body["boxes"]["updated"], 1);
        let after = app.get("/boxes/B-A", &admin).await;
        assert_eq!(after.body, before.body);
    }
);

on_both_engines!(
    a_crs_other_than_wgs84_is_refused_with_the_way_out,
    |app: TestApp| async move {
        let doc = json!({"type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::31983"}},
            "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [333318.79, 7394566.52]},
                          "properties": {"id": "UTM-1", "status": "deployed", "ports": 8, "used": 0}}]});
        let r = app.import("d", "upsert", doc).await;
        r.assert_problem(422, "unsupported_crs");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("EPSG::31983"), "{detail}");
        assert!(detail.contains("ogr2ogr -t_srs EPSG:4326"), "{detail}");
        app.get("/boxes/UTM-1", &app.admin())
            .await
            .assert_problem(404, "not_found");
        for name in ["EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "CRS84"] {
            let doc = json!({"type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": name}},
                "features": [box_feature("W-1", at_a(), "deployed", json!([attendance("W-1-S1", 2, 0)]))]});
            let r = app.import("d", "upsert", doc).await;
            assert_eq!(r.status, 200, "{name}: {}", r.body);
        }
    }
);

/// Two boxes, three splitters: a header in mixed case with aliases, a column the import
/// does not use, and a byte-order mark.
fn plant_csv() -> Vec<u8> {
    let (a, b) = (from_centre(0.0, 40.0), from_centre(90.0, 60.0));
    let text = format!(
        "\u{feff}Box_ID,Latitude,Lng,Name,Status,Splitter_ID,Kind,Ports,Used_Ports,Remarks\n\
         CSV-A,{},{},Caixa A,Deployed,CSV-A-S1,attendance,8,1;2,poste\n\
         CSV-A,{},{},Caixa A,deployed,CSV-A-C1,connection,4,,\n\
         CSV-B,{},{},,in_project,,,16.0,,\n",
        a.0, a.1, a.0, a.1, b.0, b.1
    );
    text.into_bytes()
}

on_both_engines!(csv_is_imported_over_http, |app: TestApp| async move {
    let r = app
        .import_text("c", "text/csv; charset=utf-8", plant_csv())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["boxes"],
        json!({"added": 2, "updated": 0, "deleted": 0})
    );
    assert_eq!(
        r.body["warnings"],
        json!([{"code": "ignored_property", "property": "Remarks", "count": 1}])
    );
    let admin = app.admin();
    let r = app.get("/boxes/CSV-A", &admin).await;
    assert_eq!(r.body["name"], "Caixa A");
    let splitters: Vec<&str> = r.body["splitters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(splitters, ["CSV-A-C1", "CSV-A-S1"]);
    let r = app.get("/boxes/CSV-B", &admin).await;
    assert_eq!(r.body["splitters"][0]["id"], "CSV-B-S1");
    assert_eq!(r.body["splitters"][0]["ports"], 16);
    let r = app
        .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["c"]}))
        .await;
    assert_eq!(ids(&r), ["CSV-A"], "{}", r.body);
    assert_eq!(r.body["candidates"][0]["free_ports"], 6);

    // Rows of one box that disagree, and bad cells, are named by row and column.
    let text = "box_id,lat,lon,status,splitter_id,ports,used\n\
                CSV-A,-23.55,-46.63,deployed,CSV-A-S1,8,2\n\
                CSV-A,-23.56,-46.63,deployed,CSV-A-S2,8,0\n\
                CSV-C,-23.55,-46.63,deployed,CSV-C-S1,8.5,0\n";
    let errors = refused(&app.import_text("c", "text/csv", text.into()).await);
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["rows[1].lat", "rows[2].ports"], "{errors:?}");
    assert!(errors[0].1.contains("rows[0]"), "{errors:?}");
    let r = app.get("/boxes/CSV-A", &admin).await;
    assert_eq!(r.body["splitters"][1]["used_ports"], json!([1, 2]));
    app.get("/boxes/CSV-C", &admin)
        .await
        .assert_problem(404, "not_found");

    // Another project's box id is named at its row.
    let r = app.import_text("other", "text/csv", plant_csv()).await;
    let errors = refused(&r);
    assert_eq!(errors[0].0, "rows[0].box_id", "{errors:?}");

    // Neither GeoJSON nor CSV.
    let r = app
        .import_text("c", "application/x-www-form-urlencoded", b"a=1".to_vec())
        .await;
    r.assert_problem(415, "unsupported_media_type");
});

on_both_engines!(the_cli_imports_a_csv_file, |app: TestApp| async move {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plant.CSV");
    std::fs::write(&file, plant_csv()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_feasibility"))
        .args(["import", file.to_str().unwrap(), "--project", "cli"])
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
    let answer: Value = serde_json::from_str(&stdout).expect("the answer is JSON");
    assert_eq!(answer["boxes"]["added"], 2, "{answer}");
    assert_eq!(answer["warnings"][0]["property"], "Remarks", "{answer}");
    let r = app.get("/boxes/CSV-A", &app.admin()).await;
    assert_eq!(r.body["project"], "cli", "{}", r.body);

    // A bad file: the problems on stderr, a failing status, nothing imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "box_id,lat,lon,status\nCSV-Z,-23.5,-46.6,built\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_feasibility"))
        .args(["import", bad.to_str().unwrap(), "--project", "cli"])
        .current_dir(dir.path())
        .env("FEASIBILITY_DATABASE_URL", &app.config.database_url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rows[0].status"));
    app.get("/boxes/CSV-Z", &app.admin())
        .await
        .assert_problem(404, "not_found");
});

/// Runs GDAL's `ogr2ogr` in `dir`; false (with a notice) when it is not installed, which
/// fails the test under `CI=true`.
fn ogr2ogr(dir: &Path, args: &[&str]) -> bool {
    let run = std::process::Command::new("ogr2ogr")
        .args(args)
        .current_dir(dir)
        .output();
    match run {
        Ok(out) => {
            assert!(
                out.status.success(),
                "ogr2ogr {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            true
        }
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ogr2ogr is needed under CI (apt-get install gdal-bin): {e}"
            );
            eprintln!("skipping the ogr2ogr checks: ogr2ogr cannot run ({e})");
            false
        }
    }
}

/// A CSV of boxes as a network team keeps it: lon/lat columns, integer ids, `used` written
/// as a decimal (so ogr2ogr types it Real).
fn write_points_csv(dir: &Path) {
    let rows: Vec<String> = [(0.0, 40.0, 3.0), (90.0, 60.0, 8.0), (180.0, 80.0, 0.0)]
        .iter()
        .enumerate()
        .map(|(k, &(bearing, metres, used))| {
            let (lat, lon) = from_centre(bearing, metres);
            format!("{},CTO {k},Deployed,{lon},{lat},8,{used:.1}", 5001 + k)
        })
        .collect();
    let text = format!("id,name,status,lon,lat,ports,used\n{}\n", rows.join("\n"));
    std::fs::write(dir.join("points.csv"), text).unwrap();
}

const CSV_OPEN: [&str; 6] = [
    "-oo",
    "X_POSSIBLE_NAMES=lon",
    "-oo",
    "Y_POSSIBLE_NAMES=lat",
    "-oo",
    "AUTODETECT_TYPE=YES",
];

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

on_both_engines!(
    layers_converted_by_ogr2ogr_are_imported,
    |app: TestApp| async move {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write_points_csv(d);
        let plain = [
            &["-f", "GeoJSON", "plain.geojson", "points.csv"][..],
            &CSV_OPEN,
        ]
        .concat();
        if !ogr2ogr(d, &plain) {
            return;
        }
        let with_id = [
            &[
                "-f",
                "GeoJSON",
                "with_id.geojson",
                "points.csv",
                "-lco",
                "ID_FIELD=id",
            ][..],
            &CSV_OPEN,
        ]
        .concat();
        assert!(ogr2ogr(d, &with_id));
        // ogr2ogr types the columns: ids Integer, used Real (3.0).
        let text = String::from_utf8(read(d, "plain.geojson")).unwrap();
        assert!(
            text.contains("\"id\": 5001,") && text.contains("\"used\": 3.0"),
            "{text}"
        );
        let text = String::from_utf8(read(d, "with_id.geojson")).unwrap();
        assert!(text.contains("\"id\": 5001, \"properties\""), "{text}");

        let r = app
            .import_text("gis", "application/geo+json", read(d, "plain.geojson"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["boxes"]["added"], 3, "{}", r.body);
        assert_eq!(r.body["warnings"], json!([]), "{}", r.body);
        let r = app
            .import_text("gis", "application/json", read(d, "with_id.geojson"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["boxes"],
            json!({"added": 0, "updated": 3, "deleted": 0})
        );
        let r = app.get("/boxes/5001", &app.admin()).await;
        assert_eq!(r.body["splitters"][0]["id"], "5001-S1", "{}", r.body);
        assert_eq!(r.body["splitters"][0]["used"], 3, "{}", r.body);
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["gis"]}))
            .await;
        assert_eq!(r.body["feasible"], true, "{}", r.body);
        assert_eq!(ids(&r), ["5001", "5003"], "{}", r.body);
        assert_eq!(r.body["candidates"][0]["free_ports"], 5);

        // Reprojected to SIRGAS 2000 / UTM 23S: refused, and told how to put it right.
        let utm = [
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:31983",
            "utm.geojson",
            "plain.geojson",
        ];
        assert!(ogr2ogr(d, &utm));
        let r = app
            .import_text("gis2", "application/geo+json", read(d, "utm.geojson"))
            .await;
        r.assert_problem(422, "unsupported_crs");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("ogr2ogr -t_srs EPSG:4326")
        );
        // Back to EPSG:4326 it imports (the same boxes: an update).
        let back = [
            "-f",
            "GeoJSON",
            "-t_srs",
            "EPSG:4326",
            "back.geojson",
            "utm.geojson",
        ];
        assert!(ogr2ogr(d, &back));
        let r = app
            .import_text("gis", "application/geo+json", read(d, "back.geojson"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["boxes"]["updated"], 3, "{}", r.body);
        let r = app
            .feasibility(json!({"lat": C.0, "lon": C.1, "projects": ["gis"]}))
            .await;
        assert_eq!(ids(&r), ["5001", "5003"], "{}", r.body);
    }
);
