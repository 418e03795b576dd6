//! The change log: what replicas read to follow each other's writes.

use super::{Store, StoreError, on_pool};
use sqlx::Row;

/// One committed change: reload this from the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub version: i64,
    pub kind: String,
    pub subject: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

/// The subject of a `splitters` change: the splitter ids, as a JSON array.
pub fn splitters_subject<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::to_string(&ids.into_iter().collect::<Vec<_>>()).expect("ids serialise")
}

/// The splitter ids of a `splitters` change (none when the subject is not one).
pub fn splitters_of(subject: &str) -> Vec<String> {
    serde_json::from_str(subject).unwrap_or_default()
}

/// The statement that adds a row to the change log, returning its version: run it with
/// `fetch_one` on a write transaction (which gives the engine), and commit with
/// [`Store::commit_write`], which then wakes the other replicas.
pub(crate) fn change_row<DB: sqlx::Database>(
    kind: &str,
    subject: &str,
) -> sqlx::query::QueryScalar<'static, DB, i64, DB::Arguments>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    sqlx::query_scalar(
        "INSERT INTO changes (kind, subject, created_at) VALUES ($1, $2, $3) RETURNING version",
    )
    .bind(kind.to_owned())
    .bind(subject.to_owned())
    .bind(super::now().timestamp_micros())
}

impl Store {
    /// The newest change version (0 when there is none).
    pub async fn latest_change(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, read, |p| {
            sqlx::query("SELECT COALESCE(MAX(version), 0) FROM changes")
                .fetch_one(p)
                .await?
                .try_get::<i64, _>(0)?
        }))
    }

    /// Changes newer than `after`, oldest first, at most `limit`.
    pub async fn changes_since(&self, after: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        let rows = on_pool!(self, read, |p| {
            sqlx::query("SELECT version, kind, subject, created_at FROM changes WHERE version > $1 ORDER BY version LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| Ok(Change { version: r.try_get(0)?, kind: r.try_get(1)?, subject: r.try_get(2)?, created_at: r.try_get(3)? }))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        Ok(rows)
    }

    /// The oldest change the log still has.
    pub async fn oldest_change(&self) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, read, |p| {
            sqlx::query_scalar("SELECT MIN(version) FROM changes")
                .fetch_one(p)
                .await?
        }))
    }

    /// Forgets changes older than `before` (replicas only ever need the recent ones; one
    /// that was away longer reloads everything); returns how many.
    pub async fn prune_changes(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |p| {
            sqlx::query("DELETE FROM changes WHERE created_at < $1")
                .bind(before.timestamp_micros())
                .execute(p)
                .await?
                .rows_affected()
        }))
    }

    /// A connection that hears this database's change notifications (PostgreSQL only).
    pub async fn listener(&self) -> Result<Option<sqlx::postgres::PgListener>, StoreError> {
        match self {
            Store::Sqlite { .. } => Ok(None),
            Store::Postgres { pool, channel, .. } => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(channel).await?;
                Ok(Some(listener))
            }
        }
    }
}
