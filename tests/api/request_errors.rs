//! How the HTTP layer refuses what it cannot take: errors name the API's field or
//! parameter in its words, compressed or mistyped bodies are 415, other methods 405 with
//! `Allow`.

use crate::helpers::*;
use serde_json::{Value, json};

/// A raw request: method, path, headers and body as given.
async fn raw(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", app.base),
        )
        .bearer_auth(app.admin())
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.json().await.unwrap_or(Value::Null))
}

/// Neither a field nor a message of an answer names a Rust type.
fn speaks_the_apis_words(body: &Value) {
    // What the service says (not the request id, whose hex may spell "f64").
    let text = format!("{} {}", body["detail"], body["errors"]);
    for word in [
        "f64",
        "u32",
        "u16",
        "u64",
        "i64",
        "struct ",
        "usize",
        "Query deserialize",
        "line 1 column",
    ] {
        assert!(!text.contains(word), "{word:?} in {body}");
    }
}

on_both_engines!(query_errors_name_the_parameter, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let admin = app.admin();
    let r = app.get("/reservations?limit=abc", &admin).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "limit", "{}", r.body);
    assert_eq!(r.body["errors"][0]["message"], "must be a whole number");
    speaks_the_apis_words(&r.body);
    let r = app.get("/reservations?limit=5&limit=6", &admin).await;
    r.assert_problem(422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "limit", "{}", r.body);
    let r = app.get("/boxes?bbox=a,b,c,d", &admin).await;
    assert_eq!(r.status, 422, "{}", r.body);
    speaks_the_apis_words(&r.body);
});

on_both_engines!(
    body_errors_speak_of_fields_not_types,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        for (body, field) in [
            (json!({"lat": "north", "lon": 0}), "lat"),
            (json!({"lon": 0}), "lat"),
            (json!([1, 2, 3, 4, 5, 6, 7]), "body"),
            (json!({"lat": 0, "lon": 0, "radius": 5}), "radius"),
        ] {
            let r = app.feasibility(body.clone()).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
            speaks_the_apis_words(&r.body);
        }
    }
);

on_both_engines!(
    compressed_or_mistyped_bodies_are_415,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        // A gzip body (the bytes do not matter: it is refused before it is read).
        let gz: &[u8] = &[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3];
        for encoding in ["gzip", "br", "deflate"] {
            let (status, _, body) = raw(
                &app,
                "POST",
                "/feasibility",
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", encoding),
                ],
                gz,
            )
            .await;
            assert_eq!(status, 415, "{encoding}: {body}");
            assert_eq!(body["code"], "unsupported_media_type");
        }
        let (status, _, body) = raw(
            &app,
            "POST",
            "/feasibility",
            &[("content-type", "text/plain")],
            br#"{"lat": 0, "lon": 0}"#,
        )
        .await;
        assert_eq!(status, 415, "{body}");
        assert_eq!(body["code"], "unsupported_media_type");
        // identity is no encoding, and a JSON body may say its charset.
        let (status, _, body) = raw(
            &app,
            "POST",
            "/feasibility",
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("content-encoding", "identity"),
            ],
            br#"{"lat": 0, "lon": 0}"#,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
);

on_both_engines!(
    other_methods_are_405_with_allow,
    |app: TestApp| async move {
        let (status, headers, body) = raw(&app, "DELETE", "/feasibility", &[], b"").await;
        assert_eq!(status, 405, "{body}");
        assert_eq!(body["code"], "method_not_allowed");
        assert_eq!(headers["allow"], "POST");
        let (status, headers, _) = raw(&app, "PATCH", "/plans/x", &[], b"").await;
        assert_eq!(status, 405);
        assert_eq!(headers["allow"], "GET, PUT, DELETE");
    }
);
