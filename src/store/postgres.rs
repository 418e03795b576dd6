//! PostgreSQL: the production engine, and the way to run several replicas.

use super::{PoolOptions, Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use std::str::FromStr;
use tokio::sync::mpsc;

pub async fn connect(url: &str, options: PoolOptions) -> Result<Store, StoreError> {
    let connect = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections.max(2))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    // One channel per schema, so databases (and test schemas) never hear each other.
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&pool)
        .await?;
    let channel: String = format!("ftth_changes_{schema}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(63)
        .collect();
    let sender = uuid::Uuid::new_v4().to_string();
    Ok(Store::Postgres {
        notifier: Notifier::start(pool.clone(), &channel, &sender),
        pool,
        channel,
        sender,
        committed: Default::default(),
    })
}

/// Tells the other replicas that the change log grew, after the writer's commit and outside
/// its transaction. (A `NOTIFY` inside a transaction holds one database-wide lock from
/// before its commit until the commit is on disk: every hold writer's commit would wait in
/// single file for the others' disk syncs.) Notifications asked for while one is being
/// sent, or within [`Notifier::GAP`] after it, are answered by the next: a replica reads the
/// whole log when woken. The notification itself need not be durable (replicas also poll),
/// so its transaction does not wait for a disk sync.
#[derive(Debug, Clone)]
pub struct Notifier(mpsc::Sender<()>);

impl Notifier {
    /// The least time between two notifications. A change after a quiet spell is announced
    /// at once; under a stream of holds (one batch every millisecond or so per lane) the
    /// others' are announced together, at most every 5 ms: each notification is a
    /// transaction here and a wake-up of every listening replica's connection.
    const GAP: std::time::Duration = std::time::Duration::from_millis(5);

    fn start(pool: PgPool, channel: &str, sender: &str) -> Self {
        // Both are ours: the channel is letters, digits and `_`, the sender a UUID.
        let statement =
            format!("SET LOCAL synchronous_commit TO OFF; NOTIFY \"{channel}\", '{sender}'");
        let (tx, mut rx) = mpsc::channel(1);
        tokio::spawn(async move {
            // Ends when the store is dropped (every sender with it) or closed.
            while rx.recv().await.is_some() && !pool.is_closed() {
                if let Err(e) = sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "cannot notify the other replicas; they poll");
                }
                tokio::time::sleep(Self::GAP).await;
            }
        });
        Self(tx)
    }

    /// Asks for a notification (at once if none is pending).
    pub fn notify(&self) {
        // Full: one is pending already, and it will cover this change too.
        let _ = self.0.try_send(());
    }
}

pub async fn begin_write(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    Ok(pool.begin().await?)
}

/// A write transaction whose commit does not wait for the WAL's flush (see
/// `sqlite::begin_unsynced`).
pub async fn begin_unsynced(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    Ok(pool
        .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
        .await?)
}

/// The advisory lock that orders hold writers (shared) and imports (exclusive) of one
/// database (schema): a key drawn from its change channel, which is one per schema.
pub fn ports_lock_key(channel: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("ports:{channel}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes"))
}

/// The advisory lock that lets one replica at a time send alert e-mails (`store::alerts`),
/// drawn, as the one above, from the schema's change channel.
pub fn alerts_lock_key(channel: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("alerts:{channel}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes"))
}
