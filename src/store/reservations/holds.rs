//! Placing holds: one write transaction per batch of a writer lane.

use super::super::changes::change_row;
use super::super::events::{NewEvent, events_insert};
use super::idempotency::{IDEMPOTENCY_ANSWER, stored_answer};
use super::*;
use std::sync::atomic::AtomicBool;

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
        let keys: Vec<KeyOf> = holds
            .iter()
            .filter_map(|h| {
                h.idempotency
                    .as_ref()
                    .map(|(key, _)| (h.created_by.clone(), key.clone()))
            })
            .collect();
        let store = &self.store;
        let wrote = &self.wrote;
        wrote.store(false, Relaxed);
        let written = match writer::begin(store, &mut self.conn).await? {
            WriteTx::Sqlite(mut tx) => {
                let written =
                    write_batch::<sqlx::Sqlite>(store, &mut tx, holds, &keys, wrote).await?;
                (written, tx.commit().await)
            }
            WriteTx::Postgres(mut tx) => {
                let written =
                    write_batch::<sqlx::Postgres>(store, &mut tx, holds, &keys, wrote).await?;
                (written, tx.commit().await)
            }
        };
        let (
            Written {
                outcomes,
                versions,
                free,
            },
            committed,
        ) = written;
        if let Err(e) = committed {
            // The commit may have happened all the same: these holds are answered as
            // failed, so they must not stand.
            let ids = outcomes.iter().filter_map(|o| match o {
                HoldOutcome::Created(r) => Some(r.id.clone()),
                _ => None,
            });
            self.in_doubt.lock().expect("not poisoned").extend(ids);
            return Err(e.into());
        }
        if !versions.is_empty() {
            store.announce_changes();
        }
        Ok(HeldBatch {
            outcomes,
            versions,
            free,
        })
    }
}

/// What a batch wrote, before its commit.
struct Written {
    outcomes: Vec<HoldOutcome>,
    versions: Vec<i64>,
    free: Vec<(SplitterRef, u32)>,
}

