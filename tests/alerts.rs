//! Alert e-mails end to end: a real server process, a webhook pointing at a closed port,
//! a key about to expire, and a local SMTP sink on aiosmtpd (scripts/smtp_sink.py) that
//! writes down every message. Without `smtp_url` the alerts land in the log instead.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

mod common;

use common::{Api, free_port, pg_schema, python_with, spawn_server_with, wait_ready};

const SECRET: &str = "alerts-test-secret-0123456789";

/// Fast failing webhooks, allowed to point at this machine.
const ENV: [(&str, &str); 5] = [
    ("FEASIBILITY_WEBHOOK_ALLOW_HTTP", "true"),
    ("FEASIBILITY_WEBHOOK_ALLOW_PRIVATE", "true"),
    (
        "FEASIBILITY_WEBHOOK_RETRY_DELAYS_S",
        "[1, 1, 1, 1, 1, 1, 1, 1]",
    ),
    ("FEASIBILITY_ALERT_FAILING_AFTER_S", "2"),
    // Late enough that the "failing" mail (due at 2 s, rounds every 5 s) goes first.
    ("FEASIBILITY_WEBHOOK_DISABLE_AFTER_S", "14"),
];

struct Sink {
    out: PathBuf,
    _child: Child,
}

impl Sink {
    async fn start(python: &str, port: u16, out: &Path) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp_sink.py");
        let child = Command::new(python)
            .args([script, &port.to_string(), out.to_str().unwrap()])
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            out: out.to_owned(),
            _child: child,
        }
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The messages whose subject contains `needle`, once there is one (within `limit`).
    async fn until(&self, limit: Duration, needle: &str) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let got = self.with_subject(needle);
            if !got.is_empty() {
                return got;
            }
            assert!(
                started.elapsed() < limit,
                "no mail about {needle:?} within {limit:?}: {:#?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn with_subject(&self, needle: &str) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|m| m["subject"].as_str().unwrap_or("").contains(needle))
            .collect()
    }
}

impl Api {
    /// The integration "crm" (named "CRM Partner") with its alert contacts.
    async fn integration(&self) {
        self.post("/integrations", json!({"id": "crm", "name": "CRM Partner", "projects": ["*"],
            "modules": ["feasibility", "reservations_manage"],
            "contacts": {"alert": ["alerts@crm.example", "oncall@crm.example"],
                "emergency": ["+5511999990000"], "technical": ["t@crm.example"],
                "operational": ["o@crm.example"], "operational_public": "s@crm.example"},
            "support_hours": [{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "America/Sao_Paulo"}]}))
            .await;
    }

    /// A key of "crm" expiring in three days: its id.
    async fn key_expiring_soon(&self) -> String {
        let expires = chrono::Utc::now() + chrono::Duration::days(3);
        let k = self
            .post(
                "/integrations/crm/keys",
                json!({"name": "production", "kind": "secret", "expires_at": expires.to_rfc3339()}),
            )
            .await;
        k["id"].as_str().unwrap().to_owned()
    }

    /// An import, so that there is an event for the webhooks.
    async fn plant(&self) {
        let features = json!([{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-46.6333, -23.5505]},
            "properties": {"kind": "box", "id": "A-1", "status": "deployed",
                "splitters": [{"id": "A-1-S1", "kind": "attendance", "ports": 16, "used": 0}]}}]);
        self.post(
            "/inventory/import?project=a",
            json!({"type": "FeatureCollection", "features": features}),
        )
        .await;
    }
}

