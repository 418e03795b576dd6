//! Alert e-mails to the integrations' `alert` contacts: webhooks failing for
//! `alert_failing_after_s` (once a day at most), webhooks disabled, keys entering their
//! last 7 days (once). A round every few seconds finds what is due in the store, sends it,
//! and marks it only once sent (or logged), so a failure to send is tried next round.
//!
//! Replicas: each round holds a PostgreSQL advisory lock (`Store::alert_lock`) from the
//! selection to the last mark. Marking before sending would also stop two replicas from
//! both sending, but a crash between mark and send would lose the alert; with the lock a
//! crash only releases it, and the next round sends again (at least once, never lost).

use crate::config::Secret;
use crate::domain::alert::{self, Addressee, AlertKind, Due, ExpiringKey, Message, WebhookTrouble};
use crate::domain::integration::Integration;
use crate::store::{AlertWebhook, Store, StoreError};
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// Between rounds: failing alerts go within 15 s of falling due, key alerts within a minute.
const ROUND: Duration = Duration::from_secs(5);
/// How long the SMTP relay has for one message before the round gives up on it.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// How alerts are sent (from the configuration).
#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub smtp_url: Option<Secret>,
    pub from: Option<String>,
    pub failing_after: Duration,
    /// `webhook_disable_after_s`, for telling when a failing webhook will be disabled.
    pub disable_after: Duration,
}

/// Where alerts go: an SMTP relay, or, without `smtp_url`, the log.
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    LogOnly,
}

/// What became of an alert that did not fail (the metric's `result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Logged,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Logged => "logged",
        }
    }
}

