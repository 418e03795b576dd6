//! Deliveries: which webhook gets which event, and where each attempt stands. Events are
//! fanned out to the webhooks they go to after their commit (a row per event and webhook,
//! written with the event's `fanned_out` mark in one transaction, so a crash in between
//! fans it out again, harmlessly); due deliveries are leased to one replica at a time.

use super::{BeginWrite, Store, StoreError, on_pool};
use sqlx::Row;

/// An event not yet fanned out.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: String,
    pub kind: String,
    pub project: String,
    pub created_by: String,
}

/// A delivery leased for an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub webhook_id: String,
    pub event_id: String,
    pub attempts: i64,
    /// Attempts before its last manual retry: the retry delays start again from there.
    pub retry_base: i64,
    pub body: String,
    /// When its event was committed (µs), for the delivery latency.
    pub event_at: i64,
}

/// A delivery as its log shows it (times in µs).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub event_id: String,
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at: i64,
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// When to try again; none: no more tries (`failed`), unless delivered.
    pub next_attempt_at: Option<i64>,
}

impl Store {
    /// Events committed and not yet fanned out, oldest first.
    pub async fn outbox(&self, limit: usize) -> Result<Vec<OutboxEvent>, StoreError> {
        Ok(on_pool!(self, read, |p| {
            sqlx::query(
                "SELECT id, type, project, created_by FROM events WHERE NOT fanned_out \
                 ORDER BY seq LIMIT $1",
            )
            .bind(limit as i64)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| {
                Ok(OutboxEvent {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    project: r.try_get(2)?,
                    created_by: r.try_get(3)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Writes the deliveries of these events (to the webhooks given for each) and marks
    /// them fanned out, in one transaction.
    pub async fn fan_out(
        &self,
        events: &[(String, String, Vec<String>)],
        now: i64,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            for (event_id, kind, webhooks) in events {
                for webhook_id in webhooks {
                    sqlx::query(
                        "INSERT INTO deliveries (webhook_id, event_id, type, status, next_attempt_at, created_at) \
                         VALUES ($1, $2, $3, 'pending', $4, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(webhook_id.clone())
                    .bind(event_id.clone())
                    .bind(kind.clone())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            // One statement for the round's marks (a write per event would compete with
            // the holds for SQLite's one writer).
            let ids: Vec<String> = events.iter().map(|(id, _, _)| id.clone()).collect();
            for chunk in ids.chunks(500) {
                super::in_list("UPDATE events SET fanned_out = TRUE WHERE id IN", chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }

    /// Leases up to `limit` due deliveries until `lease_until` (µs) for this replica: one
    /// replica at a time attempts a delivery (on PostgreSQL, rows another replica is
    /// leasing are skipped, not waited for).
    pub async fn lease_due(
        &self,
        limit: usize,
        now: i64,
        lease_until: i64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let skip_locked = match self {
            Store::Postgres { .. } => " FOR UPDATE OF d SKIP LOCKED",
            Store::Sqlite { .. } => "",
        };
        let sql = format!(
            "SELECT d.webhook_id, d.event_id, d.attempts, d.retry_base, e.body, e.created_at \
             FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
                AND (d.leased_until IS NULL OR d.leased_until < $1) AND w.enabled \
             ORDER BY d.next_attempt_at LIMIT $2{skip_locked}"
        );
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let due = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(limit as i64)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(DueDelivery {
                        webhook_id: r.try_get(0)?,
                        event_id: r.try_get(1)?,
                        attempts: r.try_get(2)?,
                        retry_base: r.try_get(3)?,
                        body: r.try_get(4)?,
                        event_at: r.try_get(5)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let mut by_webhook: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
            for d in &due {
                by_webhook
                    .entry(d.webhook_id.as_str())
                    .or_default()
                    .push(d.event_id.clone());
            }
            for (webhook_id, events) in by_webhook {
                let mut qb = sqlx::QueryBuilder::new("UPDATE deliveries SET leased_until = ");
                qb.push_bind(lease_until)
                    .push(" WHERE webhook_id = ")
                    .push_bind(webhook_id.to_owned())
                    .push(" AND event_id IN");
                super::push_list(&mut qb, events);
                qb.build().execute(&mut *tx).await?;
            }
            self.commit_write(tx, false).await?;
            Ok(due)
        })
    }

    /// Records a round's attempts in one transaction, and on each webhook when it started
    /// failing (cleared by a success).
    pub async fn record_attempts(
        &self,
        attempts: &[(String, String, Attempt)],
    ) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            for (webhook_id, event_id, a) in attempts {
                let status = match (a.delivered, a.next_attempt_at) {
                    (true, _) => "delivered",
                    (false, Some(_)) => "pending",
                    (false, None) => "failed",
                };
                sqlx::query(
                    "UPDATE deliveries SET status = $1, attempts = attempts + 1, last_attempt_at = $2, \
                        last_status_code = $3, last_error = $4, next_attempt_at = $5, leased_until = NULL, \
                        delivered_at = $6 \
                     WHERE webhook_id = $7 AND event_id = $8",
                )
                .bind(status)
                .bind(a.at)
                .bind(a.status_code.map(i64::from))
                .bind(a.error.clone())
                .bind(a.next_attempt_at)
                .bind(a.delivered.then_some(a.at))
                .bind(webhook_id.clone())
                .bind(event_id.clone())
                .execute(&mut *tx)
                .await?;
            }
            // Each webhook once: its latest attempt of the round says whether it is failing.
            let mut last: std::collections::BTreeMap<&str, &Attempt> = Default::default();
            for (webhook_id, _, a) in attempts {
                let entry = last.entry(webhook_id.as_str()).or_insert(a);
                if a.at >= entry.at {
                    *entry = a;
                }
            }
            for (webhook_id, a) in last {
                if a.delivered {
                    sqlx::query(
                        "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                    )
                    .bind(webhook_id.to_owned())
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE webhooks SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL",
                    )
                    .bind(a.at)
                    .bind(webhook_id.to_owned())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }

    /// Disables the webhooks failing since before `since` (µs); their ids. `alerted_at` is
    /// cleared so that the "disabled" alert falls due (`store::alerts`), durably.
    pub async fn disable_failing(&self, since: i64, now: i64) -> Result<Vec<String>, StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM webhooks WHERE enabled AND failing_since IS NOT NULL AND failing_since <= $1",
            )
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
            for id in &ids {
                sqlx::query(
                    "UPDATE webhooks SET enabled = FALSE, updated_at = $1, alerted_at = NULL, \
                     disabled_reason = 'every attempt failed for webhook_disable_after_s' WHERE id = $2",
                )
                .bind(now)
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
            }
            self.commit_write(tx, false).await?;
            Ok(ids)
        })
    }

    /// A webhook's deliveries, newest first, strictly older than `after` (created µs,
    /// event id), at most `limit`.
    pub async fn deliveries_page(
        &self,
        webhook_id: &str,
        status: Option<&str>,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        Ok(on_pool!(self, read, |p| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT event_id, type, status, attempts, last_attempt_at, last_status_code, \
                    last_error, next_attempt_at, delivered_at, created_at \
                 FROM deliveries WHERE webhook_id = ",
            );
            qb.push_bind(webhook_id.to_owned());
            if let Some(s) = status {
                qb.push(" AND status = ").push_bind(s.to_owned());
            }
            if let Some((at, id)) = after {
                qb.push(" AND (created_at < ")
                    .push_bind(at)
                    .push(" OR (created_at = ")
                    .push_bind(at)
                    .push(" AND event_id < ")
                    .push_bind(id)
                    .push("))");
            }
            qb.push(" ORDER BY created_at DESC, event_id DESC LIMIT ")
                .push_bind(limit as i64);
            qb.build()
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    Ok(DeliveryRecord {
                        event_id: r.try_get(0)?,
                        kind: r.try_get(1)?,
                        status: r.try_get(2)?,
                        attempts: r.try_get(3)?,
                        last_attempt_at: r.try_get(4)?,
                        last_status_code: r.try_get(5)?,
                        last_error: r.try_get(6)?,
                        next_attempt_at: r.try_get(7)?,
                        delivered_at: r.try_get(8)?,
                        created_at: r.try_get(9)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Makes a delivery due at once, its retry delays starting again after this attempt;
    /// `NotFound` when the webhook has no such delivery.
    pub async fn retry_delivery(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $1, leased_until = NULL, \
                    retry_base = attempts WHERE webhook_id = $2 AND event_id = $3",
            )
            .bind(now)
            .bind(webhook_id.to_owned())
            .bind(event_id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }

    /// Forgets deliveries (and events) older than `before` (µs): the log is kept 30 days.
    pub async fn prune_deliveries(&self, before: i64) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query("DELETE FROM deliveries WHERE created_at < $1 AND status <> 'pending'")
                .bind(before)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM events WHERE created_at < $1 AND fanned_out \
                 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)",
            )
            .bind(before)
            .execute(&mut *tx)
            .await?;
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }

    /// Deliveries waiting for an attempt (the pending gauge).
    pub async fn pending_deliveries(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |p| {
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
                .fetch_one(p)
                .await?
        }))
    }
}
