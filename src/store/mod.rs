//! Storage: SQLite (embedded default) or PostgreSQL, chosen by the URL scheme.
//!
//! Queries are written once in SQL both engines accept (`$1` placeholders, `ON CONFLICT`)
//! and expanded for each pool type by [`on_pool!`]; what only one engine can do lives in
//! `sqlite.rs` or `postgres.rs`.

mod alerts;
mod changes;
mod deliveries;
mod demand;
mod error;
mod events;
mod index_load;
mod integrations;
mod interests;
mod inventory;
mod plans;
mod postgres;
mod reservations;
mod settings;
mod sqlite;
mod webhooks;
mod writer;

pub use alerts::{AlertKey, AlertLock, AlertWebhook};
pub use changes::{Change, splitters_of};
pub use deliveries::{Attempt, DeliveryRecord, DueDelivery, OutboxEvent};
pub use demand::DemandCount;
pub use error::StoreError;
pub use events::NewEvent;
pub use integrations::{StoredIntegration, StoredKey};
pub use interests::{Found, InterestFilter};
pub use inventory::{
    BoxDetail, BoxSelection, BoxSummary, Counts, ImportOutcome, MovedHold, SplitterDetail,
    StoredRegion,
};
pub use reservations::{
    HeldBatch, HoldOutcome, NewHold, ReservationFilter, SplitterRef, TransitionError, now,
};
pub use webhooks::{StoredWebhook, WebhookChange, WebhookTarget};
pub use writer::{HoldWriter, InDoubt};

use sqlx::{PgPool, SqlitePool};
use std::time::Duration;

/// Runs `$body` with `$p` bound to the reading or writing pool of either engine.
macro_rules! on_pool {
    ($store:expr, $role:ident, |$p:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite { $role: $p, .. } => $body,
            $crate::store::Store::Postgres { pool: $p, .. } => $body,
        }
    };
}
pub(crate) use on_pool;

/// The database behind the service.
#[derive(Debug, Clone)]
pub enum Store {
    /// One writer connection (SQLite serialises writers anyway) and a pool of readers.
    /// `path`: the database file, which the index loader also reads directly.
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
        path: std::path::PathBuf,
        committed: Committed,
    },
    /// `channel`: where this database's change notifications go (one per schema), each
    /// carrying `sender`, which tells this process's own notifications from the others'.
    /// `notifier` sends them, each after the commit of the change it announces.
    Postgres {
        pool: PgPool,
        channel: String,
        sender: String,
        notifier: postgres::Notifier,
        committed: Committed,
    },
}

/// Wakes this process's delivery worker after a commit that recorded a change (the events
/// of the outbox go with changes), so that it need not poll to deliver at once.
pub type Committed = std::sync::Arc<tokio::sync::Notify>;

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a call waits for a connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

