use crate::helpers::*;
use base64::Engine;
use serde_json::json;

/// Every authenticated endpoint: method, path, body, the scope it needs.
/// An integration with every contact given (so that keys can be issued).
fn full_integration(id: &str) -> String {
    json!({"id": id, "name": "X", "projects": ["p1"], "modules": ["feasibility"],
        "contacts": {"alert": ["a@x.example"], "emergency": ["+5511999990000"],
            "technical": ["t@x.example"], "operational": ["o@x.example"],
            "operational_public": "s@x.example"},
        "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]})
    .to_string()
}

fn endpoints() -> Vec<(&'static str, &'static str, Option<String>, &'static str)> {
    let feas = json!({"lat": C.0, "lon": C.1}).to_string();
    vec![
        ("POST", "/feasibility", Some(feas.clone()), "feasibility"),
        (
            "POST",
            "/feasibility/batch",
            Some(json!({"items": [{"lat": C.0, "lon": C.1}]}).to_string()),
            "feasibility",
        ),
        ("POST", "/check", Some(feas), "feasibility"),
        (
            "POST",
            "/inventory/import?project=p1",
            Some(fixture_p1().to_string()),
            "inventory:write",
        ),
        ("GET", "/boxes/B-A", None, "feasibility"),
        ("GET", "/boxes?bbox=-47,-24,-46,-23", None, "feasibility"),
        (
            "GET",
            "/map/boxes?bbox=-47,-24,-46,-23",
            None,
            "feasibility",
        ),
        ("GET", "/plans", None, "feasibility"),
        ("GET", "/plans/fibra-600", None, "feasibility"),
        (
            "PUT",
            "/plans/new-plan",
            Some(json!({"name": "New", "tags": []}).to_string()),
            "inventory:write",
        ),
        ("DELETE", "/plans/empresa", None, "inventory:write"),
        ("GET", "/settings", None, "admin"),
        ("GET", "/integrations", None, "admin"),
        (
            "POST",
            "/integrations",
            Some(full_integration("x")),
            "admin",
        ),
        ("GET", "/integrations/x", None, "admin"),
        (
            "PATCH",
            "/integrations/x",
            Some(json!({"name": "Y"}).to_string()),
            "admin",
        ),
        (
            "POST",
            "/integrations/x/keys",
            Some(json!({"name": "k"}).to_string()),
            "admin",
        ),
        ("GET", "/integrations/x/keys", None, "admin"),
        ("DELETE", "/integrations/x/keys/some-id", None, "admin"),
        (
            "POST",
            "/integrations/x/webhooks",
            Some(json!({"url": "https://8.8.8.8/hook", "events": ["*"]}).to_string()),
            "admin",
        ),
        ("GET", "/integrations/x/webhooks", None, "admin"),
        ("GET", "/integrations/x/webhooks/some-id", None, "admin"),
        (
            "PATCH",
            "/integrations/x/webhooks/some-id",
            Some(json!({"enabled": false}).to_string()),
            "admin",
        ),
        (
            "POST",
            "/integrations/x/webhooks/some-id/rotate-secret",
            None,
            "admin",
        ),
        ("DELETE", "/integrations/x/webhooks/some-id", None, "admin"),
        ("DELETE", "/integrations/x", None, "admin"),
        (
            "PATCH",
            "/settings",
            Some(json!({"default_radius_m": 300}).to_string()),
            "admin",
        ),
        (
            "POST",
            "/reservations",
            Some(reservation_body(json!({"box_id": "B-D"})).to_string()),
            "reservations:write",
        ),
        ("GET", "/reservations", None, "reservations:read"),
        ("GET", "/demand?bbox=-47,-24,-46,-23", None, "demand:read"),
        (
            "POST",
            "/interest",
            Some(
                json!({"lat": C.0, "lon": C.1, "plan_id": "nowhere", "consent": true,
                    "contact": {"name": "Ana", "email": "ana@example.com"}})
                .to_string(),
            ),
            "reservations:write",
        ),
        ("GET", "/interest", None, "reservations:read"),
        ("GET", "/interest/some-id", None, "reservations:read"),
        ("DELETE", "/interest/some-id", None, "reservations:write"),
        ("GET", "/reservations/R-AAAAAAAA", None, "reservations:read"),
        (
            "POST",
            "/reservations/some-id/confirm",
            None,
            "reservations:manage",
        ),
        (
            "POST",
            "/reservations/some-id/complete",
            None,
            "reservations:manage",
        ),
        (
            "POST",
            "/reservations/some-id/cancel",
            None,
            "reservations:manage",
        ),
    ]
}

fn none_alg_token() -> String {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = json!({"sub": "tester", "exp": ftth_feasibility::auth::now_s() + 600, "projects": ["*"],
        "scopes": ["feasibility", "inventory:write", "admin", "reservations:read"]});
    format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims)
    )
}

fn hs512_token() -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let claims = json!({"sub": "tester", "exp": ftth_feasibility::auth::now_s() + 600, "projects": ["*"], "scopes": ["feasibility", "admin"]});
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

