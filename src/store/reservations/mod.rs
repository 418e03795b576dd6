//! Reservations: the database is the arbiter of every hold.
//!
//! Creating a hold reads the box's attendance splitters and occupied ports and inserts the
//! new one in one write transaction (`holds`). The partial unique index on occupied
//! (splitter, port) is the arbiter: an insert that meets an occupant on its port (one
//! another writer committed, or is committing, meanwhile) is left out, and that hold reads
//! its box again and takes the next port. On SQLite `BEGIN IMMEDIATE` excludes every other
//! writer anyway; on PostgreSQL holds on one box from one replica go through one writer
//! lane, so only replicas meet. `idempotency` keeps what an `Idempotency-Key` answers,
//! `reads` what callers list and look up, `lifecycle` the transitions and the expiry.

mod holds;
mod idempotency;
mod lifecycle;
mod reads;

use super::changes::splitters_subject;
use super::writer::{self, HoldWriter, WriteTx};
use super::{
    BeginWrite, Store, StoreError, in_list, occupying, on_pool, push_pairs, push_project_scope,
    tags_from_text, tags_to_text,
};
use crate::domain::feasibility::ProjectScope;
use crate::domain::network::{Ports, free_ports};
use crate::domain::reservation::{
    Customer, Location, Reservation, Status, Transition, lowest_free_port, new_code,
};
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::sync::atomic::Ordering::Relaxed;

pub(crate) const COLUMNS: &str = "id, code, status, project, box_id, splitter_id, port, distance_m, plan_id, tags, lat, lon, \
     address, customer, external_ref, created_by, created_at, expires_at, confirmed_at, closed_at, \
     port_moves, inventory_confirmed_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ReservationRow {
    id: String,
    code: String,
    status: String,
    project: String,
    box_id: String,
    splitter_id: String,
    port: i64,
    distance_m: f64,
    plan_id: Option<String>,
    tags: String,
    lat: f64,
    lon: f64,
    address: Option<String>,
    customer: Option<String>,
    external_ref: Option<String>,
    created_by: String,
    created_at: i64,
    expires_at: Option<i64>,
    confirmed_at: Option<i64>,
    closed_at: Option<i64>,
    port_moves: String,
    inventory_confirmed_at: Option<i64>,
}

fn time(us: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(us)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("stored time {us} out of range")))
}

/// Now, to the microsecond (what the store keeps).
pub fn now() -> DateTime<Utc> {
    time(Utc::now().timestamp_micros()).expect("now is representable")
}

impl ReservationRow {
    pub(crate) fn into_reservation(self) -> Result<Reservation, StoreError> {
        let customer: Option<Customer> = match self.customer {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("stored customer is not JSON: {e}"))
            })?),
            None => None,
        };
        let mut r = Reservation {
            status: Status::parse(&self.status).ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!("stored status {:?}", self.status))
            })?,
            id: self.id,
            code: self.code,
            project: self.project,
            box_id: self.box_id,
            splitter_id: self.splitter_id,
            port: u32::try_from(self.port).unwrap_or(0),
            distance_m: self.distance_m,
            plan_id: self.plan_id,
            tags: tags_from_text(&self.tags)?,
            location: Location {
                lat: self.lat,
                lon: self.lon,
            },
            address: self.address,
            customer,
            external_ref: self.external_ref,
            created_by: self.created_by,
            created_at: time(self.created_at)?,
            expires_at: self.expires_at.map(time).transpose()?,
            confirmed_at: self.confirmed_at.map(time).transpose()?,
            closed_at: self.closed_at.map(time).transpose()?,
            port_moves: serde_json::from_str(&self.port_moves).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("stored port moves are not JSON: {e}"))
            })?,
            inventory_confirmed_at: self.inventory_confirmed_at.map(time).transpose()?,
            updated_at: time(self.created_at)?,
        };
        r.updated_at = r.last_change();
        Ok(r)
    }
}

/// A hold to place on a box already found to be a candidate.
#[derive(Clone)]
pub struct NewHold {
    pub project: String,
    pub box_id: String,
    pub distance_m: f64,
    pub plan_id: Option<String>,
    pub tags: Vec<String>,
    pub location: Location,
    pub address: String,
    pub customer: Customer,
    pub external_ref: Option<String>,
    pub created_by: String,
    pub ttl_s: i64,
    /// `Idempotency-Key` and the keyed hash of the request body.
    pub idempotency: Option<(String, String)>,
}

/// What a batch of holds came to.
#[derive(Debug)]
pub struct HeldBatch {
    /// In the order of the holds.
    pub outcomes: Vec<HoldOutcome>,
    /// The batch's change-log versions (none when it held no port).
    pub versions: Vec<i64>,
    /// Free ports of the boxes' attendance splitters as of the commit.
    pub free: Vec<(SplitterRef, u32)>,
}

/// What placing a hold came to.
#[derive(Debug)]
pub enum HoldOutcome {
    Created(Box<Reservation>),
    /// The box has no free attendance port (any more).
    NoFreePort,
    /// The key was used before with this body: the first answer's status, and the
    /// reservation it created (to be answered as it is now).
    Replay {
        status: u16,
        reservation_id: String,
    },
    /// The key was used before with another body.
    KeyReused,
}

/// Why a transition did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// Not allowed from the current status. `freed`: the reservation was found overdue and
    /// expired on the way, freeing this splitter's port.
    #[error("cannot {action} a reservation that is {from}")]
    Invalid {
        action: &'static str,
        from: &'static str,
        freed: Option<SplitterRef>,
    },
    #[error("only the reservation's creator may do this")]
    NotCreator,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for TransitionError {
    fn from(e: sqlx::Error) -> Self {
        TransitionError::Store(e.into())
    }
}

/// Filters of `GET /reservations`.
#[derive(Debug, Clone, Default)]
pub struct ReservationFilter {
    pub status: Option<Status>,
    pub project: Option<String>,
    pub box_id: Option<String>,
    pub code: Option<String>,
    pub external_ref: Option<String>,
    /// Only those this caller created (an integration's key without `reservations:manage`).
    pub created_by: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Installed reservations whose port an import has (true) or has not (false) shown used.
    pub inventory_confirmed: Option<bool>,
    /// Items strictly older than this (created_at µs, id), newest first.
    pub after: Option<(i64, String)>,
}

/// A splitter whose free ports changed, to refresh in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitterRef {
    pub project: String,
    pub box_id: String,
    pub splitter_id: String,
}

impl Reservation {
    fn splitter_ref(&self) -> SplitterRef {
        SplitterRef {
            project: self.project.clone(),
            box_id: self.box_id.clone(),
            splitter_id: self.splitter_id.clone(),
        }
    }
}
