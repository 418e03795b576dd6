//! Reservations: the database is the arbiter of every hold.
//!
//! Creating a hold reads the box's attendance splitters and live holds and inserts the new
//! one in one write transaction. The partial unique index on live (splitter, port) is the
//! arbiter: an insert that meets a live hold on its port (one another writer committed, or
//! is committing, meanwhile) is left out, and that hold reads its box again and takes the
//! next port. On SQLite `BEGIN IMMEDIATE` excludes every other writer anyway; on PostgreSQL
//! holds on one box from one replica go through one writer lane, so only replicas meet.

use super::changes::splitters_subject;
use super::writer::{self, HoldWriter, WriteTx};
use super::{
    BeginWrite, Store, StoreError, in_list, occupying, on_pool, push_pairs, push_project_scope,
    record_change, tags_from_text, tags_to_text,
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

/// The stored answer to an `Idempotency-Key` of a `sub`.
const IDEMPOTENCY_ANSWER: &str =
    "SELECT request_hmac, status, reservation_id FROM idempotency_keys WHERE sub = $1 AND key = $2";

const COLUMNS: &str = "id, code, status, project, box_id, splitter_id, port, distance_m, plan_id, tags, lat, lon, \
     address, customer, external_ref, created_by, created_at, expires_at, confirmed_at, closed_at, \
     port_moves, inventory_confirmed_at";

/// Marks one pending reservation expired and erases its personal data (a macro: the same
/// statement on either engine's transaction).
macro_rules! expire_one {
    ($tx:expr, $id:expr, $at:expr) => {
        sqlx::query(
            "UPDATE reservations SET status = 'expired', closed_at = $1, customer = NULL, address = NULL \
             WHERE id = $2 AND status = 'pending'",
        )
        .bind($at.timestamp_micros())
        .bind(String::from($id))
        .execute(&mut *$tx)
        .await
        .map_err(StoreError::from)
    };
}

#[derive(sqlx::FromRow)]
struct ReservationRow {
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
    fn into_reservation(self) -> Result<Reservation, StoreError> {
        let customer: Option<Customer> = match self.customer {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("stored customer is not JSON: {e}"))
            })?),
            None => None,
        };
        Ok(Reservation {
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
        })
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

/// An attendance splitter of a box being held: its ports as the store has them, plus the
/// holds placed on it so far in this transaction.
struct SplitterPorts {
    id: String,
    ports: u32,
    used: u32,
    used_ports: String,
    held: Vec<u32>,
}

impl SplitterPorts {
    /// Takes the lowest free port, if any.
    fn take_lowest_free(&mut self) -> Option<u32> {
        if free_ports(self.ports, self.used, self.held.len() as u32) == 0 {
            return None;
        }
        let used = Ports::from_text(self.ports, &self.used_ports)
            .map(|p| p.used().to_vec())
            .unwrap_or_default();
        let port = lowest_free_port(self.ports, &used, &self.held)?;
        self.held.push(port);
        Some(port)
    }
}

/// Rounds of inserts a batch may take before its conflicts count as an error.
const MAX_ROUNDS: usize = 16;

/// The read of a batch's boxes: each attendance splitter with its live holds' ports
/// (comma-separated); `in_list` appends the box ids.
///
/// A prepared statement on both engines. PostgreSQL plans a prepared statement once for
/// good after its first runs, with the statistics of that moment, and a plan made while
/// the reservations were few (a new database) scans them all, on every hold, until
/// autovacuum next analyses the table. The holds are therefore read per splitter with
/// `ORDER BY port`, which only the unique index on live (splitter, port) gives without a
/// sort, and the lanes' connections refuse sequential scans (`writer::begin`): the one
/// plan left is that index's range for the splitter, whatever the statistics
/// (the test below checks the plan kept after the table grows). Planning on each
/// run instead cost more than the read (0.3–0.6 ms against 0.1 ms).
fn held_ports_read(store: &Store) -> &'static str {
    match store {
        Store::Postgres { .. } => &HELD_PORTS_READ_POSTGRES,
        Store::Sqlite { .. } => &HELD_PORTS_READ_SQLITE,
    }
}

/// The read with `held`, the engine's expression for a splitter's occupied ports.
fn held_ports_sql(held: &str) -> String {
    format!(
        "SELECT s.box_id, s.id, s.ports, s.used, s.used_ports, {held} \
         FROM splitters s WHERE s.kind = 'attendance' AND s.box_id IN"
    )
}

