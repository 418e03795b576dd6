//! Alert e-mails to an integration's `alert` contacts: when each is due, and what it says.
//! Plain inputs in, subject and body out; sending is the service's business.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// A failing webhook is alerted of at most once in this long.
pub const REPEAT_AFTER: Duration = Duration::from_secs(24 * 3600);
/// A key is alerted of once, when it enters this last stretch of its life.
pub const KEY_WARNING: Duration = Duration::from_secs(7 * 24 * 3600);

/// What an alert is about (the `kind` label of the metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    WebhookFailing,
    WebhookDisabled,
    KeyExpiring,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::WebhookFailing => "webhook_failing",
            AlertKind::WebhookDisabled => "webhook_disabled",
            AlertKind::KeyExpiring => "key_expiring",
        }
    }
}

/// The lines between which alerts fall due at `now` (µs since the epoch), as the store
/// selects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// A webhook failing since at or before this is alerted of...
    pub failing_since_before: i64,
    /// ...unless it was alerted of after this.
    pub alerted_before: i64,
    /// A live key expiring at or before this (and after now) is alerted of, once.
    pub expiring_before: i64,
    pub now: i64,
}

impl Due {
    pub fn at(now: i64, failing_after: Duration) -> Self {
        Self {
            failing_since_before: now - micros(failing_after),
            alerted_before: now - micros(REPEAT_AFTER),
            expiring_before: now + micros(KEY_WARNING),
            now,
        }
    }

    /// Whether an enabled webhook failing since `failing_since` is due a "failing" alert.
    pub fn webhook_failing(&self, failing_since: Option<i64>, alerted_at: Option<i64>) -> bool {
        failing_since.is_some_and(|s| s <= self.failing_since_before)
            && alerted_at.is_none_or(|a| a <= self.alerted_before)
    }

    /// Whether a key is due its "expiring" alert: it expires within the warning, has not
    /// expired yet, and was not alerted of before.
    pub fn key_expiring(&self, expires_at: Option<i64>, alerted_at: Option<i64>) -> bool {
        expires_at.is_some_and(|e| e > self.now && e <= self.expiring_before)
            && alerted_at.is_none()
    }
}

fn micros(d: Duration) -> i64 {
    d.as_micros() as i64
}

/// Subject and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub body: String,
}

/// The integration an alert is about.
#[derive(Debug, Clone, Copy)]
pub struct Addressee<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// A webhook that keeps failing, or was disabled for it.
#[derive(Debug, Clone, Copy)]
pub struct WebhookTrouble<'a> {
    pub id: &'a str,
    pub url: &'a str,
    /// Its first failed attempt since its last success.
    pub failing_since: DateTime<Utc>,
    pub last_error: Option<&'a str>,
    /// When it is (or was) disabled.
    pub disabled_at: DateTime<Utc>,
}

/// A key about to expire.
#[derive(Debug, Clone, Copy)]
pub struct ExpiringKey<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub expires_at: DateTime<Utc>,
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn sign_off() -> &'static str {
    "\n-- \nThis message was sent automatically by the FTTH feasibility service to the \
     integration's alert contacts. Ask your provider to change them.\n"
}

pub fn webhook_failing(to: Addressee, w: WebhookTrouble) -> Message {
    Message {
        subject: format!(
            "[{}] Webhook failing since {}: {}",
            to.name,
            when(w.failing_since),
            w.url
        ),
        body: format!(
            "Integration: {} ({})\n\
             Webhook: {} ({})\n\n\
             Every delivery attempt to this webhook has failed since {}.\n\
             Last error: {}\n\n\
             What to do: check that the endpoint is up and answers 2xx within the timeout. \
             GET /integrations/{}/webhooks/{}/deliveries shows each attempt and its error; \
             POST .../deliveries/{{event_id}}/retry tries one again at once.\n\
             If it keeps failing, the webhook will be disabled at {} and get no more events.\n{}",
            to.name,
            to.id,
            w.url,
            w.id,
            when(w.failing_since),
            w.last_error.unwrap_or("(none recorded)"),
            to.id,
            w.id,
            when(w.disabled_at),
            sign_off()
        ),
    }
}

pub fn webhook_disabled(to: Addressee, w: WebhookTrouble) -> Message {
    Message {
        subject: format!("[{}] Webhook disabled: {}", to.name, w.url),
        body: format!(
            "Integration: {} ({})\n\
             Webhook: {} ({})\n\n\
             This webhook was disabled at {}: every delivery attempt had failed since {}. \
             It gets no attempts and no new events while disabled.\n\
             Last error: {}\n\n\
             What to do: fix the endpoint, then enable the webhook again with \
             PATCH /integrations/{}/webhooks/{} {{\"enabled\": true}}. \
             GET .../deliveries shows each attempt; POST .../deliveries/{{event_id}}/retry \
             sends a failed one again.\n{}",
            to.name,
            to.id,
            w.url,
            w.id,
            when(w.disabled_at),
            when(w.failing_since),
            w.last_error.unwrap_or("(none recorded)"),
            to.id,
            w.id,
            sign_off()
        ),
    }
}

