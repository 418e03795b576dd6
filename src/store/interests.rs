//! Interests: stored with who registered them; a notification writes its
//! `coverage.available` event in the transaction that turns the interest `notified`.

use super::events::{NewEvent, event_row};
use super::{BeginWrite, Store, StoreError, on_pool, push_list};
use crate::domain::feasibility::ProjectScope;
use crate::domain::interest::{
    Interest, InterestStatus, NewInterest, Registrant, StoredInterest, scope_to_list,
};
use crate::domain::reservation::{Customer, Location};
use chrono::{DateTime, Utc};

const COLUMNS: &str = "id, status, plan_id, lat, lon, address, contact, external_ref, created_by, \
     by_key, projects, project, box_id, distance_m, created_at, updated_at, notified_at, erased_at";

#[derive(sqlx::FromRow)]
struct InterestRow {
    id: String,
    status: String,
    plan_id: String,
    lat: f64,
    lon: f64,
    address: Option<String>,
    contact: Option<String>,
    external_ref: Option<String>,
    created_by: String,
    by_key: bool,
    projects: String,
    project: Option<String>,
    box_id: Option<String>,
    distance_m: Option<f64>,
    created_at: i64,
    updated_at: i64,
    notified_at: Option<i64>,
    erased_at: Option<i64>,
}

fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("stored time {us} out of range")))
}

impl InterestRow {
    fn into_stored(self) -> Result<StoredInterest, StoreError> {
        let contact: Option<Customer> = self
            .contact
            .map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored contact is not JSON: {e}")))?;
        let projects: Vec<String> = super::tags_from_text(&self.projects)?;
        Ok(StoredInterest {
            interest: Interest {
                status: InterestStatus::parse(&self.status).ok_or_else(|| {
                    StoreError::Other(anyhow::anyhow!("stored status {:?}", self.status))
                })?,
                id: self.id,
                plan_id: self.plan_id,
                location: Location {
                    lat: self.lat,
                    lon: self.lon,
                },
                address: self.address,
                contact,
                external_ref: self.external_ref,
                created_by: self.created_by.clone(),
                project: self.project,
                box_id: self.box_id,
                distance_m: self.distance_m,
                created_at: time(self.created_at)?,
                updated_at: time(self.updated_at)?,
                notified_at: self.notified_at.map(time).transpose()?,
                erased_at: self.erased_at.map(time).transpose()?,
            },
            registrant: Registrant {
                created_by: self.created_by,
                by_key: self.by_key,
                projects: ProjectScope::from_claim(&projects),
            },
        })
    }
}

/// Filters of `GET /interest`.
#[derive(Debug, Clone, Default)]
pub struct InterestFilter {
    pub status: Option<InterestStatus>,
    /// Only those this caller registered.
    pub created_by: Option<String>,
    /// Items strictly older than this (created_at µs, id), newest first.
    pub after: Option<(i64, String)>,
}

/// What a re-check found for a waiting interest.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub project: String,
    pub box_id: String,
    pub distance_m: f64,
}

