//! The outbox: every event is written in the transaction of the change it reports, so that
//! whatever commits is told, whatever crashes after. The delivery worker reads it later.

use crate::domain::reservation::Reservation;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// An event to store with its change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub kind: &'static str,
    pub project: String,
    /// The reservation it is about (its personal data is erased from the event when the
    /// reservation's is), or empty.
    pub subject: String,
    /// Who created the reservation: integrations without `reservations_manage` are told
    /// only of their own.
    pub created_by: String,
    /// The body as delivered.
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl NewEvent {
    fn new(kind: &'static str, project: &str, data: Value, at: DateTime<Utc>) -> Self {
        let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
        let body = json!({"id": id, "type": kind, "created_at": at, "data": data}).to_string();
        Self {
            id,
            kind,
            project: project.to_owned(),
            subject: String::new(),
            created_by: String::new(),
            body,
            created_at: at,
        }
    }

    /// `reservation.<kind>`: the reservation as `GET /reservations/{id}` shows it now.
    pub fn reservation(kind: &'static str, r: &Reservation, at: DateTime<Utc>) -> Self {
        let data = serde_json::to_value(r).expect("reservations serialise");
        Self {
            subject: r.id.clone(),
            created_by: r.created_by.clone(),
            ..Self::new(kind, &r.project, data, at)
        }
    }

    /// `coverage.available`: the interest as `GET /interest/{id}` shows it now, for the
    /// integration that registered it.
    pub fn coverage_available(i: &crate::domain::interest::Interest, at: DateTime<Utc>) -> Self {
        let data = serde_json::to_value(i).expect("interests serialise");
        Self {
            subject: i.id.clone(),
            created_by: i.created_by.clone(),
            ..Self::new(
                "coverage.available",
                i.project.as_deref().unwrap_or(""),
                data,
                at,
            )
        }
    }

    /// `inventory.imported`: the project, mode and counts of the import's answer.
    pub fn imported(project: &str, data: Value, at: DateTime<Utc>) -> Self {
        Self::new("inventory.imported", project, data, at)
    }
}

/// The insert of one event, run on the change's transaction.
pub(crate) fn event_row<DB: sqlx::Database>(
    e: &NewEvent,
) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "INSERT INTO events (id, type, project, subject, created_by, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.id.clone())
    .bind(e.kind.to_owned())
    .bind(e.project.clone())
    .bind(e.subject.clone())
    .bind(e.created_by.clone())
    .bind(e.body.clone())
    .bind(e.created_at.timestamp_micros())
}

/// The insert of several events in one statement (a hold batch's, an import's moves).
pub(crate) fn events_insert<DB: sqlx::Database>(events: &[NewEvent]) -> sqlx::QueryBuilder<DB>
where
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut qb = sqlx::QueryBuilder::new(
        "INSERT INTO events (id, type, project, subject, created_by, body, created_at) ",
    );
    qb.push_values(events, |mut b, e| {
        b.push_bind(e.id.clone())
            .push_bind(e.kind.to_owned())
            .push_bind(e.project.clone())
            .push_bind(e.subject.clone())
            .push_bind(e.created_by.clone())
            .push_bind(e.body.clone())
            .push_bind(e.created_at.timestamp_micros());
    });
    qb
}

/// Events a statement takes at most (7 parameters each, well under both engines' limits).
pub(crate) const EVENTS_PER_INSERT: usize = 500;

impl super::Store {
    /// Removes the customer and the address from the stored events about a reservation
    /// (run with the erasure of its own: nothing personal outlives it).
    pub(crate) fn erase_event_data_sql(&self) -> &'static str {
        match self {
            super::Store::Sqlite { .. } => {
                "UPDATE events SET body = json_set(body, '$.data.customer', json('null'), \
                 '$.data.address', json('null')) WHERE subject = $1"
            }
            super::Store::Postgres { .. } => {
                "UPDATE events SET body = jsonb_set(jsonb_set(body::jsonb, '{data,customer}', \
                 'null'), '{data,address}', 'null')::text WHERE subject = $1"
            }
        }
    }
}