static HELD_PORTS_READ_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    held_ports_sql(&format!(
        "array_to_string(ARRAY(SELECT r.port FROM reservations r \
           WHERE r.splitter_id = s.id AND {} ORDER BY r.port), ',')",
        occupying("r.")
    ))
});

static HELD_PORTS_READ_SQLITE: LazyLock<String> = LazyLock::new(|| {
    held_ports_sql(&format!(
        "(SELECT group_concat(r.port) FROM reservations r WHERE r.splitter_id = s.id AND {})",
        occupying("r.")
    ))
});

/// The lowest free port of a box's attendance splitters, in id order, taken.
fn take_port(
    splitters: &mut HashMap<String, Vec<SplitterPorts>>,
    box_id: &str,
) -> Option<(String, u32)> {
    splitters.get_mut(box_id).and_then(|of_box| {
        of_box
            .iter_mut()
            .find_map(|s| s.take_lowest_free().map(|port| (s.id.clone(), port)))
    })
}

/// `INSERT INTO reservations … RETURNING id` of these new reservations; one that conflicts
/// (a port held live, a code taken) is left out.
fn push_insert<'a, DB: sqlx::Database>(
    qb: &mut QueryBuilder<DB>,
    rows: impl Iterator<Item = &'a Reservation>,
) where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    qb.push(
        "INSERT INTO reservations (id, code, status, project, box_id, splitter_id, port, distance_m, plan_id, tags, \
           lat, lon, address, customer, external_ref, created_by, created_at, expires_at) ",
    );
    qb.push_values(rows, |mut b, r| {
        let customer = serde_json::to_string(&r.customer).expect("customer serialises");
        b.push_bind(r.id.clone())
            .push_bind(r.code.clone())
            .push("'pending'")
            .push_bind(r.project.clone())
            .push_bind(r.box_id.clone())
            .push_bind(r.splitter_id.clone())
            .push_bind(i64::from(r.port))
            .push_bind(r.distance_m)
            .push_bind(r.plan_id.clone())
            .push_bind(tags_to_text(&r.tags))
            .push_bind(r.location.lat)
            .push_bind(r.location.lon)
            .push_bind(r.address.clone())
            .push_bind(customer)
            .push_bind(r.external_ref.clone())
            .push_bind(r.created_by.clone())
            .push_bind(r.created_at.timestamp_micros())
            .push_bind(r.expires_at.map(|t| t.timestamp_micros()));
    });
    qb.push(" ON CONFLICT DO NOTHING RETURNING id");
}

/// `(sub, key)` of a hold's `Idempotency-Key`.
type KeyOf = (String, String);

/// A stored idempotent answer: request HMAC, status, reservation id.
type StoredAnswer = (String, i64, String);

impl HoldWriter {
    /// Places holds in one write transaction (one commit, one sync to disk, for the lot):
    /// each takes the lowest free port of its box's attendance splitters, in id order, as
    /// the store sees them after the holds before it.
    ///
    /// The statements do not grow with the batch: one lookup of the stored idempotent
    /// answers, one read of all the boxes' splitters and holds, one insert of the
    /// reservations (with the change-log row on PostgreSQL) and one of the new keys. (A
    /// round trip to PostgreSQL costs more than the statement.)
    ///
    /// Returns the outcomes in the order of `holds`, the batch's change-log versions, and
    /// the free ports of the boxes' splitters as of its commit.
    pub async fn hold_many(&mut self, holds: &[NewHold]) -> Result<HeldBatch, StoreError> {
        let kept = self.has_connection();
        let mut result = self.hold_many_once(holds).await;
        if result.is_err() {
            self.drop_connection();
            if kept && !self.wrote.load(Relaxed) {
                result = self.hold_many_once(holds).await;
                if result.is_err() {
                    self.drop_connection();
                }
            }
        }
        result
    }

