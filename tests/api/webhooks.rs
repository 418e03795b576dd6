//! Webhooks as an integration manages them: subscriptions, the URLs they may have, their
//! secrets and rotation, and who may manage whose.

use crate::helpers::*;
use serde_json::{Value, json};

/// A URL that passes the checks without a resolver: a public address literal.
const PUBLIC_URL: &str = "https://8.8.8.8/ftth";

fn integration(id: &str, modules: &[&str]) -> Value {
    json!({"id": id, "name": format!("Partner {id}"), "projects": ["p1"], "modules": modules,
        "contacts": {"alert": ["a@x.example"], "emergency": ["+5511999990000"],
            "technical": ["t@x.example"], "operational": ["o@x.example"],
            "operational_public": "s@x.example"},
        "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]})
}

/// Creates an integration with `modules` and issues it a secret key; the key.
async fn partner_key(app: &TestApp, id: &str, modules: &[&str]) -> String {
    let admin = app.admin();
    let r = app
        .post("/integrations", &admin, integration(id, modules))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app
        .post(
            &format!("/integrations/{id}/keys"),
            &admin,
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["key"].as_str().unwrap().to_owned()
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    app.send(method, path, Some(token), body.map(|b| b.to_string()))
        .await
}

#[track_caller]
fn assert_secret(r: &Reply) -> String {
    use base64::Engine;
    let secret = r.body["secret"].as_str().expect("a secret").to_owned();
    let encoded = secret.strip_prefix("whsec_").expect("whsec_");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(bytes.len(), 32, "{secret}");
    secret
}

/// The fields of a validation problem's errors.
fn fields(r: &Reply) -> Vec<String> {
    r.body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

on_both_engines!(
    a_webhook_is_created_listed_changed_rotated_and_deleted,
    |app: TestApp| async move {
        let admin = app.admin();
        partner_key(&app, "a", &["events"]).await;
        let r = app
            .post(
                "/integrations/a/webhooks",
                &admin,
                json!({"url": PUBLIC_URL, "events": ["reservation.*"], "description": "CRM"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let first_secret = assert_secret(&r);
        let wid = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["url"], PUBLIC_URL);
        assert_eq!(r.body["events"], json!(["reservation.*"]));
        assert_eq!(r.body["enabled"], true);
        assert_eq!(r.body["description"], "CRM");
        assert!(r.body["disabled_reason"].is_null());
        assert!(r.body["created_at"].is_string());
        let path = format!("/integrations/a/webhooks/{wid}");

        // Listed and read without the secret.
        let r = app.get("/integrations/a/webhooks", &admin).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.body);
        assert!(r.body[0].get("secret").is_none(), "{}", r.body);
        assert_eq!(r.body[0]["id"], wid.as_str());
        let r = app.get(&path, &admin).await;
        assert_eq!(r.status, 200);
        assert!(r.body.get("secret").is_none(), "{}", r.body);

        // Changed; turned off by its owner it shows no reason.
        let r = call(
            &app,
            "PATCH",
            &path,
            &admin,
            Some(json!({"events": ["*"], "description": "all", "enabled": false})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["events"], json!(["*"]));
        assert_eq!(r.body["description"], "all");
        assert_eq!(r.body["enabled"], false);
        assert!(r.body["disabled_reason"].is_null(), "{}", r.body);
        assert!(r.body.get("secret").is_none());
        assert!(
            app.app
                .store
                .webhooks_for_delivery()
                .await
                .unwrap()
                .is_empty()
        );
        let r = call(&app, "PATCH", &path, &admin, Some(json!({"colour": "red"}))).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(fields(&r), ["colour"]);

        // Disabled by the service, it shows why; turned back on, it starts afresh.
        app.sql(&format!(
            "UPDATE webhooks SET disabled_reason = 'failing for 5 days', failing_since = 1 WHERE id = '{wid}'"
        ))
        .await;
        let r = app.get(&path, &admin).await;
        assert_eq!(r.body["disabled_reason"], "failing for 5 days");
        let r = call(&app, "PATCH", &path, &admin, Some(json!({"enabled": true}))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["enabled"], true);
        assert!(r.body["disabled_reason"].is_null(), "{}", r.body);
        let since = app
            .sql_text(&format!(
                "SELECT failing_since FROM webhooks WHERE id = '{wid}'"
            ))
            .await;
        assert_eq!(since, None);

        // Rotated: a new secret, shown once; for 24 h both sign.
        let r = app
            .post(&format!("{path}/rotate-secret"), &admin, json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let second_secret = assert_secret(&r);
        assert_ne!(second_secret, first_secret);
        assert_eq!(r.body["id"], wid.as_str());
        assert_eq!(r.body["events"], json!(["*"]));
        let targets = app.app.store.webhooks_for_delivery().await.unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].id, wid);
        assert_eq!(targets[0].integration_id, "a");
        assert_eq!(targets[0].url, PUBLIC_URL);
        assert_eq!(targets[0].secrets, [second_secret.clone(), first_secret]);
        let until: i64 = app
            .sql_text(&format!(
                "SELECT previous_secret_until FROM webhooks WHERE id = '{wid}'"
            ))
            .await
            .unwrap()
            .parse()
            .unwrap();
        let in_24h = (chrono::Utc::now() + chrono::TimeDelta::hours(24)).timestamp_micros();
        assert!((in_24h - until).abs() < 60_000_000, "{until}");
        // Once that time has passed, only the new one signs.
        app.sql("UPDATE webhooks SET previous_secret_until = 1")
            .await;
        let targets = app.app.store.webhooks_for_delivery().await.unwrap();
        assert_eq!(targets[0].secrets, [second_secret]);
        assert!(app.get(&path, &admin).await.body.get("secret").is_none());

        // Deleted.
        let r = call(&app, "DELETE", &path, &admin, None).await;
        assert_eq!(r.status, 204);
        app.get(&path, &admin)
            .await
            .assert_problem(404, "not_found");
        call(&app, "DELETE", &path, &admin, None)
            .await
            .assert_problem(404, "not_found");
        let r = app.get("/integrations/a/webhooks", &admin).await;
        assert_eq!(r.body, json!([]));
        // An unknown integration has no webhooks at all.
        app.get("/integrations/nobody/webhooks", &admin)
            .await
            .assert_problem(404, "not_found");
        app.post(
            "/integrations/nobody/webhooks",
            &admin,
            json!({"url": PUBLIC_URL, "events": ["*"]}),
        )
        .await
        .assert_problem(404, "not_found");
    }
);

on_both_engines!(
    bad_webhooks_are_422_naming_the_field_and_change_nothing,
    |app: TestApp| async move {
        let admin = app.admin();
        partner_key(&app, "a", &["events"]).await;
        for url in [
            "http://8.8.8.8/ftth",
            "https://127.0.0.1/",
            "https://localhost/",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.1.1]/",
            "https://user:pw@8.8.8.8/",
            "https://no-such-host.invalid/",
            "ftp://8.8.8.8/",
            "not a url",
        ] {
            let r = app
                .post(
                    "/integrations/a/webhooks",
                    &admin,
                    json!({"url": url, "events": ["*"]}),
                )
                .await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(fields(&r), ["url"], "{url}: {}", r.body);
        }
        for (events, field) in [
            (json!([]), "events"),
            (
                json!(["reservation.created", "reservation.nope"]),
                "events[1]",
            ),
            (json!(["reservation"]), "events[0]"),
            (json!(["*", "nothing.*"]), "events[1]"),
            (
                json!(["inventory.imported", "inventory.imported"]),
                "events[1]",
            ),
            (json!("*"), "events"),
        ] {
            let r = app
                .post(
                    "/integrations/a/webhooks",
                    &admin,
                    json!({"url": PUBLIC_URL, "events": events}),
                )
                .await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(fields(&r), [field], "{events}: {}", r.body);
        }
        for body in [
            json!({"events": ["*"]}),
            json!({"url": PUBLIC_URL, "events": ["*"], "secret": "whsec_mine"}),
            json!({"url": PUBLIC_URL, "events": ["*"], "description": "x".repeat(501)}),
        ] {
            let r = app.post("/integrations/a/webhooks", &admin, body).await;
            r.assert_problem(422, "validation_failed");
        }
        let r = app.get("/integrations/a/webhooks", &admin).await;
        assert_eq!(r.body, json!([]), "nothing was stored");

        // Every pattern form is taken.
        for events in [
            json!(["*"]),
            json!(["reservation.*", "inventory.imported", "coverage.available"]),
            json!([
                "reservation.created",
                "reservation.confirmed",
                "reservation.cancelled",
                "reservation.installed",
                "reservation.expired",
                "reservation.port_moved",
                "reservation.inventory_confirmed"
            ]),
        ] {
            let r = app
                .post(
                    "/integrations/a/webhooks",
                    &admin,
                    json!({"url": PUBLIC_URL, "events": events}),
                )
                .await;
            assert_eq!(r.status, 201, "{events}: {}", r.body);
        }
        // A change to a refused URL or pattern changes nothing.
        let wid = app.get("/integrations/a/webhooks", &admin).await.body[0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/integrations/a/webhooks/{wid}");
        for (patch, field) in [
            (json!({"url": "https://127.0.0.1/"}), "url"),
            (json!({"url": "http://8.8.8.8/"}), "url"),
            (json!({"events": ["nope"]}), "events[0]"),
            (json!({"enabled": "yes"}), "enabled"),
        ] {
            let r = call(&app, "PATCH", &path, &admin, Some(patch.clone())).await;
            r.assert_problem(422, "validation_failed");
            assert_eq!(fields(&r), [field], "{patch}: {}", r.body);
        }
        let r = app.get(&path, &admin).await;
        assert_eq!(r.body["url"], PUBLIC_URL);
        assert_eq!(r.body["events"], json!(["*"]));
        // An unknown webhook is 404 whatever the body.
        call(
            &app,
            "PATCH",
            "/integrations/a/webhooks/nope",
            &admin,
            Some(json!({"url": "https://127.0.0.1/"})),
        )
        .await
        .assert_problem(404, "not_found");
    }
);

on_both_engines!(
    local_http_urls_are_taken_when_the_operator_allows_them,
    |app: TestApp| async move {
        partner_key(&app, "a", &["events"]).await;
        let app = app
            .restart_with(|c| {
                c.webhook_allow_http = true;
                c.webhook_allow_private = true;
            })
            .await;
        let admin = app.admin();
        for url in ["http://127.0.0.1:9/hook", "https://localhost/hook"] {
            let r = app
                .post(
                    "/integrations/a/webhooks",
                    &admin,
                    json!({"url": url, "events": ["*"]}),
                )
                .await;
            assert_eq!(r.status, 201, "{url}: {}", r.body);
        }
        // Credentials and other schemes stay refused.
        for url in ["http://u:p@127.0.0.1/", "ftp://127.0.0.1/"] {
            let r = app
                .post(
                    "/integrations/a/webhooks",
                    &admin,
                    json!({"url": url, "events": ["*"]}),
                )
                .await;
            r.assert_problem(422, "validation_failed");
        }
    }
);

on_both_engines!(
    the_events_scope_manages_only_the_callers_own_webhooks,
    |app: TestApp| async move {
        let admin = app.admin();
        let key_a = partner_key(&app, "a", &["events"]).await;
        partner_key(&app, "b", &["events"]).await;
        let key_c = partner_key(&app, "c", &["feasibility"]).await;
        let body = json!({"url": PUBLIC_URL, "events": ["*"]});
        let r = app
            .post("/integrations/b/webhooks", &admin, body.clone())
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let b_wid = r.body["id"].as_str().unwrap().to_owned();
        let jwt_a = app.keys.mint("a", &["*".into()], &["events".into()], 600);
        for token in [&key_a, &jwt_a] {
            // Its own integration's: every operation.
            let r = app
                .post("/integrations/a/webhooks", token, body.clone())
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            assert_secret(&r);
            let own = format!(
                "/integrations/a/webhooks/{}",
                r.body["id"].as_str().unwrap()
            );
            assert_eq!(app.get("/integrations/a/webhooks", token).await.status, 200);
            assert_eq!(app.get(&own, token).await.status, 200);
            let r = call(
                &app,
                "PATCH",
                &own,
                token,
                Some(json!({"description": "mine"})),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let r = app
                .post(&format!("{own}/rotate-secret"), token, json!({}))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_secret(&r);
            assert_eq!(call(&app, "DELETE", &own, token, None).await.status, 204);
            // Another integration's do not exist for it.
            let theirs = format!("/integrations/b/webhooks/{b_wid}");
            for (method, path, body) in [
                (
                    "POST",
                    "/integrations/b/webhooks".to_owned(),
                    Some(body.clone()),
                ),
                ("GET", "/integrations/b/webhooks".to_owned(), None),
                ("GET", theirs.clone(), None),
                ("PATCH", theirs.clone(), Some(json!({"enabled": false}))),
                ("DELETE", theirs.clone(), None),
                ("POST", format!("{theirs}/rotate-secret"), None),
                // Nor under its own integration's path.
                ("GET", format!("/integrations/a/webhooks/{b_wid}"), None),
                ("DELETE", format!("/integrations/a/webhooks/{b_wid}"), None),
            ] {
                call(&app, method, &path, token, body)
                    .await
                    .assert_problem(404, "not_found");
            }
        }
        // B's webhook is as it was.
        let r = app
            .get(&format!("/integrations/b/webhooks/{b_wid}"), &admin)
            .await;
        assert_eq!(r.body["enabled"], true, "{}", r.body);
        // Without `events` (or `admin`), not even its own.
        let jwt_c = app
            .keys
            .mint("c", &["*".into()], &["feasibility".into()], 600);
        for token in [&key_c, &jwt_c] {
            app.get("/integrations/c/webhooks", token)
                .await
                .assert_problem(403, "insufficient_scope");
            app.post("/integrations/c/webhooks", token, body.clone())
                .await
                .assert_problem(403, "insufficient_scope");
        }
        let r = app.get("/integrations/a/webhooks", &admin).await;
        assert_eq!(r.body, json!([]), "{}", r.body);
    }
);
