//! What the alert e-mails need: the webhooks and keys due an alert, each with its
//! integration's document, and the marks that say an alert went (times in µs).
//!
//! Failing and disabled alerts share `webhooks.alerted_at`: a webhook gets failing alerts
//! only while enabled, and disabling it clears the mark (`disable_failing`), so a disabled
//! webhook with no mark is one whose "disabled" alert has not gone yet. Kept in the
//! database rather than handed over in memory, it survives a restart and any replica
//! may send it.

use super::{Store, StoreError, on_pool};
use sqlx::Row;

/// A webhook due a "failing" or "disabled" alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWebhook {
    pub id: String,
    pub integration_id: String,
    /// The integration as JSON.
    pub integration_doc: String,
    pub url: String,
    pub failing_since: i64,
    /// Its last change: when it was disabled, for a disabled one.
    pub updated_at: i64,
    pub alerted_at: Option<i64>,
    /// The error of its latest failed attempt.
    pub last_error: Option<String>,
}

/// A live key due its "expiring" alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertKey {
    pub id: String,
    pub integration_id: String,
    pub integration_doc: String,
    pub name: String,
    pub prefix: String,
    pub expires_at: i64,
}

const WEBHOOK_COLUMNS: &str = "SELECT w.id, w.integration_id, i.doc, w.url, w.failing_since, \
     w.updated_at, w.alerted_at, \
     (SELECT d.last_error FROM deliveries d WHERE d.webhook_id = w.id AND d.last_error IS NOT NULL \
      ORDER BY d.last_attempt_at DESC LIMIT 1) \
     FROM webhooks w JOIN integrations i ON i.id = w.integration_id \
     WHERE i.deleted_at IS NULL AND w.failing_since IS NOT NULL AND ";

fn webhook_row<R: Row>(r: &R) -> Result<AlertWebhook, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(AlertWebhook {
        id: r.try_get(0)?,
        integration_id: r.try_get(1)?,
        integration_doc: r.try_get(2)?,
        url: r.try_get(3)?,
        failing_since: r.try_get(4)?,
        updated_at: r.try_get(5)?,
        alerted_at: r.try_get(6)?,
        last_error: r.try_get(7)?,
    })
}

/// Held while this replica sends alerts: on PostgreSQL a transaction holding an advisory
/// lock, so that replicas take turns; SQLite has a single replica.
pub enum AlertLock {
    Sqlite,
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl AlertLock {
    /// Lets the next replica have its turn.
    pub async fn release(self) {
        if let AlertLock::Postgres(tx) = self {
            // Nothing was written in it: ending it only drops the lock.
            let _ = tx.rollback().await;
        }
    }
}

impl Store {
    /// The alert lock, or none when another replica holds it now (it is not waited for).
    pub async fn alert_lock(&self) -> Result<Option<AlertLock>, StoreError> {
        match self {
            Store::Sqlite { .. } => Ok(Some(AlertLock::Sqlite)),
            Store::Postgres { pool, channel, .. } => {
                let mut tx = pool.begin().await?;
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                    .bind(super::postgres::alerts_lock_key(channel))
                    .fetch_one(&mut *tx)
                    .await?;
                Ok(got.then_some(AlertLock::Postgres(tx)))
            }
        }
    }

    /// Enabled webhooks failing since at or before `failing_since_before` and not alerted
    /// of after `alerted_before`.
    pub async fn webhooks_failing(
        &self,
        failing_since_before: i64,
        alerted_before: i64,
    ) -> Result<Vec<AlertWebhook>, StoreError> {
        let sql = format!(
            "{WEBHOOK_COLUMNS} w.enabled AND w.failing_since <= $1 \
             AND (w.alerted_at IS NULL OR w.alerted_at <= $2) ORDER BY w.failing_since"
        );
        Ok(on_pool!(self, read, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(failing_since_before)
                .bind(alerted_before)
                .fetch_all(p)
                .await?
                .iter()
                .map(webhook_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Webhooks disabled for failing whose "disabled" alert has not gone.
    pub async fn webhooks_disabled_unalerted(&self) -> Result<Vec<AlertWebhook>, StoreError> {
        let sql = format!(
            "{WEBHOOK_COLUMNS} NOT w.enabled AND w.disabled_reason IS NOT NULL \
             AND w.alerted_at IS NULL ORDER BY w.updated_at"
        );
        Ok(on_pool!(self, read, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await?
                .iter()
                .map(webhook_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Live keys of live integrations expiring after `now` and at or before
    /// `expiring_before`, not yet alerted of.
    pub async fn keys_expiring(
        &self,
        now: i64,
        expiring_before: i64,
    ) -> Result<Vec<AlertKey>, StoreError> {
        Ok(on_pool!(self, read, |p| {
            sqlx::query(
                "SELECT k.id, k.integration_id, i.doc, k.name, k.prefix, k.expires_at \
                 FROM api_keys k JOIN integrations i ON i.id = k.integration_id \
                 WHERE k.revoked_at IS NULL AND i.deleted_at IS NULL AND k.expiry_alerted_at IS NULL \
                    AND k.expires_at > $1 AND k.expires_at <= $2 ORDER BY k.expires_at",
            )
            .bind(now)
            .bind(expiring_before)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                Ok(AlertKey {
                    id: r.try_get(0)?,
                    integration_id: r.try_get(1)?,
                    integration_doc: r.try_get(2)?,
                    name: r.try_get(3)?,
                    prefix: r.try_get(4)?,
                    expires_at: r.try_get(5)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Records that a webhook's alert went. `enabled` says which alert (failing: true,
    /// disabled: false), so a webhook disabled meanwhile keeps its "disabled" alert due.
    pub async fn mark_webhook_alerted(
        &self,
        id: &str,
        enabled: bool,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            sqlx::query("UPDATE webhooks SET alerted_at = $1 WHERE id = $2 AND enabled = $3")
                .bind(at)
                .bind(id.to_owned())
                .bind(enabled)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Records that a key's "expiring" alert went (once per key).
    pub async fn mark_key_alerted(&self, id: &str, at: i64) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            sqlx::query("UPDATE api_keys SET expiry_alerted_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id.to_owned())
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
