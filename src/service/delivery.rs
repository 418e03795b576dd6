//! Webhook delivery: events in the outbox are fanned out to the webhooks that may be told
//! of them, and each delivery is attempted (Standard Webhooks signature, no redirects, the
//! URL checked again, since DNS changes) until a 2xx, on the retry schedule.

use super::App;
use crate::auth::Scope;
use crate::domain::integration::{Integration, IntegrationStatus};
use crate::domain::webhook::{matches, signature_header};
use crate::store::{Attempt, DueDelivery, OutboxEvent, StoreError, WebhookTarget};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How deliveries are made (from the configuration).
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub timeout: Duration,
    /// Waits before each retry; `attempts` ends at 1 + their number.
    pub retry_delays: Vec<Duration>,
    pub disable_after: Duration,
    pub allow_http: bool,
    pub allow_private: bool,
}

/// Events fanned out, and deliveries leased, per round.
const ROUND: usize = 200;
/// Attempts in flight at once.
const IN_FLIGHT: usize = 16;
/// Longest wait between rounds when nothing was waiting (a commit here wakes the worker
/// sooner): retries and other replicas' events are found within it.
const IDLE: Duration = Duration::from_millis(250);
/// After a wake-up, how long the round waits for the commits right behind the first: after
/// a quiet spell, and while events keep coming.
const GATHER: Duration = Duration::from_millis(5);
const GATHER_STREAM: Duration = Duration::from_millis(50);
/// How often the pending-deliveries gauge is read.
const GAUGE: Duration = Duration::from_secs(1);
/// How often failing webhooks are looked at for disabling (the contract: within 15 s).
const DISABLE_CHECK: Duration = Duration::from_secs(5);

/// A webhook as the fan-out reads it.
struct Target {
    id: String,
    integration: Option<Integration>,
    patterns: Vec<String>,
}

impl Target {
    fn new(t: &WebhookTarget, integrations: &HashMap<String, Integration>) -> Self {
        Self {
            id: t.id.clone(),
            integration: integrations.get(&t.integration_id).cloned(),
            patterns: t.events.clone(),
        }
    }
}

/// Whether `target` is told of `event`: an active integration, the event's project among
/// its projects, a type its patterns take, and an object its modules let it read.
fn tells(target: &Target, event: &OutboxEvent) -> bool {
    let Some(i) = &target.integration else {
        return false;
    };
    if i.status != IntegrationStatus::Active
        || !i.project_scope().allows(&event.project)
        || !matches(&target.patterns, &event.kind)
    {
        return false;
    }
    let scopes = i.scopes();
    if event.kind.starts_with("reservation.") {
        scopes.contains(&Scope::ReservationsManage)
            || (scopes.contains(&Scope::ReservationsRead) && event.created_by == i.id)
    } else if event.kind == "inventory.imported" {
        scopes.contains(&Scope::Feasibility) || scopes.contains(&Scope::InventoryWrite)
    } else {
        // coverage.available: the interests the integration registered.
        event.created_by == i.id
    }
}

