//! Integrations and their keys: onboarding, what a key may do (its scopes within its
//! integration's modules, as they are now), credential errors, rate limits, and
//! publishable keys on `POST /check`.

use crate::helpers::*;
use serde_json::{Value, json};

fn contacts() -> Value {
    json!({"alert": ["alertas@conecte.example"], "emergency": ["+5511999990000"],
           "technical": ["dev@conecte.example"], "operational": ["ops@conecte.example"],
           "operational_public": "suporte@conecte.example"})
}

fn hours() -> Value {
    json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00",
            "time_zone": "America/Sao_Paulo"}])
}

fn integration(id: &str, modules: &[&str]) -> Value {
    json!({"id": id, "name": format!("Partner {id}"), "projects": ["p1"], "modules": modules,
           "contacts": contacts(), "support_hours": hours()})
}

/// Sends `body` with `Authorization: Bearer token` (a key or a JWT).
async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.send(method, path, Some(token), body.map(|b| b.to_string()))
        .await
}

impl TestApp {
    /// Creates an integration and issues it a key; the key.
    async fn partner(&self, id: &str, modules: &[&str], key: Value) -> String {
        let admin = self.admin();
        let r = self
            .post("/integrations", &admin, integration(id, modules))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = self
            .post(&format!("/integrations/{id}/keys"), &admin, key)
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["key"].as_str().unwrap().to_owned()
    }
}