impl Store {
    pub async fn insert_interest(
        &self,
        new: &NewInterest,
        registrant: &Registrant,
    ) -> Result<Interest, StoreError> {
        let at = super::now();
        let id = uuid::Uuid::now_v7().to_string();
        let contact = serde_json::to_string(&new.contact).expect("contacts serialise");
        let projects = super::tags_to_text(&scope_to_list(&registrant.projects));
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            sqlx::query(
                "INSERT INTO interests (id, status, plan_id, lat, lon, address, contact, external_ref, \
                    created_by, by_key, projects, created_at, updated_at) \
                 VALUES ($1, 'waiting', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            )
            .bind(id.clone())
            .bind(new.plan_id.clone())
            .bind(new.at.lat())
            .bind(new.at.lon())
            .bind(new.address.clone())
            .bind(contact)
            .bind(new.external_ref.clone())
            .bind(registrant.created_by.clone())
            .bind(registrant.by_key)
            .bind(projects)
            .bind(at.timestamp_micros())
            .execute(&mut *tx)
            .await?;
            self.commit_write(tx, false).await?;
            Ok::<_, StoreError>(())
        })?;
        Ok(self.interest(&id).await?.interest)
    }

    pub async fn interest(&self, id: &str) -> Result<StoredInterest, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM interests WHERE id = $1");
        let row: InterestRow = on_pool!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .fetch_optional(p)
                .await
        })?
        .ok_or(StoreError::NotFound)?;
        row.into_stored()
    }

    /// Interests matching `filter`, newest first, at most `limit` (visibility by project
    /// is the caller's to apply).
    pub async fn interests(
        &self,
        filter: &InterestFilter,
        limit: usize,
    ) -> Result<Vec<StoredInterest>, StoreError> {
        let rows: Vec<InterestRow> = on_pool!(self, read, |p| {
            let mut qb =
                sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM interests WHERE 1 = 1"));
            if let Some(s) = filter.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
            if let Some(c) = &filter.created_by {
                qb.push(" AND created_by = ").push_bind(c.clone());
            }
            if let Some((at, id)) = &filter.after {
                qb.push(" AND (created_at < ").push_bind(*at);
                qb.push(" OR (created_at = ")
                    .push_bind(*at)
                    .push(" AND id < ")
                    .push_bind(id.clone())
                    .push("))");
            }
            qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                .push_bind(limit as i64);
            qb.build_query_as().fetch_all(p).await
        })?;
        rows.into_iter().map(InterestRow::into_stored).collect()
    }

    /// Waiting interests registered after `after` (created_at µs, id), oldest first.
    pub async fn waiting_interests(
        &self,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<StoredInterest>, StoreError> {
        let rows: Vec<InterestRow> = on_pool!(self, read, |p| {
            let mut qb = sqlx::QueryBuilder::new(format!(
                "SELECT {COLUMNS} FROM interests WHERE status = 'waiting'"
            ));
            if let Some((at, id)) = &after {
                qb.push(" AND (created_at > ").push_bind(*at);
                qb.push(" OR (created_at = ")
                    .push_bind(*at)
                    .push(" AND id > ")
                    .push_bind(id.clone())
                    .push("))");
            }
            qb.push(" ORDER BY created_at, id LIMIT ")
                .push_bind(limit as i64);
            qb.build_query_as().fetch_all(p).await
        })?;
        rows.into_iter().map(InterestRow::into_stored).collect()
    }

    /// Turns a waiting interest `notified` with what was found, and writes its
    /// `coverage.available` event in the same transaction. None when it was no longer
    /// waiting (another replica, or a `DELETE`, came first).
    pub async fn notify_interest(
        &self,
        id: &str,
        found: &Found,
    ) -> Result<Option<Interest>, StoreError> {
        let at = super::now();
        let sql = format!("SELECT {COLUMNS} FROM interests WHERE id = $1");
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE interests SET status = 'notified', project = $1, box_id = $2, distance_m = $3, \
                    notified_at = $4, updated_at = $4 WHERE id = $5 AND status = 'waiting'",
            )
            .bind(found.project.clone())
            .bind(found.box_id.clone())
            .bind(found.distance_m)
            .bind(at.timestamp_micros())
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Ok(None);
            }
            let row: InterestRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .fetch_one(&mut *tx)
                .await?;
            let interest = row.into_stored()?.interest;
            event_row(&NewEvent::coverage_available(&interest, at))
                .execute(&mut *tx)
                .await?;
            self.commit_write(tx, false).await?;
            Ok(Some(interest))
        })
    }

    /// `DELETE /interest/{id}`: the contact erased, the record kept, `withdrawn` (a lapsed
    /// one stays lapsed); also from its stored events.
    pub async fn withdraw_interest(&self, id: &str) -> Result<(), StoreError> {
        let at = super::now().timestamp_micros();
        let erase_events = self.erase_interest_events_sql();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE interests SET status = CASE WHEN status = 'lapsed' THEN status ELSE 'withdrawn' END, \
                    contact = NULL, address = NULL, erased_at = COALESCE(erased_at, $1), updated_at = $1 \
                 WHERE id = $2",
            )
            .bind(at)
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(erase_events)
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
            self.commit_write(tx, false).await?;
            Ok(())
        })
    }

    /// Erases the contact of interests registered before `registered_before` or notified
    /// before `notified_before` (µs), at most `limit`; a waiting one turns `lapsed`.
    /// Returns how many.
    pub async fn erase_due_interests(
        &self,
        registered_before: i64,
        notified_before: i64,
        now: i64,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let erase_events = self.erase_interest_events_sql();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM interests WHERE contact IS NOT NULL \
                   AND (created_at <= $1 OR notified_at <= $2) LIMIT $3",
            )
            .bind(registered_before)
            .bind(notified_before)
            .bind(limit as i64)
            .fetch_all(&mut *tx)
            .await?;
            if ids.is_empty() {
                return Ok(0);
            }
            let mut qb = sqlx::QueryBuilder::new(
                "UPDATE interests SET status = CASE WHEN status = 'waiting' THEN 'lapsed' ELSE status END, \
                    contact = NULL, address = NULL, erased_at = ",
            );
            qb.push_bind(now)
                .push(", updated_at = ")
                .push_bind(now)
                .push(" WHERE id IN");
            push_list(&mut qb, ids.iter().cloned());
            qb.build().execute(&mut *tx).await?;
            for id in &ids {
                sqlx::query(erase_events)
                    .bind(id.clone())
                    .execute(&mut *tx)
                    .await?;
            }
            self.commit_write(tx, false).await?;
            Ok(ids.len())
        })
    }

    /// Removes the contact and the address from the stored events about an interest.
    fn erase_interest_events_sql(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => {
                "UPDATE events SET body = json_set(body, '$.data.contact', json('null'), \
                 '$.data.address', json('null')) WHERE subject = $1"
            }
            Store::Postgres { .. } => {
                "UPDATE events SET body = jsonb_set(jsonb_set(body::jsonb, '{data,contact}', \
                 'null'), '{data,address}', 'null')::text WHERE subject = $1"
            }
        }
    }
}