impl Mailer {
    /// The relay of `smtp_url`, or the log without one. Errors never show the URL.
    pub fn new(config: &AlertConfig) -> Result<Self, String> {
        let Some(url) = &config.smtp_url else {
            tracing::warn!("no smtp_url: alert e-mails are logged, not sent");
            return Ok(Mailer::LogOnly);
        };
        let from = config
            .from
            .as_deref()
            .ok_or("alert_from: required with smtp_url")?
            .parse::<Mailbox>()
            .map_err(|e| format!("alert_from: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|e| format!("smtp_url: {e}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer::Smtp { transport, from })
    }

    /// Sends `message` to `to` (or logs it); an error is worth trying again.
    pub async fn deliver(
        &self,
        kind: AlertKind,
        integration: &str,
        to: &[String],
        message: &Message,
    ) -> Result<Outcome, String> {
        let (transport, from) = match self {
            Mailer::Smtp { transport, from } => (transport, from),
            Mailer::LogOnly => {
                log_instead(kind, integration, message, "no smtp_url");
                return Ok(Outcome::Logged);
            }
        };
        let recipients: Vec<Mailbox> = to.iter().filter_map(|a| a.parse().ok()).collect();
        if recipients.is_empty() {
            log_instead(
                kind,
                integration,
                message,
                "the integration has no alert contact",
            );
            return Ok(Outcome::Logged);
        }
        let mut builder = lettre::Message::builder()
            .from(from.clone())
            .subject(message.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for r in &recipients {
            builder = builder.to(r.clone());
        }
        let email = builder
            .body(message.body.clone())
            .map_err(|e| format!("cannot build the message: {e}"))?;
        transport.send(email).await.map_err(|e| e.to_string())?;
        // The partner's operational contacts: debug at most.
        tracing::debug!(kind = kind.as_str(), integration, to = ?to, "alert e-mail sent");
        Ok(Outcome::Sent)
    }
}

fn log_instead(kind: AlertKind, integration: &str, message: &Message, why: &str) {
    tracing::warn!(
        kind = kind.as_str(),
        integration,
        subject = message.subject,
        body = message.body,
        "alert logged, not e-mailed: {why}"
    );
}

/// Finds the alerts due and sends them.
pub struct Alerter {
    store: Store,
    mailer: Mailer,
    config: AlertConfig,
}

fn time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

impl Alerter {
    pub fn new(store: Store, config: AlertConfig) -> Result<Self, String> {
        Ok(Self {
            mailer: Mailer::new(&config)?,
            store,
            config,
        })
    }

    /// A round every few seconds until the process stops.
    pub async fn run_forever(self) {
        loop {
            tokio::time::sleep(ROUND).await;
            if let Err(e) = self.round(chrono::Utc::now().timestamp_micros()).await {
                tracing::warn!(error = %e, "alert round failed; retrying");
            }
        }
    }

    /// Sends what is due at `now` (µs), unless another replica is sending now.
    pub async fn round(&self, now: i64) -> Result<(), StoreError> {
        let Some(lock) = self.store.alert_lock().await? else {
            return Ok(());
        };
        let done = self
            .round_held(Due::at(now, self.config.failing_after))
            .await;
        lock.release().await;
        done
    }

    async fn round_held(&self, due: Due) -> Result<(), StoreError> {
        let failing = self
            .store
            .webhooks_failing(due.failing_since_before, due.alerted_before)
            .await?;
        for w in failing
            .iter()
            .filter(|w| due.webhook_failing(Some(w.failing_since), w.alerted_at))
        {
            let disabled_at = w.failing_since + self.config.disable_after.as_micros() as i64;
            self.webhook(
                AlertKind::WebhookFailing,
                w,
                disabled_at,
                alert::webhook_failing,
            )
            .await?;
        }
        for w in self.store.webhooks_disabled_unalerted().await? {
            self.webhook(
                AlertKind::WebhookDisabled,
                &w,
                w.updated_at,
                alert::webhook_disabled,
            )
            .await?;
        }
        let keys = self
            .store
            .keys_expiring(due.now, due.expiring_before)
            .await?;
        for k in keys
            .iter()
            .filter(|k| due.key_expiring(Some(k.expires_at), None))
        {
            let Some(i) = integration(&k.integration_id, &k.integration_doc) else {
                continue;
            };
            let message = alert::key_expiring(
                Addressee {
                    id: &i.id,
                    name: &i.name,
                },
                ExpiringKey {
                    id: &k.id,
                    name: &k.name,
                    prefix: &k.prefix,
                    expires_at: time(k.expires_at),
                },
            );
            if self.send(AlertKind::KeyExpiring, &i, &message).await {
                self.store.mark_key_alerted(&k.id, due.now).await?;
            }
        }
        Ok(())
    }

    async fn webhook(
        &self,
        kind: AlertKind,
        w: &AlertWebhook,
        disabled_at: i64,
        text: fn(Addressee, WebhookTrouble) -> Message,
    ) -> Result<(), StoreError> {
        let Some(i) = integration(&w.integration_id, &w.integration_doc) else {
            return Ok(());
        };
        let message = text(
            Addressee {
                id: &i.id,
                name: &i.name,
            },
            WebhookTrouble {
                id: &w.id,
                url: &w.url,
                failing_since: time(w.failing_since),
                last_error: w.last_error.as_deref(),
                disabled_at: time(disabled_at),
            },
        );
        if self.send(kind, &i, &message).await {
            let enabled = kind == AlertKind::WebhookFailing;
            let now = chrono::Utc::now().timestamp_micros();
            self.store.mark_webhook_alerted(&w.id, enabled, now).await?;
        }
        Ok(())
    }

    /// True once sent or logged; a failure is counted and left for the next round.
    async fn send(&self, kind: AlertKind, i: &Integration, message: &Message) -> bool {
        match self
            .mailer
            .deliver(kind, &i.id, &i.contacts.alert, message)
            .await
        {
            Ok(outcome) => {
                crate::metrics::alert(kind.as_str(), outcome.as_str());
                true
            }
            Err(e) => {
                crate::metrics::alert(kind.as_str(), "error");
                tracing::warn!(kind = kind.as_str(), integration = i.id, error = %e,
                    "cannot send an alert e-mail; trying again next round");
                false
            }
        }
    }
}

/// The integration of a stored document; an unreadable one is logged and skipped.
fn integration(id: &str, doc: &str) -> Option<Integration> {
    match serde_json::from_str(doc) {
        Ok(i) => Some(i),
        Err(e) => {
            tracing::error!(integration = id, error = %e, "unreadable integration: no alert");
            None
        }
    }
}
