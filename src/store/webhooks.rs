//! Webhooks: where an integration's events go and the secrets that sign them. Every write
//! records a `webhooks` change, so replicas that keep webhooks in memory know to reload.
//! Times are microseconds since the epoch, as elsewhere in the store.

use super::changes::change_row;
use super::{BeginWrite, Store, StoreError, on_pool};
use sqlx::Row;

/// A webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredWebhook {
    pub id: String,
    pub integration_id: String,
    pub url: String,
    /// Event types and patterns (`*`, `reservation.*`).
    pub events: Vec<String>,
    pub description: String,
    /// `whsec_...`: signs every attempt.
    pub secret: String,
    /// The secret before the last rotation, which also signs until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub enabled: bool,
    /// Why the service disabled it (none when enabled, or disabled by its owner).
    pub disabled_reason: Option<String>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl StoredWebhook {
    /// The secrets that sign an attempt made at `now`: the current one, then the previous
    /// one while it is still in force.
    pub fn signing_secrets(&self, now: i64) -> Vec<String> {
        let mut secrets = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            secrets.push(previous.clone());
        }
        secrets
    }
}

/// What a webhook's delivery needs: where, which events, and the secrets that sign now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    pub id: String,
    pub integration_id: String,
    pub url: String,
    pub events: Vec<String>,
    /// The current secret first; the previous one too for 24 h after a rotation.
    pub secrets: Vec<String>,
}

/// A change to a webhook: members given replace the stored ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub description: Option<String>,
}

const COLUMNS: &str = "id, integration_id, url, events, description, secret, previous_secret, \
     previous_secret_until, enabled, disabled_reason, failing_since, created_at, updated_at";

fn events_to_text(events: &[String]) -> String {
    serde_json::to_string(events).expect("strings serialise")
}