/// Places a batch of holds on a write transaction's connection (see
/// [`HoldWriter::hold_many`]); the caller commits.
async fn write_batch<DB: sqlx::Database>(
    store: &Store,
    conn: &mut DB::Connection,
    holds: &[NewHold],
    keys: &[KeyOf],
    wrote: &AtomicBool,
) -> Result<Written, StoreError>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<String>: sqlx::Decode<'r, DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<i64>: sqlx::Decode<'r, DB>,
    for<'q> String: sqlx::Encode<'q, DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let key_of = |h: &NewHold| {
        h.idempotency
            .as_ref()
            .map(|(key, hash)| ((h.created_by.clone(), key.clone()), hash.clone()))
    };
    // Answers already stored for these keys.
    let mut answers: HashMap<KeyOf, StoredAnswer> = HashMap::new();
    if !keys.is_empty() {
        let mut qb = QueryBuilder::new(
            "SELECT sub, key, request_hmac, status, reservation_id FROM idempotency_keys WHERE (sub, key) IN ",
        );
        push_pairs(&mut qb, keys);
        for r in qb.build().fetch_all(&mut *conn).await? {
            answers.insert(
                (r.try_get(0)?, r.try_get(1)?),
                (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?),
            );
        }
    }
    let mut boxes: Vec<String> = holds.iter().map(|h| h.box_id.clone()).collect();
    boxes.sort();
    boxes.dedup();
    // The boxes' attendance splitters, with their occupied ports (ours included).
    let mut splitters = read_splitters::<DB>(store, conn, &boxes).await?;
    // Every splitter a hold of this batch may take: the subject of its change.
    let subject = splitters_subject(splitters.values().flatten().map(|s| s.id.as_str()));

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
            let mut again: Vec<String> = uninserted
                .iter()
                .map(|&k| created[k].1.box_id.clone())
                .collect();
            again.sort();
            again.dedup();
            splitters.extend(read_splitters::<DB>(store, conn, &again).await?);
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
                for r in qb.build().fetch_all(&mut *conn).await? {
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
                (qb.build_query_scalar().fetch_all(&mut *conn).await?, None)
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
        for r in qb.build().fetch_all(&mut *conn).await? {
            stored.push((r.try_get(0)?, r.try_get(1)?));
        }
        for (k, key, hash) in &keyed {
            if stored.contains(key) {
                answers.insert(key.clone(), (hash.clone(), 201, created[*k].1.id.clone()));
                continue;
            }
            sqlx::query("DELETE FROM reservations WHERE id = $1")
                .bind(created[*k].1.id.clone())
                .execute(&mut *conn)
                .await?;
            let r = sqlx::query(IDEMPOTENCY_ANSWER)
                .bind(key.0.clone())
                .bind(key.1.clone())
                .fetch_one(&mut *conn)
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
    let mut events = Vec::new();
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
            events.push(NewEvent::reservation(
                "reservation.created",
                &r,
                r.created_at,
            ));
            outcomes[i] = Some(HoldOutcome::Created(Box::new(r)));
        }
    }
    // One statement for the batch's events (a batch's holds fit in one insert).
    if !events.is_empty() {
        events_insert(&events).build().execute(&mut *conn).await?;
    }
    // What these splitters have as of the commit, but for what other replicas (on
    // PostgreSQL) or cancellations commit meanwhile: their refreshes wait for this
    // lane's refresh locks and land after it.
    let projects: HashMap<&str, &str> = holds
        .iter()
        .map(|h| (h.box_id.as_str(), h.project.as_str()))
        .collect();
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
        versions.push(
            change_row("splitters", &subject)
                .fetch_one(&mut *conn)
                .await?,
        );
    }
    let outcomes = outcomes
        .into_iter()
        .map(|o| o.expect("every hold has an outcome"))
        .collect();
    Ok(Written {
        outcomes,
        versions,
        free,
    })
}

/// The boxes' attendance splitters with their occupied ports.
async fn read_splitters<DB: sqlx::Database>(
    store: &Store,
    conn: &mut DB::Connection,
    boxes: &[String],
) -> Result<HashMap<String, Vec<SplitterPorts>>, StoreError>
where
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<String>: sqlx::Decode<'r, DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<i64>: sqlx::Decode<'r, DB>,
    for<'q> String: sqlx::Encode<'q, DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> f64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let mut read = in_list(held_ports_read(store), boxes);
    read.push(" ORDER BY s.box_id, s.id");
    let mut splitters: HashMap<String, Vec<SplitterPorts>> = HashMap::new();
    for r in read.build().fetch_all(&mut *conn).await? {
        let ports = u32::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0);
        let held: Option<String> = r.try_get(5)?;
        splitters
            .entry(r.try_get(0)?)
            .or_default()
            .push(SplitterPorts {
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
    Ok(splitters)
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
            // As if never made: not told either (unless already delivered).
            let mut events = in_list(
                "DELETE FROM deliveries WHERE status = 'pending' AND event_id IN \
                 (SELECT id FROM events WHERE subject IN",
                ids,
            );
            events.push(")");
            events.build().execute(&mut *tx).await?;
            in_list("DELETE FROM events WHERE subject IN", ids)
                .build()
                .execute(&mut *tx)
                .await?;
            let mut delete = in_list("DELETE FROM reservations WHERE id IN", ids);
            delete.push(" AND status = 'pending'");
            delete.build().execute(&mut *tx).await?;
            if !freed.is_empty() {
                let subject = splitters_subject(freed.iter().map(String::as_str));
                change_row("splitters", &subject)
                    .fetch_one(&mut *tx)
                    .await?;
            }
            self.commit_write(tx, !freed.is_empty()).await?;
            Ok(freed)
        })
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
        updated_at: created_at,
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