/// When to try again after the attempt that brings `attempts` to this count; none when
/// the schedule is spent (the delivery fails).
fn next_attempt(attempts: usize, delays: &[Duration], now: i64) -> Option<i64> {
    delays.get(attempts - 1).map(|d| now + d.as_micros() as i64)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl App {
    /// Fans out and delivers until the process stops.
    pub async fn deliver_forever(&self, config: DeliveryConfig) {
        let sender = match Sender::start(&config) {
            Ok(sender) => sender,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the webhook sender: no deliveries");
                return;
            }
        };
        let mut last_disable_check = Instant::now();
        let mut last_gauge = Instant::now();
        loop {
            let (busy, worked) = match self.deliver_round(&sender, &config).await {
                Ok((events, due)) => (events == ROUND || due == ROUND, events + due > 0),
                Err(e) => {
                    tracing::warn!(error = %e, "webhook delivery round failed; retrying");
                    (false, false)
                }
            };
            if last_disable_check.elapsed() >= DISABLE_CHECK {
                last_disable_check = Instant::now();
                if let Err(e) = self.disable_failing(&config).await {
                    tracing::warn!(error = %e, "cannot check failing webhooks; retrying");
                }
            }
            if last_gauge.elapsed() >= GAUGE {
                last_gauge = Instant::now();
                match self.store.pending_deliveries().await {
                    Ok(n) => crate::metrics::deliveries_pending(n),
                    Err(e) => tracing::debug!(error = %e, "cannot count pending deliveries"),
                }
            }
            if !busy {
                // Woken by a commit here; the timeout finds retries falling due and other
                // replicas' events.
                let _ = tokio::time::timeout(IDLE, self.store.committed().notified()).await;
                // A moment for the commits right behind it, so that a round takes a batch:
                // longer while events keep coming, so that the rounds' transactions stay
                // few beside the holds' (SQLite has one writer).
                tokio::time::sleep(if worked { GATHER_STREAM } else { GATHER }).await;
            }
        }
    }

    /// One round: fan out what is in the outbox and lease it with the retries due (one
    /// transaction), attempt them, record the attempts (another). Answers how many events
    /// it fanned out and deliveries it attempted ([`ROUND`]: there may be more waiting).
    async fn deliver_round(
        &self,
        sender: &Sender,
        config: &DeliveryConfig,
    ) -> Result<(usize, usize), StoreError> {
        let webhooks = self.store.webhooks_for_delivery().await?;
        let integrations: HashMap<String, Integration> = match webhooks.is_empty() {
            // With no webhook the events are only marked fanned out.
            true => HashMap::new(),
            false => self
                .store
                .integrations()
                .await?
                .into_iter()
                .filter(|i| !i.deleted)
                .filter_map(|i| Some((i.id, serde_json::from_str(&i.doc).ok()?)))
                .collect(),
        };
        let targets: Vec<Target> = webhooks
            .iter()
            .map(|w| Target::new(w, &integrations))
            .collect();
        let now = now_us();
        let lease = now + (config.timeout + Duration::from_secs(5)).as_micros() as i64;
        let (due, events) = self
            .store
            .take_round(ROUND, now, lease, |event| {
                targets
                    .iter()
                    .filter(|t| tells(t, event))
                    .map(|t| t.id.clone())
                    .collect()
            })
            .await?;
        let taken = due.len();
        let attempts = sender.attempt_all(config, webhooks, due).await;
        self.store.record_attempts(&attempts).await?;
        Ok((events, taken))
    }

    async fn disable_failing(&self, config: &DeliveryConfig) -> Result<(), StoreError> {
        let now = now_us();
        let since = now - config.disable_after.as_micros() as i64;
        for id in self.store.disable_failing(since, now).await? {
            tracing::warn!(
                webhook = id,
                "webhook disabled: every attempt failed for webhook_disable_after_s"
            );
        }
        Ok(())
    }
}

/// One line of a webhook's deliveries log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip)]
    pub created_at: i64,
}

impl From<crate::store::DeliveryRecord> for DeliveryView {
    fn from(d: crate::store::DeliveryRecord) -> Self {
        let time = |us: Option<i64>| us.and_then(chrono::DateTime::from_timestamp_micros);
        Self {
            event_id: d.event_id,
            kind: d.kind,
            status: d.status,
            attempts: d.attempts,
            last_attempt_at: time(d.last_attempt_at),
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            // A delivered or failed one is not tried again.
            next_attempt_at: time(d.next_attempt_at).filter(|_| d.delivered_at.is_none()),
            delivered_at: time(d.delivered_at),
            created_at: d.created_at,
        }
    }
}

