//! PostgreSQL: the production engine, and the way to run several replicas.

use super::{PoolOptions, Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

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
    Ok(Store::Postgres {
        pool,
        channel,
        sender: uuid::Uuid::new_v4().to_string(),
    })
}

pub async fn begin_write(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
    Ok(pool.begin().await?)
}
