//! Transitions of a reservation and the expiry of overdue ones.

use super::super::changes::change_row;
use super::super::events::{NewEvent, event_row};
use super::*;

/// The reservation as its expiry leaves it (what `expire_one` writes).
fn expired(mut r: Reservation, at: DateTime<Utc>) -> Reservation {
    r.status = Status::Expired;
    r.closed_at = Some(at);
    r.updated_at = at;
    r.customer = None;
    r.address = None;
    r
}

/// Marks one pending reservation expired and erases its personal data (the engine follows
/// from the transaction it is executed on).
fn expire_one<DB: sqlx::Database>(
    id: &str,
    at: DateTime<Utc>,
) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE reservations SET status = 'expired', closed_at = $1, customer = NULL, address = NULL \
         WHERE id = $2 AND status = 'pending'",
    )
    .bind(at.timestamp_micros())
    .bind(id.to_owned())
}

impl Store {
    /// Applies a transition. An overdue pending reservation is expired first (and the
    /// transition then refused). `creator`: only a reservation made by this `sub` may move.
    pub async fn transition(
        &self,
        id: &str,
        t: Transition,
        creator: Option<&str>,
    ) -> Result<(Reservation, Option<SplitterRef>), TransitionError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reservations WHERE id = $1{}",
            self.lock_suffix()
        );
        let at = now();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let row: ReservationRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .ok_or(StoreError::NotFound)?;
            let mut r = row.into_reservation()?;
            if creator.is_some_and(|sub| sub != r.created_by) {
                return Err(TransitionError::NotCreator);
            }
            let overdue = r.status == Status::Pending && r.expires_at.is_some_and(|e| e <= at);
            if overdue {
                expire_one(&r.id, at)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                let freed = r.splitter_ref();
                self.record_expiry(&mut tx, expired(r, at), at)
                    .await
                    .map_err(StoreError::from)?;
                let subject = splitters_subject([freed.splitter_id.as_str()]);
                change_row("splitters", &subject)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                self.commit_write(tx, true)
                    .await
                    .map_err(StoreError::from)?;
                return Err(TransitionError::Invalid {
                    action: t.as_str(),
                    from: "expired",
                    freed: Some(freed),
                });
            }
            let Some(next) = t.apply(r.status) else {
                return Err(TransitionError::Invalid {
                    action: t.as_str(),
                    from: r.status.as_str(),
                    freed: None,
                });
            };
            if next == r.status {
                return Ok((r, None));
            }
            let at_us = at.timestamp_micros();
            match next {
                Status::Confirmed => {
                    sqlx::query("UPDATE reservations SET status = 'confirmed', confirmed_at = $1, expires_at = NULL WHERE id = $2")
                        .bind(at_us)
                        .bind(r.id.clone())
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                    r.confirmed_at = Some(at);
                    r.updated_at = at;
                    r.expires_at = None;
                }
                // An installed reservation keeps its port occupied until an import shows
                // the port used (see `domain::ports`): the splitter is left as it is.
                Status::Cancelled | Status::Installed => {
                    sqlx::query(
                        "UPDATE reservations SET status = $1, closed_at = $2 WHERE id = $3",
                    )
                    .bind(next.as_str())
                    .bind(at_us)
                    .bind(r.id.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                    r.closed_at = Some(at);
                    r.updated_at = at;
                }
                Status::Pending | Status::Expired => unreachable!("no transition leads here"),
            }
            r.status = next;
            let kind = match next {
                Status::Confirmed => "reservation.confirmed",
                Status::Cancelled => "reservation.cancelled",
                _ => "reservation.installed",
            };
            event_row(&NewEvent::reservation(kind, &r, at))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
            let freed = !next.occupies(false);
            if freed {
                let subject = splitters_subject([r.splitter_id.as_str()]);
                change_row("splitters", &subject)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
            }
            self.commit_write(tx, freed)
                .await
                .map_err(StoreError::from)?;
            let changed = r.splitter_ref();
            Ok((r, Some(changed)))
        })
    }

    /// Expires up to `batch` overdue pending reservations (erasing their personal data);
    /// returns the splitters whose ports were freed.
    pub async fn expire_due(&self, batch: usize) -> Result<Vec<SplitterRef>, StoreError> {
        let at = now();
        let skip_locked = if matches!(self, Store::Postgres { .. }) {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM reservations \
             WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2{skip_locked}"
        );
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            // One replica at a time runs the job (SQLite has one writer anyway).
            if let Some(channel) = self.notify_channel() {
                let mine: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
                        .bind(channel.to_owned())
                        .fetch_one(&mut *tx)
                        .await?;
                if !mine {
                    return Ok(Vec::new());
                }
            }
            let due: Vec<ReservationRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(at.timestamp_micros())
                .bind(batch as i64)
                .fetch_all(&mut *tx)
                .await?;
            let mut freed = Vec::with_capacity(due.len());
            for row in due {
                let r = row.into_reservation()?;
                expire_one(&r.id, at).execute(&mut *tx).await?;
                freed.push(r.splitter_ref());
                self.record_expiry(&mut tx, expired(r, at), at).await?;
            }
            if !freed.is_empty() {
                let ids = freed.iter().map(|f| f.splitter_id.as_str());
                change_row("splitters", &splitters_subject(ids))
                    .fetch_one(&mut *tx)
                    .await?;
            }
            self.commit_write(tx, !freed.is_empty()).await?;
            Ok(freed)
        })
    }

    /// `reservation.expired` for a reservation just expired, and its personal data erased
    /// from the events told of it before.
    async fn record_expiry<DB: sqlx::Database>(
        &self,
        tx: &mut sqlx::Transaction<'_, DB>,
        r: Reservation,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error>
    where
        for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
        for<'q> DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        sqlx::query(self.erase_event_data_sql())
            .bind(r.id.clone())
            .execute(&mut **tx)
            .await?;
        event_row(&NewEvent::reservation("reservation.expired", &r, at))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Row-lock suffix for reads that precede a write in the same transaction (SQLite's
    /// `BEGIN IMMEDIATE` already holds the only write lock).
    fn lock_suffix(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "",
            Store::Postgres { .. } => " FOR UPDATE",
        }
    }
}
