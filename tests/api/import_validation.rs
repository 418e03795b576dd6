//! What an import refuses before it changes anything: invalid region polygons and project ids.

use crate::helpers::*;
use serde_json::{Value, json};

/// The `errors` of a 422 `validation_failed`, as (field, message).
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

fn region(id: &str, geometry: Value, tags: &[&str]) -> Value {
    json!({"type": "Feature", "geometry": geometry,
           "properties": {"kind": "region", "id": id, "name": id, "tags": tags}})
}

fn polygon(rings: Value) -> Value {
    json!({"type": "Polygon", "coordinates": rings})
}

/// A box at (lat, lon) with four free ports.
fn free_box(id: &str, at: (f64, f64)) -> Value {
    box_feature(
        id,
        at,
        "deployed",
        json!([attendance(&format!("{id}-S1"), 4, 0)]),
    )
}

on_both_engines!(
    invalid_region_polygons_are_refused_at_their_ring,
    |app: TestApp| async move {
        let admin = app.admin();
        let r = app
            .import(
                "m",
                "upsert",
                json!({"type": "FeatureCollection", "features": [free_box("B-ZERO", (0.0, 0.0))]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let square = [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]];
        let bowtie = [[-1, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]];
        let cases: Vec<(Value, &str, &str)> = vec![
            // Read in lon/lat, this box around the antimeridian would cover longitude 0.
            (
                polygon(json!([[
                    [170, -10],
                    [-170, -10],
                    [-170, 10],
                    [170, 10],
                    [170, -10]
                ]])),
                "features[1].geometry.coordinates[0]",
                "split it in two at 180°",
            ),
            (
                polygon(json!([bowtie])),
                "features[1].geometry.coordinates[0]",
                "crosses itself at [0, 0]",
            ),
            (
                polygon(json!([square, [[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]])),
                "features[1].geometry.coordinates[1]",
                "not inside the polygon's outer ring",
            ),
            (
                polygon(json!([[[-1, -1], [1, -1], [1, 1], [-1, 1]]])),
                "features[1].geometry.coordinates[0]",
                "end it with its first position, [-1, -1]",
            ),
            (
                polygon(json!([[[-1, -1], [1, -1], [-1, -1]]])),
                "features[1].geometry.coordinates[0]",
                "at least 4",
            ),
            (
                json!({"type": "MultiPolygon", "coordinates": [[square], [bowtie]]}),
                "features[1].geometry.coordinates[1][0]",
                "crosses itself",
            ),
        ];
        for (geometry, field, hint) in cases {
            let doc = json!({"type": "FeatureCollection", "features": [
                free_box("B-NEW", (0.0, 2.0)),
                region("pacific", geometry.clone(), &["pacific"]),
            ]});
            let errors = refused(&app.import("m", "upsert", doc).await);
            assert!(
                errors.iter().any(|(f, m)| f == field && m.contains(hint)),
                "{field} / {hint:?} not in {errors:?} for {geometry}"
            );
            // Nothing changed: the file's good box is not there, and the box at longitude 0
            // did not get the region's tag.
            app.get("/boxes/B-NEW", &admin)
                .await
                .assert_problem(404, "not_found");
            let r = app.get("/boxes/B-ZERO", &admin).await;
            assert_eq!(r.body["region_tags"], json!([]), "{}", r.body);
        }
        let r = app
            .feasibility(json!({"lat": 0.0, "lon": 0.0, "tags": ["pacific"], "projects": ["m"]}))
            .await;
        assert_eq!(r.body["reason"], "plan_not_available", "{}", r.body);

        // A valid polygon with a hole: the box in the hole stays outside the region, the one
        // between the hole and the outer ring is inside it.
        let doc = json!({"type": "FeatureCollection", "features": [
            free_box("B-ZERO", (0.0, 0.0)),
            free_box("B-RIM", (0.0, 0.75)),
            region("ring", polygon(json!([square, [[-0.5, -0.5], [-0.5, 0.5], [0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]]])), &["ring"]),
        ]});
        let r = app.import("m", "upsert", doc).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["regions"],
            json!({"added": 1, "updated": 0, "deleted": 0})
        );
        let r = app.get("/boxes/B-ZERO", &admin).await;
        assert_eq!(r.body["region_tags"], json!([]), "{}", r.body);
        let r = app.get("/boxes/B-RIM", &admin).await;
        assert_eq!(r.body["region_tags"], json!(["ring"]), "{}", r.body);
    }
);

on_both_engines!(
    an_import_names_one_valid_project,
    |app: TestApp| async move {
        let doc =
            || json!({"type": "FeatureCollection", "features": [free_box("B-P", (0.0, 0.0))]});
        let long = "a".repeat(65);
        for bad in ["*", "a%20b", "-p", long.as_str()] {
            let errors = refused(&app.import(bad, "upsert", doc()).await);
            assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
            assert_eq!(errors[0].0, "project", "{bad}: {errors:?}");
            assert!(!errors[0].1.is_empty());
            app.get("/boxes/B-P", &app.admin())
                .await
                .assert_problem(404, "not_found");
        }
        let r = app.import("sp-centro.v2_1", "upsert", doc()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["project"], "sp-centro.v2_1");
        let r = app.get("/boxes/B-P", &app.admin()).await;
        assert_eq!(r.body["project"], "sp-centro.v2_1", "{}", r.body);
        let longest =
            json!({"type": "FeatureCollection", "features": [free_box("B-Q", (0.0, 1.0))]});
        let r = app.import(&"a".repeat(64), "upsert", longest).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
);

on_both_engines!(
    splitter_errors_name_the_member_at_fault,
    |app: TestApp| async move {
        let splitter = |ports: Value, used: Value| {
            json!({"type": "FeatureCollection", "features": [box_feature(
                "B-S", (0.0, 0.0), "deployed",
                json!([{"id": "B-S-S1", "kind": "attendance", "ports": ports, "used": used}]))]})
        };
        for (ports, used, field) in [
            (json!(2000), json!(1), "ports"),
            (json!("eight"), json!(1), "ports"),
            (json!(8), json!(9), "used"),
            (json!(8), json!(-1), "used"),
        ] {
            let errors = refused(
                &app.import("m", "upsert", splitter(ports.clone(), used.clone()))
                    .await,
            );
            assert_eq!(
                errors[0].0,
                format!("features[0].properties.splitters[0].{field}"),
                "ports {ports}, used {used}: {errors:?}"
            );
        }
        let r = app.get("/boxes/B-S", &app.admin()).await;
        assert_eq!(r.status, 404, "nothing was imported");
    }
);
