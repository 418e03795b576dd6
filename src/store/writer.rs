//! The connection a hold writer lane writes on.
//!
//! On PostgreSQL each lane keeps a connection of its own, outside the pool: a batch then
//! costs no check-out and no liveness round trip. A connection that fails is dropped and
//! the next batch opens another; a batch that fails on a kept connection before it wrote
//! anything (the connection went stale while idle) is tried once more on a new one. SQLite
//! has one writer connection, which every writer shares through its pool.

use super::{Store, StoreError, sqlite};
use sqlx::PgConnection;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::AtomicBool;

/// What a hold writer lane writes with.
#[derive(Debug)]
pub struct HoldWriter {
    pub(super) store: Store,
    pub(super) conn: Option<PgConnection>,
    /// Whether the batch under way has sent a write (until then it can be tried again).
    pub(super) wrote: AtomicBool,
    /// Reservations of batches whose commit failed without saying whether it happened:
    /// answered as errors, so released (see [`Store::release_in_doubt`]) once the database
    /// answers again.
    pub(super) in_doubt: InDoubt,
}

/// Reservations answered as errors that may nonetheless have been committed, shared by the
/// lanes and the service (which never replays one of them for an `Idempotency-Key`).
pub type InDoubt = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// Run once on each lane's connection: its prepared reads stay on their indexes whatever
/// the statistics were when PostgreSQL planned them (see `reservations::held_ports_read`).
pub(super) const LANE_SETUP: &str = "SET enable_seqscan = off";

/// A write transaction of a [`HoldWriter`].
pub(super) enum WriteTx<'a> {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(PgWrite<'a>),
}

/// A transaction on a lane's own PostgreSQL connection. Not committed means dropped: the
/// writer drops the connection after any error, so nothing is left open on it.
pub(super) struct PgWrite<'a> {
    conn: &'a mut PgConnection,
}

impl PgWrite<'_> {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        sqlx::raw_sql("COMMIT").execute(&mut *self.conn).await?;
        Ok(())
    }
}

impl Deref for PgWrite<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        self.conn
    }
}

impl DerefMut for PgWrite<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
    }
}

impl Store {
    /// A writer for one lane of holds, recording its in-doubt holds in `in_doubt`.
    pub fn hold_writer(&self, in_doubt: InDoubt) -> HoldWriter {
        HoldWriter {
            store: self.clone(),
            conn: None,
            wrote: AtomicBool::new(false),
            in_doubt,
        }
    }
}

impl HoldWriter {
    /// Forgets the connection (after an error: it may be broken or inside a transaction).
    pub(super) fn drop_connection(&mut self) {
        self.conn = None;
    }

    pub(super) fn has_connection(&self) -> bool {
        self.conn.is_some()
    }
}

/// Begins a write transaction (fields apart, so that the caller keeps using the store).
///
/// On PostgreSQL the transaction first takes the ports lock shared: an import takes it
/// exclusive before it reconciles the holds with its splitters (`inventory::import`), so
/// that no hold reads the splitters an import is changing and commits after the import
/// has counted the holds. (Both in one simple query: one round trip.)
pub(super) async fn begin<'a>(
    store: &Store,
    conn: &'a mut Option<PgConnection>,
) -> Result<WriteTx<'a>, StoreError> {
    let (pool, channel) = match store {
        Store::Sqlite { write, .. } => {
            return Ok(WriteTx::Sqlite(sqlite::begin_write(write).await?));
        }
        Store::Postgres { pool, channel, .. } => (pool, channel),
    };
    if conn.is_none() {
        let mut new = pool.acquire().await?.detach();
        // The connection is the lane's alone (it never returns to the pool): its settings
        // concern nobody else.
        sqlx::raw_sql(LANE_SETUP).execute(&mut new).await?;
        *conn = Some(new);
    }
    let conn = conn.as_mut().expect("connected above");
    let begin = format!(
        "BEGIN; SELECT pg_advisory_xact_lock_shared({})",
        super::postgres::ports_lock_key(channel)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(begin))
        .execute(&mut *conn)
        .await?;
    Ok(WriteTx::Postgres(PgWrite { conn }))
}
