//! Integrations and their keys. An integration is stored as one JSON document (the service
//! owns its shape); keys as their hash, never the key. Every write records an
//! `integrations` change, so every replica reloads its credentials within a second.

use super::changes::change_row;
use super::{BeginWrite, Store, StoreError, on_pool};
use sqlx::Row;

/// An integration as stored: its document and whether it was deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredIntegration {
    pub id: String,
    /// The integration as JSON.
    pub doc: String,
    pub deleted: bool,
}

/// A key as stored (times in microseconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKey {
    pub id: String,
    pub integration_id: String,
    /// SHA-256 of the key, hex.
    pub hash: String,
    pub prefix: String,
    pub name: String,
    pub kind: String,
    /// JSON array, or none: whatever the integration's modules grant.
    pub scopes: Option<String>,
    pub expires_at: Option<i64>,
    /// JSON array.
    pub allowed_origins: String,
    pub rate_limit_per_min: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const KEY_COLUMNS: &str = "id, integration_id, hash, prefix, name, kind, scopes, expires_at, \
     allowed_origins, rate_limit_per_min, created_at, last_used_at, revoked_at";

fn key_row<R: Row>(r: &R) -> Result<StoredKey, sqlx::Error>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'q> String: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
    for<'q> i64: sqlx::Decode<'q, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredKey {
        id: r.try_get("id")?,
        integration_id: r.try_get("integration_id")?,
        hash: r.try_get("hash")?,
        prefix: r.try_get("prefix")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        scopes: r.try_get("scopes")?,
        expires_at: r.try_get("expires_at")?,
        allowed_origins: r.try_get("allowed_origins")?,
        rate_limit_per_min: r.try_get("rate_limit_per_min")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// The statement that finds `id` among the integrations not deleted (a row, or none).
pub(crate) fn live_integration<DB: sqlx::Database>(
    id: &str,
) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query("SELECT 1 FROM integrations WHERE id = $1 AND deleted_at IS NULL")
        .bind(id.to_owned())
}

impl Store {
    /// Every integration, deleted ones included (their ids stay taken), in id order.
    pub async fn integrations(&self) -> Result<Vec<StoredIntegration>, StoreError> {
        Ok(on_pool!(self, read, |p| {
            sqlx::query("SELECT id, doc, deleted_at FROM integrations ORDER BY id")
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    Ok(StoredIntegration {
                        id: r.try_get(0)?,
                        doc: r.try_get(1)?,
                        deleted: r.try_get::<Option<i64>, _>(2)?.is_some(),
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Whether `id` is an integration that was not deleted.
    pub async fn integration_is_live(&self, id: &str) -> Result<bool, StoreError> {
        Ok(on_pool!(self, read, |p| {
            live_integration(id).fetch_optional(p).await?.is_some()
        }))
    }

    /// Stores a new integration; `AlreadyExists` when its id is taken (also by a deleted one).
    pub async fn create_integration(&self, id: &str, doc: &str) -> Result<(), StoreError> {
        let at = super::now().timestamp_micros();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO integrations (id, doc, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(id.to_owned())
            .bind(doc.to_owned())
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            change_row("integrations", id).fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// Replaces a live integration's document; `NotFound` when there is none.
    pub async fn update_integration(&self, id: &str, doc: &str) -> Result<(), StoreError> {
        let at = super::now().timestamp_micros();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE integrations SET doc = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
            )
            .bind(doc.to_owned())
            .bind(at)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            change_row("integrations", id).fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// Marks a live integration deleted and revokes its keys.
    pub async fn delete_integration(&self, id: &str) -> Result<(), StoreError> {
        let at = super::now().timestamp_micros();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE integrations SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL",
            )
            .bind(at)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "UPDATE api_keys SET revoked_at = $1 WHERE integration_id = $2 AND revoked_at IS NULL",
            )
            .bind(at)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
            change_row("integrations", id).fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// Every key of every integration (what the credentials in memory are built from).
    pub async fn api_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let sql =
            format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY integration_id, created_at, id");
        Ok(on_pool!(self, read, |p| {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await?
                .iter()
                .map(key_row)
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?)
    }

    /// Stores a new key of a live integration; `NotFound` when the integration is not.
    pub async fn create_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let live = live_integration(&key.integration_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !live {
                return Err(StoreError::NotFound);
            }
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(key.id.clone())
                .bind(key.integration_id.clone())
                .bind(key.hash.clone())
                .bind(key.prefix.clone())
                .bind(key.name.clone())
                .bind(key.kind.clone())
                .bind(key.scopes.clone())
                .bind(key.expires_at)
                .bind(key.allowed_origins.clone())
                .bind(key.rate_limit_per_min)
                .bind(key.created_at)
                .bind(key.last_used_at)
                .bind(key.revoked_at)
                .execute(&mut *tx)
                .await?;
            change_row("integrations", &key.integration_id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// Revokes a key of an integration (once: a revoked key keeps its first `revoked_at`);
    /// `NotFound` when the integration has no such key.
    pub async fn revoke_key(&self, integration_id: &str, key_id: &str) -> Result<(), StoreError> {
        let at = super::now().timestamp_micros();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let found = sqlx::query("SELECT 1 FROM api_keys WHERE id = $1 AND integration_id = $2")
                .bind(key_id.to_owned())
                .bind(integration_id.to_owned())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !found {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(key_id.to_owned())
                .execute(&mut *tx)
                .await?;
            change_row("integrations", integration_id)
                .fetch_one(&mut *tx)
                .await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }

    /// Records when keys were last used (to the minute: one write per key and minute at
    /// most, batched). No change is announced: `last_used_at` is read from the store.
    pub async fn touch_keys(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        if used.is_empty() {
            return Ok(());
        }
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            for (id, at) in used {
                sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 \
                     WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
                )
                .bind(*at)
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
            }
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }
}