pub fn key_expiring(to: Addressee, k: ExpiringKey) -> Message {
    Message {
        subject: format!(
            "[{}] API key \"{}\" expires on {}",
            to.name,
            k.name,
            when(k.expires_at)
        ),
        body: format!(
            "Integration: {} ({})\n\
             Key: \"{}\" ({}, beginning {})\n\n\
             This key expires at {}; from then on every request made with it is refused.\n\n\
             What to do: ask your provider for a new key now, switch your systems to it, \
             then have the old one revoked.\n{}",
            to.name,
            to.id,
            k.name,
            k.id,
            k.prefix,
            when(k.expires_at),
            sign_off()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;
    const NOW: i64 = 1_800_000_000 * S;

    fn due() -> Due {
        Due::at(NOW, Duration::from_secs(3600))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn to() -> Addressee<'static> {
        Addressee {
            id: "conecte",
            name: "Conecte.ai",
        }
    }

    fn trouble() -> WebhookTrouble<'static> {
        WebhookTrouble {
            id: "wh_1",
            url: "https://crm.example/ftth",
            failing_since: at("2026-03-01T10:00:00Z"),
            last_error: Some("answered 503 Service Unavailable"),
            disabled_at: at("2026-03-06T10:00:00Z"),
        }
    }

    #[test]
    fn a_webhook_is_due_once_it_has_failed_for_the_whole_delay() {
        let d = due();
        assert!(d.webhook_failing(Some(NOW - 3600 * S), None));
        assert!(!d.webhook_failing(Some(NOW - 3599 * S), None), "not yet");
        assert!(!d.webhook_failing(None, None), "not failing");
    }

    #[test]
    fn a_failing_webhook_is_alerted_of_once_a_day_at_most() {
        let d = due();
        let since = Some(NOW - 30 * 3600 * S);
        assert!(!d.webhook_failing(since, Some(NOW - 23 * 3600 * S)));
        assert!(d.webhook_failing(since, Some(NOW - 24 * 3600 * S)));
    }

    #[test]
    fn a_key_is_due_once_in_its_last_seven_days() {
        let d = due();
        let day = 24 * 3600 * S;
        assert!(d.key_expiring(Some(NOW + 7 * day), None));
        assert!(
            d.key_expiring(Some(NOW + 3 * day), None),
            "issued with less"
        );
        assert!(!d.key_expiring(Some(NOW + 7 * day + S), None), "not yet");
        assert!(!d.key_expiring(Some(NOW + day), Some(NOW - day)), "once");
        assert!(!d.key_expiring(Some(NOW - S), None), "already expired");
        assert!(!d.key_expiring(None, None), "never expires");
    }

    #[test]
    fn the_failing_message_names_the_integration_the_url_the_error_and_what_to_do() {
        let m = webhook_failing(to(), trouble());
        assert!(m.subject.contains("Conecte.ai"), "{}", m.subject);
        assert!(m.subject.contains("https://crm.example/ftth"));
        for part in [
            "conecte",
            "since 2026-03-01 10:00:00 UTC",
            "answered 503",
            "GET /integrations/conecte/webhooks/wh_1/deliveries",
            "disabled at 2026-03-06 10:00:00 UTC",
        ] {
            assert!(m.body.contains(part), "{part} in {}", m.body);
        }
    }

    #[test]
    fn the_disabled_message_says_how_to_enable_it_again() {
        let m = webhook_disabled(to(), trouble());
        assert!(m.subject.contains("disabled"));
        assert!(m.body.contains("disabled at 2026-03-06 10:00:00 UTC"));
        assert!(m.body.contains("since 2026-03-01 10:00:00 UTC"));
        assert!(
            m.body
                .contains("PATCH /integrations/conecte/webhooks/wh_1 {\"enabled\": true}")
        );
    }

    #[test]
    fn a_webhook_without_a_recorded_error_says_so() {
        let m = webhook_failing(
            to(),
            WebhookTrouble {
                last_error: None,
                ..trouble()
            },
        );
        assert!(m.body.contains("Last error: (none recorded)"));
    }

    #[test]
    fn the_key_message_names_the_key_and_when_it_expires() {
        let m = key_expiring(
            to(),
            ExpiringKey {
                id: "key_1",
                name: "production",
                prefix: "fsk_abcdefgh",
                expires_at: at("2026-03-08T00:00:00Z"),
            },
        );
        assert!(m.subject.contains("\"production\" expires on 2026-03-08"));
        assert!(m.body.contains("fsk_abcdefgh"));
        assert!(m.body.contains("ask your provider for a new key"));
    }
}