    async fn hold_many_once(&mut self, holds: &[NewHold]) -> Result<HeldBatch, StoreError> {
        if holds.is_empty() {
            return Ok(HeldBatch {
                outcomes: Vec::new(),
                versions: Vec::new(),
                free: Vec::new(),
            });
        }
        let key_of = |h: &NewHold| {
            h.idempotency
                .as_ref()
                .map(|(key, hash)| ((h.created_by.clone(), key.clone()), hash.clone()))
        };
        let keys: Vec<KeyOf> = holds.iter().filter_map(key_of).map(|(k, _)| k).collect();
        let store = &self.store;
        let wrote = &self.wrote;
        let in_doubt = &self.in_doubt;
        wrote.store(false, Relaxed);
        macro_rules! in_transaction {
            ($tx:ident) => {{
            // Answers already stored for these keys.
            let mut answers: HashMap<KeyOf, StoredAnswer> = HashMap::new();
            if !keys.is_empty() {
                let mut qb = QueryBuilder::new(
                    "SELECT sub, key, request_hmac, status, reservation_id FROM idempotency_keys WHERE (sub, key) IN ",
                );
                push_pairs(&mut qb, &keys);
                for r in qb.build().fetch_all(&mut *$tx).await? {
                    answers.insert(
                        (r.try_get(0)?, r.try_get(1)?),
                        (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?),
                    );
                }
            }
            let mut boxes: Vec<String> = holds.iter().map(|h| h.box_id.clone()).collect();
            boxes.sort();
            boxes.dedup();
            // The boxes' attendance splitters, with their live holds (ours included).
            macro_rules! read_splitters {
                ($boxes:expr) => {{
                    let mut read = in_list(held_ports_read(store), $boxes);
                    read.push(" ORDER BY s.box_id, s.id");
                    let mut splitters: HashMap<String, Vec<SplitterPorts>> = HashMap::new();
                    for r in read.build().fetch_all(&mut *$tx).await? {
                        let ports = u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0);
                        let held: Option<String> = r.try_get(5)?;
                        splitters.entry(r.try_get(0)?).or_default().push(SplitterPorts {
                            id: r.try_get(1)?,
                            ports,
                            used: u32::try_from(r.try_get::<i64, _>(3)?).unwrap_or(ports),
                            used_ports: r.try_get(4)?,
                            held: held
                                .iter()
                                .flat_map(|h| h.split(','))
                                .filter_map(|p| p.parse().ok())
                                .collect(),
                        });
                    }
                    splitters
                }};
            }
            let mut splitters = read_splitters!(&boxes);
            // Every splitter a hold of this batch may take: the subject of its change.
            let subject = splitters_subject(
                splitters.values().flatten().map(|s| s.id.as_str()),
            );

            // Ports, in the order the holds came.
            let mut outcomes: Vec<Option<HoldOutcome>> = holds.iter().map(|_| None).collect();
            // Holds whose key an earlier hold of this batch is placing: answered as it is.
            let mut same_key_as: Vec<(usize, KeyOf, String)> = Vec::new();
            let mut placing: HashSet<KeyOf> = HashSet::new();
            let mut created: Vec<(usize, Reservation)> = Vec::new();
            for (i, new) in holds.iter().enumerate() {
                if let Some((key, hash)) = key_of(new) {
                    if let Some((stored, status, id)) = answers.get(&key) {
                        outcomes[i] = Some(stored_answer(stored, &hash, *status, id));
                        continue;
                    }
                    if placing.contains(&key) {
                        same_key_as.push((i, key, hash));
                        continue;
                    }
                }
                match take_port(&mut splitters, &new.box_id) {
                    Some((splitter_id, port)) => {
                        if let Some((key, _)) = key_of(new) {
                            placing.insert(key);
                        }
                        created.push((i, new_reservation(new, splitter_id, port)));
                    }
                    None => outcomes[i] = Some(HoldOutcome::NoFreePort),
                }
            }

            // Inserted until every hold is in or has no port left. Nothing locks the ports
            // chosen: a hold whose port another writer took first (another replica, on the
            // same box), or whose random code is taken, is left out; its box is read again
            // and it takes the next free port, with a fresh code. (Without a transaction, a
            // round that fails after an earlier one committed would answer an error for holds
            // that stand: every batch is one transaction.)
            let mut versions: Vec<i64> = Vec::new();
            let mut uninserted: Vec<usize> = (0..created.len()).collect();
            let mut refused: HashSet<usize> = HashSet::new();
            for round in 0.. {
                if uninserted.is_empty() {
                    break;
                }
                if round > 0 {
                    if round > MAX_ROUNDS {
                        return Err(StoreError::Other(anyhow::anyhow!(
                            "holds still conflicting after {MAX_ROUNDS} attempts"
                        )));
                    }
                    let mut again: Vec<String> =
                        uninserted.iter().map(|&k| created[k].1.box_id.clone()).collect();
                    again.sort();
                    again.dedup();
                    splitters.extend(read_splitters!(&again));
                    for &k in &uninserted {
                        match take_port(&mut splitters, &created[k].1.box_id) {
                            Some((splitter_id, port)) => {
                                created[k].1.splitter_id = splitter_id;
                                created[k].1.port = port;
                            }
                            None => {
                                outcomes[created[k].0] = Some(HoldOutcome::NoFreePort);
                                refused.insert(k);
                            }
                        }
                    }
                    uninserted.retain(|k| !refused.contains(k));
                    if uninserted.is_empty() {
                        break;
                    }
                }
                for &k in &uninserted {
                    created[k].1.code = new_code(&mut rand::rng());
                }
                let rows = uninserted.iter().map(|&k| &created[k].1);
                // On PostgreSQL the change row rides along with each insert that holds
                // anything (its notification follows the commit); on SQLite it is a
                // statement of its own.
                wrote.store(true, Relaxed);
                let (inserted, recorded) = match store {
                    Store::Postgres { .. } => {
                        let mut qb = QueryBuilder::new("WITH r AS (");
                        push_insert(&mut qb, rows);
                        qb.push(
                            "), c AS (INSERT INTO changes (kind, subject, created_at) \
                             SELECT 'splitters', ",
                        );
                        qb.push_bind(subject.clone())
                            .push(", ")
                            .push_bind(now().timestamp_micros())
                            .push(
                                " WHERE EXISTS (SELECT 1 FROM r) RETURNING version) \
                                 SELECT id, NULL::bigint FROM r UNION ALL SELECT NULL, version FROM c",
                            );
                        let mut ids = Vec::new();
                        let mut recorded = None;
                        for r in qb.build().fetch_all(&mut *$tx).await? {
                            match r.try_get::<Option<String>, _>(0)? {
                                Some(id) => ids.push(id),
                                None => recorded = r.try_get::<Option<i64>, _>(1)?,
                            }
                        }
                        (ids, recorded)
                    }
                    _ => {
                        let mut qb = QueryBuilder::new("");
                        push_insert(&mut qb, rows);
                        (qb.build_query_scalar().fetch_all(&mut *$tx).await?, None)
                    }
                };
                versions.extend(recorded);
                uninserted.retain(|&k| !inserted.contains(&created[k].1.id));
            }
            let created: Vec<(usize, Reservation)> = created
                .into_iter()
                .enumerate()
                .filter(|(k, _)| !refused.contains(k))
                .map(|(_, c)| c)
                .collect();

            // The answers to keep for new keys. One already stored means a concurrent request
            // with the same key got there first: take ours back and answer as it was answered.
            let keyed: Vec<(usize, KeyOf, String)> = created
                .iter()
                .enumerate()
                .filter_map(|(k, (i, _))| key_of(&holds[*i]).map(|(key, hash)| (k, key, hash)))
                .collect();
            let mut lost: Vec<usize> = Vec::new();
            if !keyed.is_empty() {
                let mut qb = QueryBuilder::new(
                    "INSERT INTO idempotency_keys (sub, key, request_hmac, status, reservation_id, created_at) ",
                );
                qb.push_values(&keyed, |mut b, (k, (sub, key), hash)| {
                    b.push_bind(sub.clone())
                        .push_bind(key.clone())
                        .push_bind(hash.clone())
                        .push("201")
                        .push_bind(created[*k].1.id.clone())
                        .push_bind(created[*k].1.created_at.timestamp_micros());
                });
                qb.push(" ON CONFLICT (sub, key) DO NOTHING RETURNING sub, key");
                let mut stored: Vec<KeyOf> = Vec::new();
                for r in qb.build().fetch_all(&mut *$tx).await? {
                    stored.push((r.try_get(0)?, r.try_get(1)?));
                }
                for (k, key, hash) in &keyed {
                    if stored.contains(key) {
                        answers.insert(key.clone(), (hash.clone(), 201, created[*k].1.id.clone()));
                        continue;
                    }
                    sqlx::query("DELETE FROM reservations WHERE id = $1")
                        .bind(created[*k].1.id.clone())
                        .execute(&mut *$tx)
                        .await?;
                    let r = sqlx::query(IDEMPOTENCY_ANSWER)
                        .bind(key.0.clone())
                        .bind(key.1.clone())
                        .fetch_one(&mut *$tx)
                        .await?;
                    let first: StoredAnswer = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
                    outcomes[created[*k].0] = Some(stored_answer(&first.0, hash, first.1, &first.2));
                    answers.insert(key.clone(), first);
                    lost.push(*k);
                }
            }
            for (i, key, hash) in same_key_as {
                // No answer kept: the first hold with this key found no free port after all.
                outcomes[i] = Some(match answers.get(&key) {
                    Some((stored, status, id)) => stored_answer(stored, &hash, *status, id),
                    None => HoldOutcome::NoFreePort,
                });
            }
            let mut held: Vec<String> = Vec::new();
            for (k, (i, r)) in created.into_iter().enumerate() {
                if lost.contains(&k) {
                    // Taken back: its port is free again.
                    if let Some(s) = splitters
                        .get_mut(&r.box_id)
                        .and_then(|of_box| of_box.iter_mut().find(|s| s.id == r.splitter_id))
                    {
                        s.held.retain(|&p| p != r.port);
                    }
                } else {
                    held.push(r.splitter_id.clone());
                    outcomes[i] = Some(HoldOutcome::Created(Box::new(r)));
                }
            }
            // What these splitters have as of the commit, but for what other replicas (on
            // PostgreSQL) or cancellations commit meanwhile: their refreshes wait for this
            // lane's refresh locks and land after it.
            let projects: HashMap<&str, &str> =
                holds.iter().map(|h| (h.box_id.as_str(), h.project.as_str())).collect();
            let free: Vec<(SplitterRef, u32)> = splitters
                .into_iter()
                .flat_map(|(box_id, of_box)| {
                    let project = projects.get(box_id.as_str()).copied().unwrap_or_default();
                    of_box.into_iter().map(move |s| {
                        let at = SplitterRef {
                            project: project.to_owned(),
                            box_id: box_id.clone(),
                            splitter_id: s.id,
                        };
                        (at, free_ports(s.ports, s.used, s.held.len() as u32))
                    })
                })
                .collect();
            if versions.is_empty() && !held.is_empty() {
                versions.push(record_change!(store, $tx, "splitters", subject));
            }
            if let Err(e) = $tx.commit().await {
                // The commit may have happened all the same: these holds are answered as
                // failed, so they must not stand.
                let ids = outcomes.iter().filter_map(|o| match o {
                    Some(HoldOutcome::Created(r)) => Some(r.id.clone()),
                    _ => None,
                });
                in_doubt.lock().expect("not poisoned").extend(ids);
                return Err(e.into());
            }
            if !versions.is_empty() {
                store.announce_changes();
            }
            let outcomes = outcomes
                .into_iter()
                .map(|o| o.expect("every hold has an outcome"))
                .collect();
            Ok(HeldBatch { outcomes, versions, free })
            }};
        }
        match writer::begin(store, &mut self.conn).await? {
            WriteTx::Sqlite(mut tx) => in_transaction!(tx),
            WriteTx::Postgres(mut tx) => in_transaction!(tx),
        }
    }
}

