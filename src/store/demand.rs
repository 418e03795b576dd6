//! Demand counts: one row per (cell, plan, outcome, day), each flush adding to it. The
//! cell's centre is kept beside it so that a map's bbox reads only the rows near it.

use super::{BeginWrite, Store, StoreError, on_pool};
use crate::domain::demand::{DemandQuery, Outcome, centre};
use chrono::NaiveDate;
use sqlx::Row;

/// Answers counted in one cell, for one plan (`""`: none), outcome and UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct DemandCount {
    pub cell: u64,
    pub plan_id: String,
    pub outcome: Outcome,
    pub day: NaiveDate,
    pub count: u64,
}

/// Rows per statement (7 parameters each, well under either engine's limit).
const CHUNK: usize = 500;

impl Store {
    /// Adds these counts to the stored ones, in one transaction.
    pub async fn add_demand(&self, counts: &[DemandCount]) -> Result<(), StoreError> {
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            for chunk in counts.chunks(CHUNK) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO demand_counts (cell, plan_id, outcome, day, lat, lon, count) ",
                );
                qb.push_values(chunk, |mut b, c| {
                    let (lat, lon) = centre(c.cell).unwrap_or((0.0, 0.0));
                    b.push_bind(c.cell as i64)
                        .push_bind(c.plan_id.clone())
                        .push_bind(c.outcome.as_str())
                        .push_bind(c.day.to_string())
                        .push_bind(lat)
                        .push_bind(lon)
                        .push_bind(c.count as i64);
                });
                qb.push(
                    " ON CONFLICT (cell, plan_id, outcome, day) \
                     DO UPDATE SET count = demand_counts.count + excluded.count",
                );
                qb.build().execute(&mut *tx).await?;
            }
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }

    /// The counts near the query's bbox over its days, plan and reason, summed by
    /// resolution-9 cell and outcome.
    pub async fn demand(&self, q: &DemandQuery) -> Result<Vec<(u64, Outcome, u64)>, StoreError> {
        let ((lat_min, lat_max), lon) = q.search_area();
        let rows: Vec<(i64, String, i64)> = on_pool!(self, read, |p| {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT cell, outcome, CAST(SUM(count) AS BIGINT) FROM demand_counts WHERE lat >= ",
            );
            qb.push_bind(lat_min)
                .push(" AND lat <= ")
                .push_bind(lat_max);
            if let Some((lon_min, lon_max)) = lon {
                qb.push(" AND lon >= ")
                    .push_bind(lon_min)
                    .push(" AND lon <= ")
                    .push_bind(lon_max);
            }
            if let Some(d) = q.from {
                qb.push(" AND day >= ").push_bind(d.to_string());
            }
            if let Some(d) = q.to {
                qb.push(" AND day <= ").push_bind(d.to_string());
            }
            if let Some(plan) = &q.plan_id {
                qb.push(" AND plan_id = ").push_bind(plan.clone());
            }
            if let Some(r) = q.reason {
                qb.push(" AND outcome = ").push_bind(r.as_str());
            }
            qb.push(" GROUP BY cell, outcome");
            qb.build()
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get::<i64, _>(0)?,
                        r.try_get::<String, _>(1)?,
                        r.try_get::<i64, _>(2)?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(cell, outcome, n)| {
                Outcome::parse(&outcome).map(|o| (cell as u64, o, n.max(0) as u64))
            })
            .collect())
    }
}