impl App {
    /// A page of a webhook's deliveries, newest first (`limit + 1` read to know whether
    /// there is a next page).
    pub async fn deliveries(
        &self,
        integration_id: &str,
        webhook_id: &str,
        status: Option<&str>,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<DeliveryView>, super::webhooks::WebhookError> {
        self.webhook(integration_id, webhook_id).await?;
        let page = self
            .store
            .deliveries_page(webhook_id, status, after, limit)
            .await?;
        Ok(page.into_iter().map(DeliveryView::from).collect())
    }

    /// Tries a delivery again at once; failing, it follows the retry delays again.
    pub async fn retry_delivery(
        &self,
        integration_id: &str,
        webhook_id: &str,
        event_id: &str,
    ) -> Result<(), super::webhooks::WebhookError> {
        self.webhook(integration_id, webhook_id).await?;
        self.store
            .retry_delivery(webhook_id, event_id, now_us())
            .await?;
        Ok(())
    }
}

/// Makes the attempts on a thread of its own at the lowest scheduling priority: under a
/// full CPU the requests and the holds go first and the deliveries take what is left. (The
/// store's work stays on the service's runtime, and its connections with it.)
struct Sender {
    runtime: tokio::runtime::Handle,
    client: reqwest::Client,
    /// Dropped with the worker, which ends the thread.
    _alive: tokio::sync::oneshot::Sender<()>,
}

impl Sender {
    fn start(config: &DeliveryConfig) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(std::sync::Arc::new(ExternalOnly {
                allow_private: config.allow_private,
            }))
            .user_agent("ftth-feasibility-webhooks")
            .build()
            .map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let handle = runtime.handle().clone();
        let (alive, ended) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("webhook-sender".into())
            .spawn(move || {
                use thread_priority::{ThreadPriority, set_current_thread_priority};
                if let Err(e) = set_current_thread_priority(ThreadPriority::Min) {
                    tracing::warn!(error = ?e, "the webhook sender keeps the normal priority");
                }
                runtime.block_on(async move {
                    let _ = ended.await;
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            runtime: handle,
            client,
            _alive: alive,
        })
    }

    /// Attempts the round's deliveries, a few at a time (a partner's endpoint is not to be
    /// flooded with connections), each webhook's URL checked once for the round.
    async fn attempt_all(
        &self,
        config: &DeliveryConfig,
        webhooks: Vec<WebhookTarget>,
        due: Vec<DueDelivery>,
    ) -> Vec<(String, String, Attempt)> {
        let (client, config) = (self.client.clone(), config.clone());
        let work = async move {
            let mut refused: HashMap<&str, Option<&'static str>> = HashMap::new();
            for w in webhooks
                .iter()
                .filter(|w| due.iter().any(|d| d.webhook_id == w.id))
            {
                let check =
                    super::webhooks::check_url(&w.url, config.allow_http, config.allow_private);
                refused.insert(w.id.as_str(), check.await.err());
            }
            let by_id: HashMap<&str, &WebhookTarget> =
                webhooks.iter().map(|w| (w.id.as_str(), w)).collect();
            let (client, config) = (&client, &config);
            let pending: Vec<_> = due
                .into_iter()
                .filter_map(|d| {
                    let w = (*by_id.get(d.webhook_id.as_str())?).clone();
                    let url_refused = refused[w.id.as_str()];
                    Some(async move { attempt(client, config, &d, &w, url_refused).await })
                })
                .collect();
            futures_util::stream::iter(pending)
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<_>>()
                .await
        };
        match self.runtime.spawn(work).await {
            Ok(attempts) => attempts,
            Err(e) => {
                // Not recorded: the leases run out and the deliveries are tried again.
                tracing::warn!(error = %e, "webhook attempts did not finish");
                Vec::new()
            }
        }
    }
}

/// One attempt of a delivery, and how it ended (recorded with the round's others).
async fn attempt(
    client: &reqwest::Client,
    config: &DeliveryConfig,
    d: &DueDelivery,
    webhook: &WebhookTarget,
    url_refused: Option<&'static str>,
) -> (String, String, Attempt) {
    let (status_code, error) = match url_refused {
        Some(m) => (None, Some(format!("the URL is refused: {m}"))),
        None => send(client, d, webhook).await,
    };
    let at = now_us();
    let delivered = error.is_none();
    let attempts = d.attempts as usize + 1;
    let next_attempt_at = match delivered {
        true => None,
        false => next_attempt(attempts - d.retry_base as usize, &config.retry_delays, at),
    };
    let result = match (delivered, next_attempt_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "retry",
        (false, None) => "failed",
    };
    crate::metrics::delivery(result, delivered.then(|| (at - d.event_at) as f64 / 1e6));
    if !delivered {
        // The URL is the partner's, not personal data; the error says what failed.
        tracing::info!(webhook = d.webhook_id, event = d.event_id, attempts, error = ?error, "webhook attempt failed");
    }
    (
        d.webhook_id.clone(),
        d.event_id.clone(),
        Attempt {
            at,
            delivered,
            status_code,
            error,
            next_attempt_at,
        },
    )
}

/// Resolves names for the webhook client and refuses internal addresses at connection
/// time: the URL's check before the attempt cannot see a name that resolves differently a
/// moment later (DNS rebinding).
struct ExternalOnly {
    allow_private: bool,
}

impl reqwest::dns::Resolve for ExternalOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private
                && addrs
                    .iter()
                    .any(|a| crate::domain::webhook::is_internal(a.ip()))
            {
                return Err(format!("{host} resolves to an internal address").into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// One POST of the delivery: the answer's status, and what went wrong (none for a 2xx).
async fn send(
    client: &reqwest::Client,
    d: &DueDelivery,
    webhook: &WebhookTarget,
) -> (Option<u16>, Option<String>) {
    let timestamp = chrono::Utc::now().timestamp();
    let secrets: Vec<&str> = webhook.secrets.iter().map(String::as_str).collect();
    let signature = signature_header(&secrets, &d.event_id, timestamp, d.body.as_bytes());
    let sent = client
        .post(&webhook.url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.body.clone())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (
            Some(r.status().as_u16()),
            Some(format!("answered {}", r.status())),
        ),
        Err(e) if e.is_timeout() => (None, Some("no answer within webhook_timeout_s".into())),
        Err(e) => (None, Some(format!("cannot be reached: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(modules: &[&str], projects: &[&str], patterns: &[&str]) -> Target {
        let doc = serde_json::json!({"id": "crm", "name": "CRM", "projects": projects,
            "modules": modules, "contacts": {}, "support_hours": [], "status": "active",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"});
        Target {
            id: "w".into(),
            integration: Some(serde_json::from_value(doc).unwrap()),
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn event(kind: &str, project: &str, created_by: &str) -> OutboxEvent {
        OutboxEvent {
            id: "evt_1".into(),
            kind: kind.into(),
            project: project.into(),
            created_by: created_by.into(),
        }
    }

    #[test]
    fn a_webhook_is_told_what_its_integration_may_read() {
        let manage = target(&["reservations_manage"], &["*"], &["*"]);
        assert!(tells(
            &manage,
            &event("reservation.created", "p1", "someone-else")
        ));
        assert!(!tells(&manage, &event("inventory.imported", "p1", "")));
        let own = target(&["reservations"], &["p1"], &["reservation.*"]);
        assert!(tells(&own, &event("reservation.expired", "p1", "crm")));
        assert!(!tells(
            &own,
            &event("reservation.expired", "p1", "someone-else")
        ));
        assert!(
            !tells(&own, &event("reservation.expired", "p2", "crm")),
            "another project"
        );
        let feasibility = target(&["feasibility"], &["*"], &["inventory.imported"]);
        assert!(tells(&feasibility, &event("inventory.imported", "p1", "")));
        assert!(!tells(
            &feasibility,
            &event("reservation.created", "p1", "crm")
        ));
        let narrow = target(&["reservations_manage"], &["*"], &["reservation.expired"]);
        assert!(
            !tells(&narrow, &event("reservation.created", "p1", "crm")),
            "its patterns"
        );
        let gone = Target {
            integration: None,
            ..target(&["reservations_manage"], &["*"], &["*"])
        };
        assert!(!tells(&gone, &event("reservation.created", "p1", "crm")));
    }

    #[test]
    fn retries_follow_the_schedule_then_fail() {
        let delays = [Duration::from_secs(5), Duration::from_secs(300)];
        assert_eq!(next_attempt(1, &delays, 0), Some(5_000_000));
        assert_eq!(next_attempt(2, &delays, 0), Some(300_000_000));
        assert_eq!(next_attempt(3, &delays, 0), None, "1 + 2 attempts in all");
    }
}