async fn alerts_are_emailed_to_the_alert_contacts(db: &str) {
    let Some(python) = python_with("aiosmtpd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let smtp = free_port();
    let sink = Sink::start(python, smtp, &dir.path().join("mail.jsonl")).await;
    let smtp_url = format!("smtp://127.0.0.1:{smtp}");
    let mut env: Vec<(&str, &str)> = ENV.to_vec();
    env.push(("FEASIBILITY_SMTP_URL", &smtp_url));
    env.push((
        "FEASIBILITY_ALERT_FROM",
        "FTTH alerts <alerts@ftth.example>",
    ));
    let port = free_port();
    let _server = spawn_server_with(db, port, SECRET, None, "warn", &env);
    let api = Api::new(port, SECRET);
    wait_ready(&api.client, &api.base).await;
    api.integration().await;
    let key = api.key_expiring_soon().await;
    // Nobody listens there: every attempt fails.
    let url = format!("http://127.0.0.1:{}/hook", free_port());
    let w = api
        .post(
            "/integrations/crm/webhooks",
            json!({"url": url, "events": ["*"]}),
        )
        .await;
    let started = Instant::now();
    api.plant().await;

    let expiring = sink.until(Duration::from_secs(15), "expires on").await;
    let m = &expiring[0];
    assert_eq!(m["to"], json!(["alerts@crm.example", "oncall@crm.example"]));
    assert_eq!(m["from"], "alerts@ftth.example");
    assert!(
        m["subject"].as_str().unwrap().contains("CRM Partner"),
        "{m}"
    );
    assert!(m["body"].as_str().unwrap().contains(&key), "{m}");

    let failing = sink
        .until(Duration::from_secs(20), "Webhook failing since")
        .await;
    let m = &failing[0];
    let body = m["body"].as_str().unwrap();
    assert_eq!(m["to"], json!(["alerts@crm.example", "oncall@crm.example"]));
    assert!(
        m["subject"].as_str().unwrap().contains("CRM Partner"),
        "{m}"
    );
    assert!(m["subject"].as_str().unwrap().contains(&url), "{m}");
    assert!(body.contains(&url), "{body}");
    assert!(body.contains("has failed since 20"), "since when: {body}");
    assert!(body.contains("cannot be reached"), "the last error: {body}");
    assert!(
        body.contains(&format!(
            "/integrations/crm/webhooks/{}/deliveries",
            w["id"].as_str().unwrap()
        )),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "the failing mail came before the webhook was disabled"
    );

    let disabled = sink
        .until(Duration::from_secs(30), "Webhook disabled")
        .await;
    assert!(
        disabled[0]["body"]
            .as_str()
            .unwrap()
            .contains("{\"enabled\": true}")
    );
    // Rounds go on every 5 s: nothing is sent twice.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(sink.with_subject("expires on").len(), 1, "once per key");
    assert_eq!(sink.with_subject("Webhook failing").len(), 1, "once a day");
    assert_eq!(sink.with_subject("Webhook disabled").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_emailed_to_the_alert_contacts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    alerts_are_emailed_to_the_alert_contacts(&format!("sqlite://{}/a.db", dir.path().display()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_emailed_to_the_alert_contacts_on_postgres() {
    let Some(schema) = pg_schema("alerts").await else {
        return;
    };
    alerts_are_emailed_to_the_alert_contacts(&schema.url).await;
}

/// Without `smtp_url`, each alert is a WARN line of the log, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_url_alerts_are_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.log");
    let db = format!("sqlite://{}/l.db", dir.path().display());
    let port = free_port();
    let _server = spawn_server_with(&db, port, SECRET, Some(&log), "warn", &ENV);
    let api = Api::new(port, SECRET);
    wait_ready(&api.client, &api.base).await;
    api.integration().await;
    api.key_expiring_soon().await;
    let logged = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("WARN") && l.contains("alert logged") && l.contains("key_expiring")
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let started = Instant::now();
    while logged().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no WARN line for the alert: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let line = &logged()[0];
    assert!(line.contains("CRM Partner"), "{line}");
    assert!(
        !line.contains("alerts@crm.example"),
        "contacts at debug only: {line}"
    );
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(logged().len(), 1, "logged once: {:#?}", logged());
    let metrics = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("alerts_total{kind=\"key_expiring\",result=\"logged\"} 1"),
        "{metrics}"
    );
}
