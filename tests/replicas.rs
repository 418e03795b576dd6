//! Two real server processes on one PostgreSQL: a race for ports spread over both grants no
//! port twice, and an import, a settings change and a cancel made on one are seen on the
//! other within a second. And the notification that wakes the others comes after the
//! change's commit.

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::process::Child;

mod common;

use common::{free_port, pg_schema, spawn_server, wait_ready};

const SECRET: &str = "replica-test-secret-0123456789abc";

struct Replica {
    base: String,
    _child: Child,
}

/// Polls `check` on a replica until it holds; returns how long that took.
async fn seen_within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not seen within {limit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_database() {
    let Some(schema) = pg_schema("replicas").await else {
        return;
    };
    let db = schema.url.clone();
    let client = reqwest::Client::new();
    let (pa, pb) = (free_port(), free_port());
    let a = Replica {
        base: format!("http://127.0.0.1:{pa}"),
        _child: spawn_server(&db, pa, SECRET, None, "warn"),
    };
    wait_ready(&client, &a.base).await;
    let b = Replica {
        base: format!("http://127.0.0.1:{pb}"),
        _child: spawn_server(&db, pb, SECRET, None, "warn"),
    };
    wait_ready(&client, &b.base).await;
    let keys = ftth_feasibility::auth::TokenKeys::hs256(SECRET.as_bytes());
    let token = keys.mint(
        "replicas",
        &["*".into()],
        &ftth_feasibility::auth::Scope::ALL.map(|s| s.as_str().to_owned()),
        600,
    );
    let post = |base: &str, path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let feasible_free = |base: String| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let r: Value = client
                .post(format!("{base}/feasibility"))
                .bearer_auth(&token)
                .json(&json!({"lat": -23.5505, "lon": -46.6333, "radius_m": 100}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            r["candidates"]
                .as_array()
                .and_then(|c| c.first())
                .and_then(|c| c["free_ports"].as_u64())
        }
    };

    // An import on A shows on B.
    let plant = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.6333, -23.5505]},
         "properties": {"kind": "box", "id": "REP-1", "status": "deployed",
           "splitters": [{"id": "REP-1-S1", "kind": "attendance", "ports": 4, "used": 0}]}}]});
    assert_eq!(
        post(&a.base, "/inventory/import?project=rep", plant)
            .await
            .unwrap()
            .status(),
        200
    );
    let import_delay = seen_within(Duration::from_secs(1), || {
        feasible_free(b.base.clone()).map_is(Some(4))
    })
    .await;

    // A settings change on A is in force on B.
    let r = client
        .patch(format!("{}/settings", a.base))
        .bearer_auth(&token)
        .json(&json!({"default_radius_m": 77}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let settings_delay = seen_within(Duration::from_secs(1), || {
        let (client, token, base) = (client.clone(), token.clone(), b.base.clone());
        async move {
            let s: Value = client
                .get(format!("{base}/settings"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            s["default_radius_m"] == 77.0
        }
    })
    .await;

    // Clients race for the 4 ports through both replicas.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (client, token) = (client.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"lat": -23.5505, "lon": -46.6333, "box_id": "REP-1", "address": "Rua A 1", "customer": {"name": "Race"}});
            let r = client.post(format!("{base}/reservations")).bearer_auth(&token).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut ports = HashSet::new();
    let mut held = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            201 => {
                assert!(
                    ports.insert(body["port"].as_u64().unwrap()),
                    "port given twice: {body}"
                );
                held.push(body["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(body["code"], "no_free_ports"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ports, HashSet::from([1, 2, 3, 4]));
    seen_within(Duration::from_secs(1), || {
        feasible_free(a.base.clone()).map_is(None)
    })
    .await;
    seen_within(Duration::from_secs(1), || {
        feasible_free(b.base.clone()).map_is(None)
    })
    .await;

    // A cancel on A frees the port on B.
    let r = post(
        &a.base,
        &format!("/reservations/{}/cancel", held[0]),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let cancel_delay = seen_within(Duration::from_secs(1), || {
        feasible_free(b.base.clone()).map_is(Some(1))
    })
    .await;
    eprintln!(
        "propagation to the other replica: import {import_delay:?}, settings {settings_delay:?}, cancel {cancel_delay:?}"
    );

    // Servers first, then the schema they use.
    drop(a);
    drop(b);
    drop(schema);
}

/// A change's notification is sent once its transaction has committed (outside it, so that
/// commits do not queue for PostgreSQL's notification lock): whoever hears it finds the
/// change in the log, and can tell it came from this store.
#[tokio::test]
async fn a_change_is_announced_after_its_commit() {
    use ftth_feasibility::domain::settings::Settings;
    use ftth_feasibility::store::{PoolOptions, Store};
    let Some(schema) = pg_schema("announce").await else {
        return;
    };
    let store = Store::connect(&schema.url, PoolOptions::default())
        .await
        .unwrap();
    let mut listener = store.listener().await.unwrap().expect("PostgreSQL listens");
    let before = store.latest_change().await.unwrap();
    for round in 1..=3 {
        let settings = Settings {
            default_radius_m: 100.0 + f64::from(round),
            ..Settings::default()
        };
        store.save_settings(&settings).await.unwrap();
        let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("a notification within 5 s")
            .unwrap();
        assert!(store.sent_here(heard.payload()));
        // Read on another connection: the change is committed when its notification is heard.
        let changes = store.changes_since(before, 100).await.unwrap();
        assert_eq!(changes.len(), round as usize, "{changes:?}");
        assert_eq!(changes.last().unwrap().kind, "settings");
    }
    // The listener's connection goes back to the pool before the pool closes.
    drop(listener);
    store.close().await;
    drop(schema);
}

trait MapIs<T> {
    fn map_is(self, expected: T) -> impl std::future::Future<Output = bool>;
}

impl<F, T> MapIs<T> for F
where
    F: std::future::Future<Output = T>,
    T: PartialEq,
{
    async fn map_is(self, expected: T) -> bool {
        self.await == expected
    }
}

/// A key issued on one replica works on the other within a second, and a revocation, a
/// suspension and a module taken away on one are in force on the other within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changes_on_one_replica_are_in_force_on_the_other_within_a_second() {
    let Some(schema) = pg_schema("replica_keys").await else {
        return;
    };
    let client = reqwest::Client::new();
    let (pa, pb) = (free_port(), free_port());
    let a = Replica {
        base: format!("http://127.0.0.1:{pa}"),
        _child: spawn_server(&schema.url, pa, SECRET, None, "warn"),
    };
    let b = Replica {
        base: format!("http://127.0.0.1:{pb}"),
        _child: spawn_server(&schema.url, pb, SECRET, None, "warn"),
    };
    wait_ready(&client, &a.base).await;
    wait_ready(&client, &b.base).await;
    let admin = ftth_feasibility::auth::TokenKeys::hs256(SECRET.as_bytes()).mint(
        "ops",
        &["*".into()],
        &["admin".into()],
        600,
    );
    let send = |method: reqwest::Method, url: String, token: &str, body: Option<Value>| {
        let mut req = client.request(method, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    let r = send(
        reqwest::Method::POST,
        format!("{}/integrations", a.base),
        &admin,
        Some(
            json!({"id": "conecte", "name": "Conecte", "projects": ["*"],
            "modules": ["feasibility", "reservations"],
            "contacts": {"alert": ["a@x.example"], "emergency": ["+5511999990000"],
                "technical": ["t@x.example"], "operational": ["o@x.example"],
                "operational_public": "s@x.example"},
            "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00",
                "time_zone": "America/Sao_Paulo"}]}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let issued: Value = send(
        reqwest::Method::POST,
        format!("{}/integrations/conecte/keys", a.base),
        &admin,
        Some(json!({"name": "prod"})),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = issued["key"].as_str().unwrap().to_owned();
    let key_id = issued["id"].as_str().unwrap().to_owned();
    // What replica B answers the key, asking for reservations (the reservations module).
    let on_b = || {
        let (client, key, base) = (client.clone(), key.clone(), b.base.clone());
        async move {
            let r = client
                .get(format!("{base}/reservations"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body["code"].as_str().unwrap_or("").to_owned())
        }
    };
    let limit = Duration::from_secs(1);
    let patch = |body: Value| {
        send(
            reqwest::Method::PATCH,
            format!("{}/integrations/conecte", a.base),
            &admin,
            Some(body),
        )
    };
    seen_within(limit, || async { on_b().await.0 == 200 }).await;
    assert_eq!(
        patch(json!({"modules": ["feasibility"]}))
            .await
            .unwrap()
            .status(),
        200
    );
    seen_within(limit, || async {
        on_b().await == (403, "insufficient_scope".into())
    })
    .await;
    assert_eq!(
        patch(json!({"modules": ["feasibility", "reservations"], "status": "suspended"}))
            .await
            .unwrap()
            .status(),
        200
    );
    seen_within(limit, || async {
        on_b().await == (403, "integration_suspended".into())
    })
    .await;
    assert_eq!(
        patch(json!({"status": "active"})).await.unwrap().status(),
        200
    );
    seen_within(limit, || async { on_b().await.0 == 200 }).await;
    let r = send(
        reqwest::Method::DELETE,
        format!("{}/integrations/conecte/keys/{key_id}", a.base),
        &admin,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    seen_within(limit, || async {
        on_b().await == (401, "key_revoked".into())
    })
    .await;
}