impl Store {
    /// Releases holds whose creation was answered as an error though its commit may have
    /// happened: each pending one is deleted with its idempotency key, as if never made
    /// (its caller was told it failed). Returns the splitters whose ports were freed.
    pub async fn release_in_doubt(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let mut read = in_list(
                "SELECT splitter_id FROM reservations WHERE status = 'pending' AND id IN",
                ids,
            );
            let mut freed: Vec<String> = read.build_query_scalar().fetch_all(&mut *tx).await?;
            freed.sort();
            freed.dedup();
            in_list("DELETE FROM idempotency_keys WHERE reservation_id IN", ids)
                .build()
                .execute(&mut *tx)
                .await?;
            let mut delete = in_list("DELETE FROM reservations WHERE id IN", ids);
            delete.push(" AND status = 'pending'");
            delete.build().execute(&mut *tx).await?;
            if !freed.is_empty() {
                record_change!(
                    self,
                    tx,
                    "splitters",
                    splitters_subject(freed.iter().map(String::as_str))
                );
            }
            self.commit_write(tx, !freed.is_empty()).await?;
            Ok(freed)
        })
    }

    /// The stored answer to an `Idempotency-Key` of `sub`: a replay when `hash` matches the
    /// first request's, `KeyReused` when not; `None` for a new key.
    pub async fn idempotent_answer(
        &self,
        sub: &str,
        key: &str,
        hash: &str,
    ) -> Result<Option<HoldOutcome>, StoreError> {
        let row = on_pool!(self, read, |p| {
            sqlx::query(IDEMPOTENCY_ANSWER)
                .bind(sub.to_owned())
                .bind(key.to_owned())
                .fetch_optional(p)
                .await?
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<i64, _>(1)?,
                        r.try_get::<String, _>(2)?,
                    ))
                })
                .transpose()
        })?;
        Ok(row.map(|(stored, status, id)| stored_answer(&stored, hash, status, &id)))
    }

    /// A reservation by id, or by code when `code` is true.
    pub async fn reservation(&self, key: &str, code: bool) -> Result<Reservation, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reservations WHERE {} = $1",
            if code { "code" } else { "id" }
        );
        let row: ReservationRow = on_pool!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key.to_owned())
                .fetch_optional(p)
                .await
        })?
        .ok_or(StoreError::NotFound)?;
        row.into_reservation()
    }

    /// Reservations matching `filter` in projects `scope` allows, newest first.
    pub async fn reservations(
        &self,
        filter: &ReservationFilter,
        scope: &ProjectScope,
        limit: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        if let ProjectScope::Only(set) = scope
            && set.is_empty()
        {
            return Ok(Vec::new());
        }
        let rows: Vec<ReservationRow> = on_pool!(self, read, |p| {
            let mut qb =
                QueryBuilder::new(format!("SELECT {COLUMNS} FROM reservations WHERE 1 = 1"));
            if let Some(s) = filter.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
            for (column, value) in [
                ("project", &filter.project),
                ("box_id", &filter.box_id),
                ("code", &filter.code),
                ("external_ref", &filter.external_ref),
            ] {
                if let Some(v) = value {
                    qb.push(format!(" AND {column} = ")).push_bind(v.clone());
                }
            }
            if let Some(t) = filter.created_from {
                qb.push(" AND created_at >= ")
                    .push_bind(t.timestamp_micros());
            }
            if let Some(t) = filter.created_to {
                qb.push(" AND created_at <= ")
                    .push_bind(t.timestamp_micros());
            }
            match filter.inventory_confirmed {
                Some(true) => qb.push(" AND inventory_confirmed_at IS NOT NULL"),
                Some(false) => qb.push(" AND inventory_confirmed_at IS NULL"),
                None => &mut qb,
            };
            push_project_scope(&mut qb, scope);
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
        rows.into_iter()
            .map(ReservationRow::into_reservation)
            .collect()
    }

    /// Applies a transition. An overdue pending reservation is expired first (and the
    /// transition then refused). `creator`: only a reservation made by this `sub` may move.
    pub async fn transition(
        &self,
        id: &str,
        t: Transition,
        creator: Option<&str>,
    ) -> Result<(Reservation, Option<SplitterRef>), TransitionError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reservations WHERE id = $1{}",
            self.lock_suffix()
        );
        let at = now();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            let row: ReservationRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from)?
                .ok_or(StoreError::NotFound)?;
            let mut r = row.into_reservation()?;
            if creator.is_some_and(|sub| sub != r.created_by) {
                return Err(TransitionError::NotCreator);
            }
            let overdue = r.status == Status::Pending && r.expires_at.is_some_and(|e| e <= at);
            if overdue {
                expire_one!(tx, r.id.as_str(), at)?;
                record_change!(
                    self,
                    tx,
                    "splitters",
                    splitters_subject([r.splitter_id.as_str()])
                );
                self.commit_write(tx, true)
                    .await
                    .map_err(StoreError::from)?;
                return Err(TransitionError::Invalid {
                    action: t.as_str(),
                    from: "expired",
                    freed: Some(r.splitter_ref()),
                });
            }
            let Some(next) = t.apply(r.status) else {
                return Err(TransitionError::Invalid {
                    action: t.as_str(),
                    from: r.status.as_str(),
                    freed: None,
                });
            };
            if next == r.status {
                return Ok((r, None));
            }
            let at_us = at.timestamp_micros();
            match next {
                Status::Confirmed => {
                    sqlx::query("UPDATE reservations SET status = 'confirmed', confirmed_at = $1, expires_at = NULL WHERE id = $2")
                        .bind(at_us)
                        .bind(r.id.clone())
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from)?;
                    r.confirmed_at = Some(at);
                    r.expires_at = None;
                }
                // An installed reservation keeps its port occupied until an import shows
                // the port used (see `domain::ports`): the splitter is left as it is.
                Status::Cancelled | Status::Installed => {
                    sqlx::query(
                        "UPDATE reservations SET status = $1, closed_at = $2 WHERE id = $3",
                    )
                    .bind(next.as_str())
                    .bind(at_us)
                    .bind(r.id.clone())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                    r.closed_at = Some(at);
                }
                Status::Pending | Status::Expired => unreachable!("no transition leads here"),
            }
            let freed = !next.occupies(false);
            if freed {
                record_change!(
                    self,
                    tx,
                    "splitters",
                    splitters_subject([r.splitter_id.as_str()])
                );
            }
            self.commit_write(tx, freed)
                .await
                .map_err(StoreError::from)?;
            r.status = next;
            let changed = r.splitter_ref();
            Ok((r, Some(changed)))
        })
    }

    /// Expires up to `batch` overdue pending reservations (erasing their personal data);
    /// returns the splitters whose ports were freed.
    pub async fn expire_due(&self, batch: usize) -> Result<Vec<SplitterRef>, StoreError> {
        let at = now();
        let skip_locked = if matches!(self, Store::Postgres { .. }) {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "SELECT id, project, box_id, splitter_id FROM reservations \
             WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2{skip_locked}"
        );
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            // One replica at a time runs the job (SQLite has one writer anyway).
            if let Some(channel) = self.notify_channel() {
                let mine: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
                        .bind(channel.to_owned())
                        .fetch_one(&mut *tx)
                        .await?;
                if !mine {
                    return Ok(Vec::new());
                }
            }
            let due = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(at.timestamp_micros())
                .bind(batch as i64)
                .fetch_all(&mut *tx)
                .await?;
            let mut freed = Vec::with_capacity(due.len());
            for r in due {
                let id: String = r.try_get(0)?;
                expire_one!(tx, id, at)?;
                freed.push(SplitterRef {
                    project: r.try_get(1)?,
                    box_id: r.try_get(2)?,
                    splitter_id: r.try_get(3)?,
                });
            }
            if !freed.is_empty() {
                let ids = freed.iter().map(|f| f.splitter_id.as_str());
                record_change!(self, tx, "splitters", splitters_subject(ids));
            }
            self.commit_write(tx, !freed.is_empty()).await?;
            Ok(freed)
        })
    }

    /// Forgets idempotency keys older than `before`.
    pub async fn prune_idempotency_keys(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, write, |p| {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(before.timestamp_micros())
                .execute(p)
                .await?
                .rows_affected()
        }))
    }

    /// The free ports of these attendance splitters now, with their boxes and projects
    /// (unknown ids are left out).
    pub async fn splitters_free(
        &self,
        splitter_ids: &[String],
    ) -> Result<Vec<(SplitterRef, u32)>, StoreError> {
        let rows = on_pool!(self, read, |p| {
            let mut qb = in_list(
                &format!(
                    "SELECT b.project, s.box_id, s.id, s.ports, s.used, \
                       (SELECT COUNT(*) FROM reservations r WHERE r.splitter_id = s.id AND {}) \
                     FROM splitters s JOIN boxes b ON b.id = s.box_id WHERE s.kind = 'attendance' AND s.id IN",
                    occupying("r.")
                ),
                splitter_ids,
            );
            qb.build()
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| -> Result<_, sqlx::Error> {
                    let free = free_ports(
                        u32::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                        u32::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                        u32::try_from(r.try_get::<i64, _>(5)?).unwrap_or(0),
                    );
                    let at = SplitterRef {
                        project: r.try_get(0)?,
                        box_id: r.try_get(1)?,
                        splitter_id: r.try_get(2)?,
                    };
                    Ok((at, free))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(rows)
    }

    /// Row-lock suffix for reads that precede a write in the same transaction (SQLite's
    /// `BEGIN IMMEDIATE` already holds the only write lock).
    fn lock_suffix(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "",
            Store::Postgres { .. } => " FOR UPDATE",
        }
    }
}

/// A stored idempotent answer, for a request whose body hashes to `hash`.
fn stored_answer(stored_hash: &str, hash: &str, status: i64, reservation_id: &str) -> HoldOutcome {
    if stored_hash == hash {
        HoldOutcome::Replay {
            status: u16::try_from(status).unwrap_or(201),
            reservation_id: reservation_id.to_owned(),
        }
    } else {
        HoldOutcome::KeyReused
    }
}

/// The pending reservation a hold creates (its code is drawn at insert time).
fn new_reservation(new: &NewHold, splitter_id: String, port: u32) -> Reservation {
    let created_at = now();
    Reservation {
        id: uuid::Uuid::now_v7().to_string(),
        code: String::new(),
        status: Status::Pending,
        project: new.project.clone(),
        box_id: new.box_id.clone(),
        splitter_id,
        port,
        distance_m: new.distance_m,
        plan_id: new.plan_id.clone(),
        tags: new.tags.clone(),
        location: new.location,
        address: Some(new.address.clone()),
        customer: Some(new.customer.clone()),
        external_ref: new.external_ref.clone(),
        created_by: new.created_by.clone(),
        created_at,
        expires_at: Some(created_at + chrono::Duration::seconds(new.ttl_s)),
        confirmed_at: None,
        closed_at: None,
        port_moves: Vec::new(),
        inventory_confirmed_at: None,
    }
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

#[cfg(test)]
mod tests {
    use super::super::writer::LANE_SETUP;
    use super::*;
    use sqlx::{Connection, PgConnection, Row};

    /// The plan PostgreSQL keeps for the lanes' read when it made it before any reservation
    /// existed (a new database) still reads one splitter's holds through the unique index
    /// once there are thousands, instead of scanning them all.
    #[tokio::test]
    async fn the_lanes_read_keeps_to_the_index_whatever_the_statistics() {
        let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "TEST_DATABASE_URL must be set in CI"
            );
            return;
        };
        let schema = format!("lane_plan_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&base).await.unwrap();
        let run = |sql: String| sqlx::raw_sql(sqlx::AssertSqlSafe(sql));
        run(format!(
            "CREATE SCHEMA {schema}; SET search_path = {schema}"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::migrate!("migrations/postgres")
            .run(&mut conn)
            .await
            .unwrap();
        let read = format!("{} ($1) ORDER BY s.box_id, s.id", *HELD_PORTS_READ_POSTGRES);
        let plan = async |conn: &mut PgConnection| {
            let rows = sqlx::raw_sql("EXPLAIN EXECUTE lane_read('B-7')")
                .fetch_all(conn)
                .await
                .unwrap();
            let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            lines.join("\n")
        };
        run(format!(
            "INSERT INTO boxes (id, project, name, status, lat, lon) \
               SELECT 'B-' || i, 'p', 'n', 'deployed', 0, 0 FROM generate_series(1, 2000) i; \
             INSERT INTO splitters (id, box_id, kind, ports, used) \
               SELECT 'B-' || i || '-' || k, 'B-' || i, 'attendance', 16, 0 \
               FROM generate_series(1, 2000) i, generate_series(1, 2) k; \
             ANALYZE; \
             {LANE_SETUP}; SET plan_cache_mode = force_generic_plan; \
             PREPARE lane_read(text) AS {read}"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let planned_empty = plan(&mut conn).await;
        run(
            "INSERT INTO reservations (id, code, status, project, box_id, splitter_id, port, \
               distance_m, tags, lat, lon, created_by, created_at) \
             SELECT 'R-' || i, 'C-' || i, 'pending', 'p', 'B-' || (i % 2000 + 1), \
               'B-' || (i % 2000 + 1) || '-1', i / 2000 + 1, 1, '[]', 0, 0, 'test', i \
             FROM generate_series(0, 19999) i"
                .into(),
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let kept = plan(&mut conn).await;
        let held: Vec<(String, String)> = sqlx::raw_sql("EXECUTE lane_read('B-7')")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(1), r.get(5)))
            .collect();
        run(format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(planned_empty, kept, "the generic plan is kept");
        for needed in [
            "Index Only Scan using reservations_one_occupant_per_port",
            "Index Cond: (splitter_id = s.id)",
        ] {
            assert!(kept.contains(needed), "{needed:?} not in the plan:\n{kept}");
        }
        assert!(!kept.contains("Seq Scan"), "a scan in the plan:\n{kept}");
        let first_ten = (1..=10)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            held,
            [
                ("B-7-1".to_owned(), first_ten),
                ("B-7-2".to_owned(), String::new())
            ]
        );
    }
}