impl Store {
    /// Connects by URL scheme (`sqlite:` or `postgres:`) and applies migrations.
    pub async fn connect(url: &str, options: PoolOptions) -> Result<Self, StoreError> {
        let store = if url.starts_with("sqlite:") {
            sqlite::connect(url, options).await?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            postgres::connect(url, options).await?
        } else {
            return Err(StoreError::Config(
                "database_url must start with sqlite: or postgres:".into(),
            ));
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite").run(write).await?,
            Store::Postgres { pool, .. } => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The engine's name, for logs.
    pub fn engine(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "sqlite",
            Store::Postgres { .. } => "postgres",
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, read, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// The PostgreSQL channel of change notifications (none on SQLite).
    pub fn notify_channel(&self) -> Option<&str> {
        match self {
            Store::Sqlite { .. } => None,
            Store::Postgres { channel, .. } => Some(channel),
        }
    }

    /// Commits a write transaction and, when it recorded a change (`changes::change_row`), wakes
    /// the other replicas: only once it has committed, so that what they read has it.
    pub(crate) async fn commit_write<DB: sqlx::Database>(
        &self,
        tx: sqlx::Transaction<'_, DB>,
        recorded: bool,
    ) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        if recorded {
            self.announce_changes();
        }
        Ok(())
    }

    /// Wakes the other replicas to read the change log (PostgreSQL; on SQLite there are
    /// none) and this one's delivery worker. Called after a transaction that recorded a
    /// change has committed.
    pub fn announce_changes(&self) {
        match self {
            Store::Sqlite { committed, .. } => committed.notify_one(),
            Store::Postgres {
                notifier,
                committed,
                ..
            } => {
                notifier.notify();
                committed.notify_one();
            }
        }
    }

    /// Notified after each commit that recorded a change, here.
    pub fn committed(&self) -> &tokio::sync::Notify {
        match self {
            Store::Sqlite { committed, .. } | Store::Postgres { committed, .. } => committed,
        }
    }

    /// Whether a change notification's payload says this process sent it.
    pub fn sent_here(&self, payload: &str) -> bool {
        matches!(self, Store::Postgres { sender, .. } if sender == payload)
    }

    /// Idle and open connections of the pools.
    pub fn pool_usage(&self) -> (usize, usize) {
        match self {
            Store::Sqlite { write, read, .. } => (
                read.num_idle() + write.num_idle(),
                (read.size() + write.size()) as usize,
            ),
            Store::Postgres { pool, .. } => (pool.num_idle(), pool.size() as usize),
        }
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite { write, read, .. } => {
                read.close().await;
                write.close().await;
            }
            Store::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// A write transaction on either engine (`BEGIN IMMEDIATE` on SQLite).
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send;
    /// One whose commit does not wait for the disk (bookkeeping a crash may take back).
    fn begin_unsynced(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send {
        sqlite::begin_write(self)
    }

    fn begin_unsynced(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send {
        sqlite::begin_unsynced(self)
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send {
        postgres::begin_write(self)
    }

    fn begin_unsynced(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send {
        postgres::begin_unsynced(self)
    }
}

/// ` (a, b, …)`: one bound parameter per value.
pub(crate) fn push_list<DB: sqlx::Database>(
    qb: &mut sqlx::QueryBuilder<DB>,
    values: impl IntoIterator<Item = String>,
) where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    qb.push(" (");
    let mut sep = qb.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    qb.push(")");
}

/// ` ((a, b), (c, d), …)`: a list of pairs, one bound parameter per value.
pub(crate) fn push_pairs<DB: sqlx::Database>(
    qb: &mut sqlx::QueryBuilder<DB>,
    pairs: &[(String, String)],
) where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    qb.push(" (");
    let mut sep = qb.separated(", ");
    for (a, b) in pairs {
        sep.push("(")
            .push_bind_unseparated(a.clone())
            .push_unseparated(", ")
            .push_bind_unseparated(b.clone())
            .push_unseparated(")");
    }
    qb.push(")");
}

/// `prefix (ids…)`: an IN list with one bound parameter per id.
pub(crate) fn in_list<DB: sqlx::Database>(prefix: &str, ids: &[String]) -> sqlx::QueryBuilder<DB>
where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut qb = sqlx::QueryBuilder::new(prefix);
    push_list(&mut qb, ids.iter().cloned());
    qb
}

/// ` AND project IN (…)` when the scope is limited to some projects.
pub(crate) fn push_project_scope<DB: sqlx::Database>(
    qb: &mut sqlx::QueryBuilder<DB>,
    scope: &crate::domain::feasibility::ProjectScope,
) where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if let crate::domain::feasibility::ProjectScope::Only(set) = scope {
        qb.push(" AND project IN");
        push_list(qb, set.iter().cloned());
    }
}

/// The reservations that occupy their port (`alias` is the table's alias, with its dot, or
/// empty): live holds, and installs the inventory has not shown used yet. The predicate of
/// the unique index `reservations_one_occupant_per_port`, so that reads of occupied ports
/// stay on that index.
pub(crate) fn occupying(alias: &str) -> String {
    format!(
        "{alias}status IN ('pending', 'confirmed', 'installed') AND {alias}inventory_confirmed_at IS NULL"
    )
}

/// A JSON array of strings as stored (tags).
pub(crate) fn tags_to_text(tags: &[String]) -> String {
    serde_json::to_string(tags).expect("strings serialise")
}

pub(crate) fn tags_from_text(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored tags are not a JSON array: {e}")))
}
