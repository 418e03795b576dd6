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

/// Deliveries a statement writes at most (8 parameters each, well under both engines'
/// limits).
const PER_STATEMENT: usize = 500;

impl Store {
    /// One round's work, in one write transaction: the events not yet fanned out (up to
    /// `limit`, oldest first) get a delivery for each webhook `route` names, leased to this
    /// replica until `lease_until` (µs), and are marked fanned out; then the retries due
    /// fill the round. Answers the deliveries leased, and how many events were fanned out. One replica at a time attempts a
    /// delivery: on PostgreSQL, events and rows another replica holds are skipped, not
    /// waited for, and a delivery another replica already wrote is not taken.
    pub async fn take_round(
        &self,
        limit: usize,
        now: i64,
        lease_until: i64,
        route: impl Fn(&OutboxEvent) -> Vec<String> + Send + Sync,
    ) -> Result<(Vec<DueDelivery>, usize), StoreError> {
        let (skip_events, skip_deliveries) = match self {
            Store::Postgres { .. } => (" FOR UPDATE SKIP LOCKED", " FOR UPDATE OF d SKIP LOCKED"),
            Store::Sqlite { .. } => ("", ""),
        };
        let outbox = format!(
            "SELECT id, type, project, created_by, body, created_at FROM events \
             WHERE NOT fanned_out ORDER BY seq LIMIT $1{skip_events}"
        );
        let retries = format!(
            "SELECT d.webhook_id, d.event_id, d.attempts, d.retry_base, e.body, e.created_at \
             FROM deliveries d JOIN events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
                AND (d.leased_until IS NULL OR d.leased_until < $1) AND w.enabled \
             ORDER BY d.next_attempt_at LIMIT $2{skip_deliveries}"
        );
        on_pool!(self, write, |p| {
            let mut tx = p.begin_unsynced().await?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(outbox))
                .bind(limit as i64)
                .fetch_all(&mut *tx)
                .await?;
            let mut bodies: std::collections::HashMap<String, (String, i64)> = Default::default();
            let mut fresh: Vec<(String, String, String)> = Vec::new();
            let mut fanned: Vec<String> = Vec::with_capacity(rows.len());
            for r in &rows {
                let event = OutboxEvent {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    project: r.try_get(2)?,
                    created_by: r.try_get(3)?,
                };
                let to = route(&event);
                if !to.is_empty() {
                    bodies.insert(event.id.clone(), (r.try_get(4)?, r.try_get(5)?));
                }
                for webhook_id in to {
                    fresh.push((webhook_id, event.id.clone(), event.kind.clone()));
                }
                fanned.push(event.id);
            }
            let mut due = Vec::with_capacity(fresh.len());
            for chunk in fresh.chunks(PER_STATEMENT) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO deliveries (webhook_id, event_id, type, status, next_attempt_at, \
                        created_at, leased_until) ",
                );
                qb.push_values(chunk, |mut b, (webhook_id, event_id, kind)| {
                    b.push_bind(webhook_id.clone())
                        .push_bind(event_id.clone())
                        .push_bind(kind.clone())
                        .push("'pending'")
                        .push_bind(now)
                        .push_bind(now)
                        .push_bind(lease_until);
                });
                // A delivery already written (an event fanned out again after a crash, or
                // by another replica) is not taken: it is leased as a retry, when due.
                qb.push(" ON CONFLICT DO NOTHING RETURNING webhook_id, event_id");
                for r in qb.build().fetch_all(&mut *tx).await? {
                    let event_id: String = r.try_get(1)?;
                    let (body, event_at) = bodies[&event_id].clone();
                    due.push(DueDelivery {
                        webhook_id: r.try_get(0)?,
                        event_id,
                        attempts: 0,
                        retry_base: 0,
                        body,
                        event_at,
                    });
                }
            }
            for chunk in fanned.chunks(PER_STATEMENT) {
                super::in_list("UPDATE events SET fanned_out = TRUE WHERE id IN", chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            if due.len() < limit {
                let retried = sqlx::query(sqlx::AssertSqlSafe(retries))
                    .bind(now)
                    .bind((limit - due.len()) as i64)
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
                let pairs: Vec<(String, String)> = retried
                    .iter()
                    .map(|d| (d.webhook_id.clone(), d.event_id.clone()))
                    .collect();
                for chunk in pairs.chunks(PER_STATEMENT) {
                    let mut qb = sqlx::QueryBuilder::new("UPDATE deliveries SET leased_until = ");
                    qb.push_bind(lease_until)
                        .push(" WHERE (webhook_id, event_id) IN");
                    super::push_pairs(&mut qb, chunk);
                    qb.build().execute(&mut *tx).await?;
                }
                due.extend(retried);
            }
            self.commit_write(tx, false).await?;
            Ok((due, fanned.len()))
        })
    }

    /// Records a round's attempts in one transaction (one statement for the deliveries),
    /// and on each webhook when it started failing (cleared by a success).
    pub async fn record_attempts(
        &self,
        attempts: &[(String, String, Attempt)],
    ) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        on_pool!(self, write, |p| {
            let mut tx = p.begin_unsynced().await?;
            for chunk in attempts.chunks(PER_STATEMENT) {
                // The CASTs type the values' columns on PostgreSQL (SQLite takes them as
                // they come).
                let mut qb = sqlx::QueryBuilder::new(
                    "WITH a (webhook_id, event_id, status, at, code, error, next_at, delivered_at) AS (",
                );
                let mut first = true;
                for (webhook_id, event_id, a) in chunk {
                    let status = match (a.delivered, a.next_attempt_at) {
                        (true, _) => "delivered",
                        (false, Some(_)) => "pending",
                        (false, None) => "failed",
                    };
                    qb.push(if first { "VALUES (" } else { ", (" });
                    first = false;
                    qb.push("CAST(")
                        .push_bind(webhook_id.clone())
                        .push(" AS TEXT), CAST(")
                        .push_bind(event_id.clone())
                        .push(" AS TEXT), CAST(")
                        .push_bind(status)
                        .push(" AS TEXT), CAST(")
                        .push_bind(a.at)
                        .push(" AS BIGINT), CAST(")
                        .push_bind(a.status_code.map(i64::from))
                        .push(" AS BIGINT), CAST(")
                        .push_bind(a.error.clone())
                        .push(" AS TEXT), CAST(")
                        .push_bind(a.next_attempt_at)
                        .push(" AS BIGINT), CAST(")
                        .push_bind(a.delivered.then_some(a.at))
                        .push(" AS BIGINT))");
                }
                qb.push(
                    ") UPDATE deliveries SET status = a.status, attempts = deliveries.attempts + 1, \
                        last_attempt_at = a.at, last_status_code = a.code, last_error = a.error, \
                        next_attempt_at = a.next_at, leased_until = NULL, delivered_at = a.delivered_at \
                     FROM a WHERE deliveries.webhook_id = a.webhook_id AND deliveries.event_id = a.event_id",
                );
                qb.build().execute(&mut *tx).await?;
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
