//! Operator settings, one row.

use super::changes::change_row;
use super::{BeginWrite, Store, StoreError, on_pool};
use crate::domain::settings::Settings;
use sqlx::Row;

impl Store {
    /// Stores `first` unless settings are already stored; returns the settings in force.
    pub async fn init_settings(&self, first: &Settings) -> Result<Settings, StoreError> {
        on_pool!(self, write, |p| {
            sqlx::query(
                "INSERT INTO settings (id, default_radius_m, max_radius_m, reservation_ttl_s) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(first.default_radius_m)
            .bind(first.max_radius_m)
            .bind(first.reservation_ttl_s)
            .execute(p)
            .await
            .map(|_| ())
        })?;
        self.settings().await
    }

    pub async fn settings(&self) -> Result<Settings, StoreError> {
        let row = on_pool!(self, read, |p| {
            sqlx::query("SELECT default_radius_m, max_radius_m, reservation_ttl_s FROM settings WHERE id = 1")
                .fetch_one(p)
                .await
                .and_then(|r| {
                    Ok((
                        r.try_get::<f64, _>(0)?,
                        r.try_get::<f64, _>(1)?,
                        r.try_get::<i64, _>(2)?,
                    ))
                })
        })?;
        Settings::new(row.0, row.1, row.2)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored settings are invalid: {e:?}")))
    }

    /// Replaces the stored settings (already checked by the caller through `Settings`).
    pub async fn save_settings(&self, s: &Settings) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query(
                "UPDATE settings SET default_radius_m = $1, max_radius_m = $2, reservation_ttl_s = $3 WHERE id = 1",
            )
            .bind(s.default_radius_m)
            .bind(s.max_radius_m)
            .bind(s.reservation_ttl_s)
            .execute(&mut *tx)
            .await?;
            change_row("settings", "").fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }
}

impl Store {
    /// The random secret `name`, drawn (32 bytes, base64) the first time any replica asks.
    pub async fn secret(&self, name: &str) -> Result<String, StoreError> {
        use base64::Engine;
        use rand::RngExt;
        let fresh =
            base64::engine::general_purpose::STANDARD.encode(rand::rng().random::<[u8; 32]>());
        Ok(on_pool!(self, write, |p| {
            sqlx::query(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name.to_owned())
            .bind(fresh)
            .execute(p)
            .await?;
            sqlx::query_scalar::<_, String>("SELECT value FROM secrets WHERE name = $1")
                .bind(name.to_owned())
                .fetch_one(p)
                .await?
        }))
    }
}
