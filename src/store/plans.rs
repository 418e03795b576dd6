//! Commercial plans.

use super::changes::change_row;
use super::{BeginWrite, Store, StoreError, on_pool, tags_from_text, tags_to_text};
use crate::domain::network::Plan;
use sqlx::Row;

impl Store {
    pub async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        let rows: Vec<(String, String, String)> = on_pool!(self, read, |p| {
            sqlx::query("SELECT id, name, tags FROM plans ORDER BY id")
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect::<Result<_, sqlx::Error>>()
        })?;
        rows.into_iter()
            .map(|(id, name, tags)| {
                Ok(Plan {
                    id,
                    name,
                    tags: tags_from_text(&tags)?,
                })
            })
            .collect()
    }

    /// Creates or replaces a plan; true when it was created.
    pub async fn put_plan(&self, plan: &Plan) -> Result<bool, StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let existed = sqlx::query("SELECT 1 FROM plans WHERE id = $1")
                .bind(&plan.id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            sqlx::query(
                "INSERT INTO plans (id, name, tags) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, tags = excluded.tags",
            )
            .bind(&plan.id)
            .bind(&plan.name)
            .bind(tags_to_text(&plan.tags))
            .execute(&mut *tx)
            .await?;
            change_row("plans", "").fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            Ok(!existed)
        })
    }

    /// Deletes a plan; `NotFound` when there is none.
    pub async fn delete_plan(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query("DELETE FROM plans WHERE id = $1")
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            change_row("plans", "").fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            Ok(())
        })
    }
}