on_both_engines!(
    every_endpoint_refuses_bad_tokens,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let forged = ftth_feasibility::auth::TokenKeys::hs256(b"some-other-secret-entirely!!")
            .mint(
                "tester",
                &["*".into()],
                &["admin".into(), "feasibility".into()],
                600,
            );
        let missing_sub = app.keys.sign(&ftth_feasibility::auth::Claims {
            sub: String::new(),
            exp: ftth_feasibility::auth::now_s() + 600,
            iat: None,
            aud: None,
            jti: None,
            projects: vec![],
            scopes: vec!["feasibility".into()],
        });
        for (method, path, body, _) in endpoints() {
            let r = app.send(method, path, None, body.clone()).await;
            r.assert_problem(401, "invalid_credentials");
            let r = app.send(method, path, Some("garbage"), body.clone()).await;
            r.assert_problem(401, "invalid_credentials");
            let r = app.send(method, path, Some(&forged), body.clone()).await;
            r.assert_problem(401, "invalid_credentials");
            let r = app
                .send(method, path, Some(&none_alg_token()), body.clone())
                .await;
            r.assert_problem(401, "invalid_credentials");
            let r = app
                .send(method, path, Some(&hs512_token()), body.clone())
                .await;
            r.assert_problem(401, "invalid_credentials");
            let r = app
                .send(method, path, Some(&missing_sub), body.clone())
                .await;
            r.assert_problem(401, "invalid_credentials");
            let r = app
                .send(method, path, Some(&app.expired_token()), body.clone())
                .await;
            r.assert_problem(401, "token_expired");
        }
        // Nothing was changed by any of them.
        let r = app.get("/plans/empresa", &app.admin()).await;
        assert_eq!(r.status, 200);
    }
);

on_both_engines!(every_endpoint_needs_its_scope, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let everything_else = |needed: &str| -> Vec<&'static str> {
        [
            "feasibility",
            "reservations:write",
            "reservations:read",
            "reservations:manage",
            "inventory:write",
            "admin",
        ]
        .into_iter()
        .filter(|s| *s != needed && !(needed == "feasibility" && *s == "reservations:read"))
        // Cancelling is open to writers for their own reservations.
        .filter(|s| !(needed == "reservations:manage" && *s == "reservations:write"))
        .collect()
    };
    for (method, path, body, needed) in endpoints() {
        let token = app.token(&everything_else(needed), &["*"]);
        let r = app.send(method, path, Some(&token), body.clone()).await;
        r.assert_problem(403, "insufficient_scope");
        let token = app.token(&[needed], &["*"]);
        let r = app.send(method, path, Some(&token), body.clone()).await;
        // With the scope the call gets past authorisation (made-up ids are then 404).
        let made_up = path.contains("R-AAAA") || path.contains("some-id");
        assert!(
            r.status.is_success() || (made_up && r.status == 404),
            "{method} {path} with {needed}: {} {}",
            r.status,
            r.body
        );
    }
    // Readers with reservations:read may read the inventory too.
    let reader = app.token(&["reservations:read"], &["*"]);
    assert_eq!(app.get("/boxes/B-A", &reader).await.status, 200);
    assert_eq!(app.get("/plans", &reader).await.status, 200);
});

on_both_engines!(
    other_projects_do_not_exist_for_a_token,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let p1 = app.token(&["feasibility", "inventory:write"], &["p1"]);
        app.get("/boxes/P2-A", &p1)
            .await
            .assert_problem(404, "not_found");
        let r = app
            .post("/inventory/import?project=p2", &p1, fixture_p2())
            .await;
        r.assert_problem(404, "not_found");
        let r = app
            .post(
                "/feasibility",
                &p1,
                json!({"lat": C.0, "lon": C.1, "projects": ["p1", "p2"]}),
            )
            .await;
        assert!(!ids(&r).contains(&"P2-A".to_owned()));
    }
);

on_both_engines!(open_endpoints_need_no_token, |app: TestApp| async move {
    assert_eq!(app.send("GET", "/healthz", None, None).await.status, 200);
    assert_eq!(app.send("GET", "/readyz", None, None).await.status, 200);
    assert_eq!(app.send("GET", "/console", None, None).await.status, 200);
});

on_both_engines!(
    two_authorization_headers_are_refused_even_when_both_are_good,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let token = app.admin();
        let get = |headers: &[&str]| {
            let mut req = app.client.get(format!("{}/boxes/B-A", app.base));
            for h in headers {
                req = req.header("authorization", format!("Bearer {h}"));
            }
            req.send()
        };
        assert_eq!(get(&[&token]).await.unwrap().status(), 200);
        for pair in [
            [token.as_str(), token.as_str()],
            [token.as_str(), "garbage"],
        ] {
            let res = get(&pair).await.unwrap();
            assert_eq!(res.status(), 401);
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["code"], "invalid_credentials", "{body}");
        }
    }
);