fn webhook_row<R: Row>(r: &R) -> Result<StoredWebhook, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> bool: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    let events: String = r.try_get("events")?;
    Ok(StoredWebhook {
        id: r.try_get("id")?,
        integration_id: r.try_get("integration_id")?,
        url: r.try_get("url")?,
        events: serde_json::from_str(&events).map_err(|e| sqlx::Error::ColumnDecode {
            index: "events".into(),
            source: Box::new(e),
        })?,
        description: r.try_get("description")?,
        secret: r.try_get("secret")?,
        previous_secret: r.try_get("previous_secret")?,
        previous_secret_until: r.try_get("previous_secret_until")?,
        enabled: r.try_get("enabled")?,
        disabled_reason: r.try_get("disabled_reason")?,
        failing_since: r.try_get("failing_since")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Store {
    /// Stores a new webhook of a live integration; `NotFound` when the integration is not.
    pub async fn create_webhook(&self, w: &StoredWebhook) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO webhooks ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let live = super::integrations::live_integration(&w.integration_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !live {
                return Err(StoreError::NotFound);
            }
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(w.id.clone())
                .bind(w.integration_id.clone())
                .bind(w.url.clone())
                .bind(events_to_text(&w.events))
                .bind(w.description.clone())
                .bind(w.secret.clone())
                .bind(w.previous_secret.clone())
                .bind(w.previous_secret_until)
                .bind(w.enabled)
                .bind(w.disabled_reason.clone())
                .bind(w.failing_since)
                .bind(w.created_at)
                .bind(w.updated_at)
                .execute(&mut *tx)
                .await?;
            change_row("webhooks", &w.integration_id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// An integration's webhooks, oldest first.
    pub async fn webhooks(&self, integration_id: &str) -> Result<Vec<StoredWebhook>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhooks WHERE integration_id = $1 ORDER BY created_at, id"
        );
        Ok(on_pool!(self, read, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(integration_id.to_owned())
                .fetch_all(p)
                .await?
                .iter()
                .map(webhook_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// One webhook of an integration; `NotFound` when it has no such webhook.
    pub async fn webhook(
        &self,
        integration_id: &str,
        id: &str,
    ) -> Result<StoredWebhook, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND integration_id = $2");
        on_pool!(self, read, |p| {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .bind(integration_id.to_owned())
                .fetch_optional(p)
                .await?
                .ok_or(StoreError::NotFound)?;
            Ok(webhook_row(&row)?)
        })
    }

    /// Applies a change; turning a disabled webhook back on clears why and since when it
    /// failed, so it starts afresh. `NotFound` when the integration has no such webhook.
    pub async fn update_webhook(
        &self,
        integration_id: &str,
        id: &str,
        change: &WebhookChange,
    ) -> Result<StoredWebhook, StoreError> {
        let at = super::now().timestamp_micros();
        let select =
            format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND integration_id = $2");
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            // In SET, `enabled` is the value before this update on both engines.
            let done = sqlx::query(
                "UPDATE webhooks SET url = COALESCE($1, url), events = COALESCE($2, events), \
                 description = COALESCE($3, description), enabled = COALESCE($4, enabled), \
                 disabled_reason = CASE WHEN $4 AND NOT enabled THEN NULL ELSE disabled_reason END, \
                 failing_since = CASE WHEN $4 AND NOT enabled THEN NULL ELSE failing_since END, \
                 alerted_at = CASE WHEN $4 AND NOT enabled THEN NULL ELSE alerted_at END, \
                 updated_at = $5 WHERE id = $6 AND integration_id = $7",
            )
            .bind(change.url.clone())
            .bind(change.events.as_deref().map(events_to_text))
            .bind(change.description.clone())
            .bind(change.enabled)
            .bind(at)
            .bind(id.to_owned())
            .bind(integration_id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            let row = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(id.to_owned())
                .bind(integration_id.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            let updated = webhook_row(&row)?;
            change_row("webhooks", integration_id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit_write(tx, true).await?;
            Ok(updated)
        })
    }

    /// Deletes a webhook and its deliveries (nothing is sent to it any more); `NotFound`
    /// when the integration has no such webhook.
    pub async fn delete_webhook(&self, integration_id: &str, id: &str) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query("DELETE FROM webhooks WHERE id = $1 AND integration_id = $2")
                .bind(id.to_owned())
                .bind(integration_id.to_owned())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM deliveries WHERE webhook_id = $1")
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
            change_row("webhooks", integration_id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// Replaces a webhook's secret with `secret`; the one it replaces still signs until
    /// `previous_until` (µs). `NotFound` when the integration has no such webhook.
    pub async fn rotate_webhook_secret(
        &self,
        integration_id: &str,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<StoredWebhook, StoreError> {
        let at = super::now().timestamp_micros();
        let select =
            format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND integration_id = $2");
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE webhooks SET previous_secret = secret, previous_secret_until = $1, \
                 secret = $2, updated_at = $3 WHERE id = $4 AND integration_id = $5",
            )
            .bind(previous_until)
            .bind(secret.to_owned())
            .bind(at)
            .bind(id.to_owned())
            .bind(integration_id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            let row = sqlx::query(sqlx::AssertSqlSafe(select))
                .bind(id.to_owned())
                .bind(integration_id.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            let rotated = webhook_row(&row)?;
            change_row("webhooks", integration_id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit_write(tx, true).await?;
            Ok(rotated)
        })
    }

    /// Every enabled webhook of a live integration, with the secrets that sign now: what
    /// fan-out and delivery work from.
    pub async fn webhooks_for_delivery(&self) -> Result<Vec<WebhookTarget>, StoreError> {
        let now = super::now().timestamp_micros();
        let sql = format!(
            "SELECT {} FROM webhooks w JOIN integrations i ON i.id = w.integration_id \
             WHERE w.enabled AND i.deleted_at IS NULL ORDER BY w.integration_id, w.created_at, w.id",
            COLUMNS
                .split(", ")
                .map(|c| format!("w.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let stored = on_pool!(self, read, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await?
                .iter()
                .map(webhook_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        Ok(stored
            .into_iter()
            .map(|w| WebhookTarget {
                secrets: w.signing_secrets(now),
                id: w.id,
                integration_id: w.integration_id,
                url: w.url,
                events: w.events,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_out_secret_signs_until_its_time() {
        let w = StoredWebhook {
            id: "w".into(),
            integration_id: "i".into(),
            url: "https://a.example/".into(),
            events: vec!["*".into()],
            description: String::new(),
            secret: "whsec_new".into(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_until: Some(100),
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(w.signing_secrets(99), ["whsec_new", "whsec_old"]);
        assert_eq!(w.signing_secrets(100), ["whsec_new"]);
        let never = StoredWebhook {
            previous_secret: None,
            previous_secret_until: None,
            ..w
        };
        assert_eq!(never.signing_secrets(0), ["whsec_new"]);
    }
}