on_both_engines!(
    an_integration_is_onboarding_until_its_contacts_are_given,
    |app: TestApp| async move {
        let admin = app.admin();
        let mut body = integration("conecte", &["feasibility"]);
        body["contacts"] = json!({"alert": ["alertas@conecte.example"]});
        body["support_hours"] = json!([]);
        let r = app.post("/integrations", &admin, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "onboarding");
        // No key until every contact is given, each missing one named.
        let r = app
            .post(
                "/integrations/conecte/keys",
                &admin,
                json!({"name": "prod"}),
            )
            .await;
        r.assert_problem(409, "contacts_incomplete");
        let fields: Vec<&str> = r.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        for f in [
            "contacts.emergency",
            "contacts.technical",
            "contacts.operational",
            "contacts.operational_public",
            "support_hours",
        ] {
            assert!(fields.contains(&f), "{f} in {fields:?}");
        }
        let r = app
            .send(
                "PATCH",
                "/integrations/conecte",
                Some(&admin),
                Some(json!({"status": "active"}).to_string()),
            )
            .await;
        r.assert_problem(409, "contacts_incomplete");
        // Given them, it turns active by itself and keys can be issued.
        let r = app
            .send(
                "PATCH",
                "/integrations/conecte",
                Some(&admin),
                Some(json!({"contacts": contacts(), "support_hours": hours()}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "active");
        let r = app
            .post(
                "/integrations/conecte/keys",
                &admin,
                json!({"name": "prod"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let key = r.body["key"].as_str().unwrap();
        assert!(
            key.starts_with("fsk_") && r.body["prefix"] == key[..12],
            "{}",
            r.body
        );
        // Listed without the key; the id stays taken.
        let r = app.get("/integrations/conecte/keys", &admin).await;
        assert_eq!(r.status, 200);
        assert!(
            r.body[0].get("key").is_none() && r.body[0]["prefix"] == key[..12],
            "{}",
            r.body
        );
        let r = app
            .post(
                "/integrations",
                &admin,
                integration("conecte", &["feasibility"]),
            )
            .await;
        r.assert_problem(409, "already_exists");
        // An active integration cannot lose a contact.
        let r = app
            .send(
                "PATCH",
                "/integrations/conecte",
                Some(&admin),
                Some(json!({"contacts": {"technical": null}}).to_string()),
            )
            .await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(
            r.body["errors"][0]["field"], "contacts.technical",
            "{}",
            r.body
        );
    }
);

on_both_engines!(
    bad_integrations_and_keys_are_422_naming_the_field_and_change_nothing,
    |app: TestApp| async move {
        let admin = app.admin();
        for (change, field) in [
            (
                json!({"contacts": {"alert": ["not-an-address"]}}),
                "contacts.alert[0]",
            ),
            (
                json!({"contacts": {"emergency": ["5511"]}}),
                "contacts.emergency[0]",
            ),
            (
                json!({"support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "Mars/Olympus"}]}),
                "support_hours[0].time_zone",
            ),
            (json!({"modules": ["admin"]}), "modules[0]"),
            (json!({"id": "*"}), "id"),
            (json!({"colour": "blue"}), "colour"),
        ] {
            let mut body = integration("p", &["feasibility"]);
            for (k, v) in change.as_object().unwrap() {
                if k == "contacts" {
                    for (ck, cv) in v.as_object().unwrap() {
                        body["contacts"][ck] = cv.clone();
                    }
                } else {
                    body[k] = v.clone();
                }
            }
            let r = app.post("/integrations", &admin, body).await;
            r.assert_problem(422, "validation_failed");
            assert!(
                r.body["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == field),
                "{field}: {}",
                r.body
            );
        }
        let r = app.get("/integrations", &admin).await;
        assert_eq!(r.body, json!([]), "nothing was stored");
        let r = app
            .post("/integrations", &admin, integration("p", &["feasibility"]))
            .await;
        assert_eq!(r.status, 201);
        for (key, field) in [
            (
                json!({"name": "x", "scopes": ["reservations:write"]}),
                "scopes[0]",
            ),
            (
                json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}),
                "expires_at",
            ),
            (
                json!({"name": "x", "kind": "publishable"}),
                "allowed_origins",
            ),
            (
                json!({"name": "x", "rate_limit_per_min": 0}),
                "rate_limit_per_min",
            ),
            (json!({"name": "x", "colour": 1}), "colour"),
        ] {
            let r = app.post("/integrations/p/keys", &admin, key.clone()).await;
            r.assert_problem(422, "validation_failed");
            assert!(
                r.body["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["field"] == field),
                "{key}: {}",
                r.body
            );
        }
        let r = app.get("/integrations/p/keys", &admin).await;
        assert_eq!(r.body, json!([]), "no key was issued");
        // Integrations are the admin's.
        let r = app
            .get("/integrations", &app.token(&["feasibility"], &["*"]))
            .await;
        r.assert_problem(403, "insufficient_scope");
    }
);

on_both_engines!(
    a_key_does_what_its_modules_grant_as_they_are_now,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let admin = app.admin();
        let key = app
            .partner(
                "conecte",
                &["feasibility", "reservations"],
                json!({"name": "prod"}),
            )
            .await;
        let r = call(
            &app,
            "POST",
            "/feasibility",
            &key,
            Some(json!({"lat": C.0, "lon": C.1})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["project"] == "p1"),
            "only its projects"
        );
        // Its reservations are its integration's.
        let r = call(
            &app,
            "POST",
            "/reservations",
            &key,
            Some(reservation_body(json!({}))),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["created_by"], "conecte");
        let mine = r.body["id"].as_str().unwrap().to_owned();
        // Someone else's reservation does not exist for it.
        let r = app
            .post("/reservations", &admin, reservation_body(json!({})))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let theirs = r.body["id"].as_str().unwrap().to_owned();
        let r = call(&app, "GET", &format!("/reservations/{theirs}"), &key, None).await;
        r.assert_problem(404, "not_found");
        let r = call(
            &app,
            "POST",
            &format!("/reservations/{theirs}/cancel"),
            &key,
            None,
        )
        .await;
        r.assert_problem(404, "not_found");
        let r = call(&app, "GET", "/reservations", &key, None).await;
        let listed: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(listed, [mine.as_str()]);
        let r = call(
            &app,
            "POST",
            &format!("/reservations/{mine}/cancel"),
            &key,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // Beyond its modules: the module is named.
        let r = call(
            &app,
            "POST",
            "/inventory/import?project=p1",
            &key,
            Some(json!({"type": "FeatureCollection", "features": []})),
        )
        .await;
        r.assert_problem(403, "insufficient_scope");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("inventory module"),
            "{}",
            r.body
        );
        // Modules taken away: in force at once.
        let r = app
            .send(
                "PATCH",
                "/integrations/conecte",
                Some(&admin),
                Some(json!({"modules": ["reservations"]}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = call(
            &app,
            "POST",
            "/feasibility",
            &key,
            Some(json!({"lat": C.0, "lon": C.1})),
        )
        .await;
        r.assert_problem(403, "insufficient_scope");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("feasibility module"),
            "{}",
            r.body
        );
        // Suspended, then active again.
        let r = app
            .send(
                "PATCH",
                "/integrations/conecte",
                Some(&admin),
                Some(json!({"status": "suspended"}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = call(&app, "GET", "/reservations", &key, None).await;
        r.assert_problem(403, "integration_suspended");
        let r = app
            .send(
                "PATCH",
                "/integrations/conecte",
                Some(&admin),
                Some(json!({"status": "active"}).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            call(&app, "GET", "/reservations", &key, None).await.status,
            200
        );
    }
);

on_both_engines!(refused_keys_say_what_is_wrong, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let admin = app.admin();
    let key = app
        .partner("conecte", &["feasibility"], json!({"name": "prod"}))
        .await;
    let ask = |k: String| {
        let app = &app;
        async move {
            call(
                app,
                "POST",
                "/feasibility",
                &k,
                Some(json!({"lat": C.0, "lon": C.1})),
            )
            .await
        }
    };
    let r = ask("fsk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()).await;
    r.assert_problem(401, "invalid_credentials");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("ask the provider"),
        "{}",
        r.body
    );
    // Expired: made to expire in the database, as time passing would.
    let r = app
        .post(
            "/integrations/conecte/keys",
            &admin,
            json!({"name": "short", "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let short = r.body["key"].as_str().unwrap().to_owned();
    let short_id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(ask(short.clone()).await.status, 200);
    app.sql(&format!(
        "UPDATE api_keys SET expires_at = 1 WHERE id = '{short_id}'"
    ))
    .await;
    app.app.reload_all().await.unwrap();
    ask(short).await.assert_problem(401, "key_expired");
    // Revoked.
    let id = app.get("/integrations/conecte/keys", &admin).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .send(
            "DELETE",
            &format!("/integrations/conecte/keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = ask(key.clone()).await;
    r.assert_problem(401, "key_revoked");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("update the credentials"),
        "{}",
        r.body
    );
    let listed = app.get("/integrations/conecte/keys", &admin).await;
    assert!(
        listed.body[0]["revoked_at"].is_string(),
        "the record stays: {}",
        listed.body
    );
    // A deleted integration's keys are revoked; its id stays taken.
    let other = app
        .post(
            "/integrations/conecte/keys",
            &admin,
            json!({"name": "again"}),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(ask(other.clone()).await.status, 200);
    assert_eq!(
        app.send("DELETE", "/integrations/conecte", Some(&admin), None)
            .await
            .status,
        204
    );
    ask(other).await.assert_problem(401, "key_revoked");
    app.post(
        "/integrations",
        &admin,
        integration("conecte", &["feasibility"]),
    )
    .await
    .assert_problem(409, "already_exists");
    app.get("/integrations/conecte", &admin)
        .await
        .assert_problem(404, "not_found");
});

on_both_engines!(
    a_limited_key_gets_429_with_retry_after,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let key = app
            .partner(
                "conecte",
                &["feasibility"],
                json!({"name": "prod", "rate_limit_per_min": 2}),
            )
            .await;
        let send = || {
            app.client
                .post(format!("{}/feasibility", app.base))
                .bearer_auth(&key)
                .json(&json!({"lat": C.0, "lon": C.1}))
                .send()
        };
        for remaining in ["1", "0"] {
            let res = send().await.unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["ratelimit-limit"], "2");
            assert_eq!(res.headers()["ratelimit-remaining"], remaining);
            assert!(res.headers().contains_key("ratelimit-reset"));
        }
        let res = send().await.unwrap();
        assert_eq!(res.status(), 429);
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=30).contains(&wait), "{wait}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited");
        // An unlimited key carries no RateLimit headers.
        let free = app
            .post(
                "/integrations/conecte/keys",
                &app.admin(),
                json!({"name": "free"}),
            )
            .await
            .body["key"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = app
            .client
            .post(format!("{}/feasibility", app.base))
            .bearer_auth(&free)
            .json(&json!({"lat": C.0, "lon": C.1}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(!res.headers().contains_key("ratelimit-limit"));
    }
);

on_both_engines!(
    a_publishable_key_only_checks_from_its_origins,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let key = app
            .partner(
                "site",
                &["feasibility", "reservations"],
                json!({"name": "site", "kind": "publishable",
        "allowed_origins": ["https://www.provedor.example"], "rate_limit_per_min": 5}),
            )
            .await;
        assert!(key.starts_with("fpk_"));
        let check = |origin: &'static str, forwarded: &'static str| {
            app.client
                .post(format!("{}/check", app.base))
                .bearer_auth(&key)
                .header("origin", origin)
                .header("x-forwarded-for", forwarded)
                .json(&json!({"lat": C.0, "lon": C.1}))
                .send()
        };
        let res = check("https://www.provedor.example", "198.51.100.1")
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "https://www.provedor.example"
        );
        let body: Value = res.json().await.unwrap();
        assert!(
            body.get("feasible").is_some() && body.get("candidates").is_none(),
            "{body}"
        );
        let res = check("https://evil.example", "198.51.100.1").await.unwrap();
        assert_eq!(res.status(), 403);
        assert_eq!(
            res.json::<Value>().await.unwrap()["code"],
            "origin_not_allowed"
        );
        // Nothing else: not even /feasibility, which its modules would grant a secret key.
        let r = call(
            &app,
            "POST",
            "/feasibility",
            &key,
            Some(json!({"lat": C.0, "lon": C.1})),
        )
        .await;
        r.assert_problem(403, "insufficient_scope");
        // CORS preflights: answered for its origins only.
        let preflight = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, format!("{}/check", app.base))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .send()
        };
        let res = preflight("https://www.provedor.example").await.unwrap();
        assert!(res.status().is_success());
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "https://www.provedor.example"
        );
        assert!(
            res.headers()["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("authorization")
        );
        let res = preflight("https://evil.example").await.unwrap();
        assert!(!res.headers().contains_key("access-control-allow-origin"));
        // Limited per client address (the test's peer is not a trusted proxy, so
        // X-Forwarded-For is ignored and every request counts for 127.0.0.1): three of
        // the five went above, refused or not.
        for _ in 0..2 {
            assert_eq!(
                check("https://www.provedor.example", "198.51.100.2")
                    .await
                    .unwrap()
                    .status(),
                200
            );
        }
        assert_eq!(
            check("https://www.provedor.example", "198.51.100.3")
                .await
                .unwrap()
                .status(),
            429
        );
    }
);

on_both_engines!(keys_are_stored_only_as_hashes, |app: TestApp| async move {
    let key = app
        .partner("conecte", &["feasibility"], json!({"name": "prod"}))
        .await;
    let secret_part = &key[12..];
    let stored = app.sql_text("SELECT hash FROM api_keys").await.unwrap();
    assert_eq!(stored.len(), 64, "a SHA-256 in hex");
    assert!(!stored.contains(secret_part));
    if app.config.database_url.starts_with("sqlite:") {
        // Every byte the database wrote: the file and its log.
        let path = app
            .config
            .database_url
            .trim_start_matches("sqlite://")
            .to_owned();
        for file in [path.clone(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !bytes
                        .windows(secret_part.len())
                        .any(|w| w == secret_part.as_bytes()),
                    "{file} holds the key"
                );
            }
        }
    } else {
        let all = app
            .sql_text("SELECT string_agg(row_to_json(k)::text, ' ') FROM api_keys k")
            .await
            .unwrap();
        assert!(!all.contains(secret_part), "{all}");
    }
});

on_both_engines!(
    last_used_at_is_kept_to_the_minute,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let key = app
            .partner("conecte", &["feasibility"], json!({"name": "prod"}))
            .await;
        let before = chrono::Utc::now();
        for _ in 0..3 {
            call(
                &app,
                "POST",
                "/feasibility",
                &key,
                Some(json!({"lat": C.0, "lon": C.1})),
            )
            .await;
        }
        app.app.flush_key_uses().await.unwrap();
        let r = app.get("/integrations/conecte/keys", &app.admin()).await;
        let used: chrono::DateTime<chrono::Utc> =
            r.body[0]["last_used_at"].as_str().unwrap().parse().unwrap();
        assert!(
            used <= chrono::Utc::now() && before - used < chrono::Duration::seconds(60),
            "{used} vs {before}"
        );
    }
);

on_both_engines!(
    the_cli_creates_integrations_and_issues_keys,
    |app: TestApp| async move {
        let app = app.with_fixture().await;
        let dir = tempfile::tempdir().unwrap();
        let cli = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_feasibility"))
                .args(args)
                .current_dir(dir.path())
                .env("FEASIBILITY_DATABASE_URL", &app.config.database_url)
                .output()
                .expect("the binary runs")
        };
        let file = dir.path().join("conecte.json");
        std::fs::write(&file, integration("conecte", &["feasibility"]).to_string()).unwrap();
        let out = cli(&["integration", "add", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(created["status"], "active");
        // Refused like the API refuses: the field named, nothing changed.
        let out = cli(&[
            "key",
            "issue",
            "--integration",
            "conecte",
            "--scopes",
            "inventory:write",
        ]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("scopes[0]"));
        let out = cli(&["key", "issue", "--integration", "conecte", "--name", "cli"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert!(key.starts_with("fsk_"), "{key}");
        // The running service follows the change log: the key works within a second or so.
        let started = std::time::Instant::now();
        loop {
            let r = call(
                &app,
                "POST",
                "/feasibility",
                &key,
                Some(json!({"lat": C.0, "lon": C.1})),
            )
            .await;
            if r.status == 200 {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(3),
                "{}",
                r.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
);
