//! SQLite: a file created on first run, WAL, one writer, full sync on commit.

use super::{PoolOptions, Store, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

pub async fn connect(url: &str, options: PoolOptions) -> Result<Store, StoreError> {
    let connect = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // A commit reaches the disk before the call returns: an acknowledged write survives
        // a crash of the process or the machine.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let path = connect.get_filename().to_path_buf();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout.max(Duration::from_secs(10)))
        .connect_with(connect.clone())
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect.read_only(true))
        .await?;
    Ok(Store::Sqlite {
        write,
        read,
        path,
        committed: Default::default(),
    })
}

/// Starts a write transaction that takes the write lock at once, so it never fails half-way
/// on a lock upgrade, and whose commit reaches the disk before it returns. (The pragma is
/// set on every transaction, in the same call as its `BEGIN`: the one connection may come
/// from a [`begin_unsynced`] one.)
pub async fn begin_write(
    pool: &sqlx::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool
        .begin_with("PRAGMA synchronous = FULL; BEGIN IMMEDIATE")
        .await?)
}

/// A write transaction whose commit does not wait for the disk: for the delivery worker's
/// bookkeeping, which a power loss may take back (the deliveries are then made again, as at
/// least once allows) but which must not cost the holds a disk sync per round. The next
/// durable commit syncs it with its own.
pub async fn begin_unsynced(
    pool: &sqlx::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool
        .begin_with("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
        .await?)
}
