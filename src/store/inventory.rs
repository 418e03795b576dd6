//! Boxes, splitters and regions: imports, the index load, and read-outs.

use super::changes::change_row;
use super::events::{EVENTS_PER_INSERT, NewEvent, event_row, events_insert};
use super::reservations::ReservationRow;
use super::{
    BeginWrite, Store, StoreError, in_list, occupying, on_pool, push_project_scope, tags_from_text,
    tags_to_text,
};
use crate::domain::Coord;
use crate::domain::feasibility::ProjectScope;
use crate::domain::import::{ImportBatch, ImportMode};
use crate::domain::network::{BoxStatus, Region, SplitterKind, free_ports};
use crate::domain::network::{NetBox, Splitter};
use crate::domain::ports::{Occupant, PortMove, PortRef, SplitterAfter, reconcile};
use crate::domain::region_geometry::{area_to_geojson, parse_area};
use crate::domain::reservation::Reservation;
use crate::domain::validation::Invalid;
use serde::Serialize;
use serde_json::json;
use sqlx::{QueryBuilder, Row};
use std::collections::{BTreeMap, HashMap, HashSet};

mod bulk;
mod pages;

pub use pages::{BoxSelection, StoredRegion};

use bulk::{BoxRow, BulkSql, RegionTags, SplitterRow};

/// Rows per multi-row statement of the few rows an import writes one by one (regions,
/// confirmed installs): well under both engines' parameter limits.
const BATCH: usize = 500;

/// SQLite's page cache while an import writes, KiB.
const SQLITE_IMPORT_CACHE_KIB: i64 = 64 * 1024;

/// The advisory lock that runs imports of one database (schema) one at a time.
fn imports_lock_key(channel: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("imports:{channel}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes"))
}

/// Added / updated / deleted counts of one kind of feature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// A hold an import moved to another port of its box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MovedHold {
    pub id: String,
    pub code: String,
    pub from: PortRef,
    pub to: PortRef,
}

/// A reservation occupying a port of a box an import changes.
struct StoredOccupant {
    id: String,
    code: String,
    splitter_id: String,
    port: u32,
    installed: bool,
    port_moves: String,
}

fn splitter_after(s: &Splitter) -> SplitterAfter<'_> {
    SplitterAfter {
        id: &s.id,
        attendance: s.kind == SplitterKind::Attendance,
        ports: s.ports.total(),
        used: s.ports.used(),
    }
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub boxes: Counts,
    pub regions: Counts,
    /// Holds moved to another port because the import took theirs.
    pub moved: Vec<MovedHold>,
    /// The change-log version of the import.
    #[serde(skip)]
    pub version: i64,
}

/// A splitter with its port accounting.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SplitterDetail {
    pub id: String,
    pub kind: SplitterKind,
    pub ports: u32,
    pub used: u32,
    pub used_ports: Vec<u32>,
    /// Ports held by pending or confirmed reservations.
    pub held_ports: Vec<u32>,
    /// Ports of installs the inventory does not show used yet.
    pub installed_ports: Vec<u32>,
    /// How many ports are held (`held_ports`' length).
    pub holds: u32,
    /// Ports neither used, held nor installed.
    pub free: u32,
}

/// A box with its splitters, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BoxDetail {
    pub id: String,
    pub project: String,
    pub name: String,
    pub status: BoxStatus,
    pub lat: f64,
    pub lon: f64,
    pub region_tags: Vec<String>,
    /// Free ports of the attendance splitters.
    pub free_ports: u32,
    pub splitters: Vec<SplitterDetail>,
}

/// A box and its free attendance ports (for map views).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BoxSummary {
    pub id: String,
    pub project: String,
    pub name: String,
    pub status: BoxStatus,
    pub lat: f64,
    pub lon: f64,
    pub free_ports: u32,
}

fn parse_status(s: &str) -> Result<BoxStatus, StoreError> {
    BoxStatus::parse(s)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("stored box status {s:?} is unknown")))
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// Applies an import in one transaction: all of it or, on any error, none of it.
    pub async fn import(
        &self,
        project: &str,
        batch: &ImportBatch,
        mode: ImportMode,
    ) -> Result<ImportOutcome, StoreError> {
        let Store::Sqlite { write, .. } = self else {
            return self.apply_import(project, batch, mode).await;
        };
        // The pool has one connection: these settings are the ones the import's
        // transaction runs with, and they are set back after it.
        //
        // - A page cache for indexes much larger than the default 2 MB (the (lat, lon)
        //   index is written in random order): a million boxes' writes take a seventh less.
        // - No checkpoint in the commit: copying a large import's pages from the log into
        //   the database takes a second or more, during which the commit is already
        //   visible while the caller has not yet learnt its version (the service's change
        //   follower would load the project a second time). The checkpoint runs after.
        let settings = ["cache_size", "wal_autocheckpoint"];
        let mut previous = Vec::new();
        for name in settings {
            let value: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
                .fetch_one(write)
                .await?;
            previous.push((name, value));
        }
        for set in [
            format!("PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}"),
            "PRAGMA wal_autocheckpoint = 0".to_owned(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(set)).execute(write).await?;
        }
        let outcome = self.apply_import(project, batch, mode).await;
        for (name, value) in previous {
            let restore = format!("PRAGMA {name} = {value}");
            if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(restore))
                .execute(write)
                .await
            {
                tracing::warn!(error = %e, setting = name, "cannot set a setting back after an import");
            }
        }
        if outcome.is_ok() {
            let write = write.clone();
            tokio::spawn(async move {
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&write)
                    .await
                {
                    tracing::warn!(error = %e, "checkpoint after an import failed; the next commit retries");
                }
            });
        }
        outcome
    }

    async fn apply_import(
        &self,
        project: &str,
        batch: &ImportBatch,
        mode: ImportMode,
    ) -> Result<ImportOutcome, StoreError> {
        let started = std::time::Instant::now();
        let file_box_ids: Vec<&str> = batch.boxes.iter().map(|(_, b)| b.id.as_str()).collect();
        let file_splitter_ids: Vec<&str> = batch
            .boxes
            .iter()
            .flat_map(|(_, b)| b.splitters.iter().map(|s| s.id.as_str()))
            .collect();
        on_pool!(self, write, |p| {
            let mut tx = p.begin_write().await?;
            if let Store::Postgres { channel, .. } = self {
                // One import at a time (SQLite's write transaction is that already): what
                // the reads below find absent stays absent until this one commits, so new
                // rows are plain inserts.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(imports_lock_key(channel))
                    .execute(&mut *tx)
                    .await?;
            }

            // Ids the file uses that the store already has, and who owns them.
            let pair = |r: &_| -> Result<(String, String), sqlx::Error> {
                Ok((Row::try_get(r, 0)?, Row::try_get(r, 1)?))
            };
            let box_owner: HashMap<String, String> = tx
                .select_in(
                    "SELECT id, project FROM boxes WHERE",
                    "id",
                    &file_box_ids,
                    "",
                    pair,
                )
                .await?
                .into_iter()
                .collect();
            let splitter_owner: HashMap<String, String> = tx
                .select_in(
                    "SELECT id, box_id FROM splitters WHERE",
                    "id",
                    &file_splitter_ids,
                    "",
                    pair,
                )
                .await?
                .into_iter()
                .collect();
            check_ownership(project, batch, &box_owner, &splitter_owner)?;

            let project_boxes: HashSet<String> =
                sqlx::query("SELECT id FROM boxes WHERE project = $1")
                    .bind(project.to_owned())
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
            // Only the project's stored boxes are looked up in it.
            let in_file: HashSet<&str> = match project_boxes.is_empty() {
                true => HashSet::new(),
                false => file_box_ids.iter().copied().collect(),
            };
            let deleted_boxes: Vec<String> = match mode {
                ImportMode::Replace => project_boxes
                    .iter()
                    .filter(|id| !in_file.contains(id.as_str()))
                    .cloned()
                    .collect(),
                ImportMode::Upsert => Vec::new(),
            };
            let updated_boxes: Vec<String> = file_box_ids
                .iter()
                .filter(|id| box_owner.contains_key(**id))
                .map(|id| (*id).to_owned())
                .collect();
            let updated_ids: Vec<&str> = updated_boxes.iter().map(String::as_str).collect();
            let deleted_ids: Vec<&str> = deleted_boxes.iter().map(String::as_str).collect();

            // Splitters that updated boxes no longer have.
            let mut removed_splitters: Vec<String> = tx
                .select_in(
                    "SELECT id FROM splitters WHERE",
                    "box_id",
                    &updated_ids,
                    "",
                    |r| Row::try_get::<String, _>(r, 0),
                )
                .await?;
            if !removed_splitters.is_empty() {
                let new_splitters: HashSet<&str> = file_splitter_ids.iter().copied().collect();
                removed_splitters.retain(|id| !new_splitters.contains(id.as_str()));
            }

            // Regions: what the project will have once the import is applied.
            let mut regions: BTreeMap<String, Region> = BTreeMap::new();
            let stored =
                sqlx::query("SELECT id, name, tags, geometry FROM regions WHERE project = $1")
                    .bind(project.to_owned())
                    .fetch_all(&mut *tx)
                    .await?;
            for r in stored {
                let region =
                    stored_region(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)?;
                regions.insert(region.id.clone(), region);
            }
            let file_regions: HashSet<&str> =
                batch.regions.iter().map(|(_, r)| r.id.as_str()).collect();
            let mut region_counts = Counts::default();
            for (_, r) in &batch.regions {
                if regions.contains_key(&r.id) {
                    region_counts.updated += 1
                } else {
                    region_counts.added += 1
                }
            }
            let deleted_regions: Vec<String> = match mode {
                ImportMode::Replace => regions
                    .keys()
                    .filter(|id| !file_regions.contains(id.as_str()))
                    .cloned()
                    .collect(),
                ImportMode::Upsert => Vec::new(),
            };
            region_counts.deleted = deleted_regions.len();
            for id in &deleted_regions {
                regions.remove(id);
            }
            for (_, r) in &batch.regions {
                regions.insert(r.id.clone(), r.clone());
            }
            let regions_changed = !batch.regions.is_empty() || !deleted_regions.is_empty();
            let read = started.elapsed();

            // Writes.
            for chunk in deleted_regions.chunks(BATCH) {
                let mut qb = in_list("DELETE FROM regions WHERE id IN", chunk);
                qb.push(" AND project = ").push_bind(project.to_owned());
                qb.build().execute(&mut *tx).await?;
            }
            for chunk in batch.regions.chunks(BATCH) {
                let mut qb =
                    QueryBuilder::new("INSERT INTO regions (project, id, name, tags, geometry) ");
                qb.push_values(chunk, |mut row, (_, r)| {
                    row.push_bind(project.to_owned())
                        .push_bind(r.id.clone())
                        .push_bind(r.name.clone())
                        .push_bind(tags_to_text(&r.tags))
                        .push_bind(area_to_geojson(&r.area).to_string());
                });
                qb.push(" ON CONFLICT (project, id) DO UPDATE SET name = excluded.name, tags = excluded.tags, geometry = excluded.geometry");
                qb.build().execute(&mut *tx).await?;
            }
            tx.execute_in("DELETE FROM splitters WHERE", "box_id", &deleted_ids)
                .await?;
            tx.execute_in("DELETE FROM boxes WHERE", "id", &deleted_ids)
                .await?;
            let removed: Vec<&str> = removed_splitters.iter().map(String::as_str).collect();
            tx.execute_in("DELETE FROM splitters WHERE", "id", &removed)
                .await?;
            // Boxes and splitters the store has are updated, the others inserted: no
            // conflict to look for (the ownership check and the lock above say which is
            // which).
            let mut tags = RegionTags::new(regions.values());
            for existing in [false, true] {
                let boxes: Vec<&NetBox> = batch
                    .boxes
                    .iter()
                    .map(|(_, b)| b)
                    .filter(|b| box_owner.contains_key(&b.id) == existing)
                    .collect();
                for chunk in boxes.chunks(tx.rows_per_statement(BoxRow::COLUMNS)) {
                    let at: Vec<usize> = chunk.iter().map(|b| tags.at(b.location)).collect();
                    let rows: Vec<BoxRow> = chunk
                        .iter()
                        .zip(at)
                        .map(|(b, t)| BoxRow {
                            id: &b.id,
                            name: &b.name,
                            status: b.status.as_str(),
                            lat: b.location.lat(),
                            lon: b.location.lon(),
                            region_tags: tags.text(t),
                        })
                        .collect();
                    tx.write_boxes(project, &rows, existing).await?;
                }
                let mut splitters = batch
                    .boxes
                    .iter()
                    .flat_map(|(_, b)| b.splitters.iter().map(move |s| (b.id.as_str(), s)))
                    .filter(|(_, s)| splitter_owner.contains_key(&s.id) == existing)
                    .map(|(box_id, s)| SplitterRow {
                        id: &s.id,
                        box_id,
                        kind: s.kind.as_str(),
                        ports: &s.ports,
                    });
                let per_statement = tx.rows_per_statement(SplitterRow::COLUMNS);
                loop {
                    let chunk: Vec<SplitterRow> = splitters.by_ref().take(per_statement).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    tx.write_splitters(&chunk, existing).await?;
                }
            }

            // Boxes the file did not mention may now lie in other regions: the project's
            // boxes that neither the file names nor the import deleted.
            if regions_changed {
                let others: Vec<&str> = project_boxes
                    .iter()
                    .map(String::as_str)
                    .filter(|id| !in_file.contains(id))
                    .filter(|_| mode == ImportMode::Upsert)
                    .collect();
                let rows = tx
                    .select_in(
                        "SELECT id, lat, lon, region_tags FROM boxes WHERE",
                        "id",
                        &others,
                        "",
                        |r| {
                            Ok((
                                Row::try_get::<String, _>(r, 0)?,
                                Row::try_get::<f64, _>(r, 1)?,
                                Row::try_get::<f64, _>(r, 2)?,
                                Row::try_get::<String, _>(r, 3)?,
                            ))
                        },
                    )
                    .await?;
                for (id, lat, lon, stored) in rows {
                    let at = Coord::parse(lat, lon).map_err(|e| {
                        StoreError::Other(anyhow::anyhow!(
                            "stored box {id} has a bad position: {e}"
                        ))
                    })?;
                    let t = tags.at(at);
                    if tags.text(t) != stored {
                        sqlx::query("UPDATE boxes SET region_tags = $1 WHERE id = $2")
                            .bind(tags.text(t).to_owned())
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            let written = started.elapsed();
            // Last, so that hold writers wait for the lock only while the holds are counted.
            if let Store::Postgres { channel, .. } = self {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(super::postgres::ports_lock_key(channel))
                    .execute(&mut *tx)
                    .await?;
            }
            let mut reconciled: Vec<&str> = updated_boxes.iter().map(String::as_str).collect();
            reconciled.extend(deleted_boxes.iter().map(String::as_str));
            let occupants_read = format!(
                "SELECT id, code, box_id, splitter_id, port, status, port_moves FROM reservations \
                 WHERE {} AND",
                occupying("")
            );
            let mut occupants: BTreeMap<String, Vec<StoredOccupant>> = BTreeMap::new();
            let rows = tx
                .select_in(
                    &occupants_read,
                    "box_id",
                    &reconciled,
                    " ORDER BY created_at, id",
                    |r| {
                        Ok((
                            Row::try_get::<String, _>(r, 2)?,
                            StoredOccupant {
                                id: Row::try_get(r, 0)?,
                                code: Row::try_get(r, 1)?,
                                splitter_id: Row::try_get(r, 3)?,
                                port: to_u32(Row::try_get(r, 4)?),
                                installed: Row::try_get::<&str, _>(r, 5)? == "installed",
                                port_moves: Row::try_get(r, 6)?,
                            },
                        ))
                    },
                )
                .await?;
            // Each box's rows come in one statement, in the order asked for.
            for (box_id, o) in rows {
                occupants.entry(box_id).or_default().push(o);
            }
            let after: HashMap<&str, &NetBox> = match occupants.is_empty() {
                true => HashMap::new(),
                false => batch
                    .boxes
                    .iter()
                    .map(|(_, b)| (b.id.as_str(), b))
                    .collect(),
            };
            let at = super::now();
            let mut moved = Vec::new();
            let mut confirmed = Vec::new();
            let mut blocked = Vec::new();
            for (box_id, of_box) in &occupants {
                let mut splitters: Vec<SplitterAfter> = after
                    .get(box_id.as_str())
                    .map(|b| b.splitters.iter().map(splitter_after).collect())
                    .unwrap_or_default();
                splitters.sort_by(|a, b| a.id.cmp(b.id));
                let list: Vec<Occupant> = of_box
                    .iter()
                    .map(|o| Occupant {
                        splitter_id: &o.splitter_id,
                        port: o.port,
                        installed: o.installed,
                    })
                    .collect();
                let r = reconcile(&splitters, &list);
                blocked.extend(
                    r.blocked
                        .iter()
                        .map(|&i| json!({"id": of_box[i].id, "code": of_box[i].code})),
                );
                confirmed.extend(r.confirmed.iter().map(|&i| of_box[i].id.clone()));
                for (i, to) in r.moves {
                    moved.push((&of_box[i], to));
                }
            }
            if !blocked.is_empty() {
                return Err(StoreError::PortsHeld {
                    detail: "the import would take ports from reservations that have no other \
                             free port in their box: leave those ports (and installed ones, \
                             until the inventory shows them used) or free others"
                        .into(),
                    reservations: blocked,
                });
            }
            for chunk in confirmed.chunks(BATCH) {
                let mut qb = QueryBuilder::new("UPDATE reservations SET inventory_confirmed_at = ");
                qb.push_bind(at.timestamp_micros()).push(" WHERE id IN");
                super::push_list(&mut qb, chunk.iter().cloned());
                qb.build().execute(&mut *tx).await?;
            }
            let mut moves = Vec::with_capacity(moved.len());
            for (o, to) in moved {
                let from = PortRef {
                    splitter_id: o.splitter_id.clone(),
                    port: o.port,
                };
                let mut history: Vec<PortMove> =
                    serde_json::from_str(&o.port_moves).map_err(|e| {
                        StoreError::Other(anyhow::anyhow!("stored port moves are not JSON: {e}"))
                    })?;
                history.push(PortMove {
                    from: from.clone(),
                    to: to.clone(),
                    at,
                });
                sqlx::query(
                    "UPDATE reservations SET splitter_id = $1, port = $2, port_moves = $3 WHERE id = $4",
                )
                .bind(to.splitter_id.clone())
                .bind(i64::from(to.port))
                .bind(serde_json::to_string(&history).expect("moves serialise"))
                .bind(o.id.clone())
                .execute(&mut *tx)
                .await?;
                moves.push(MovedHold {
                    id: o.id.clone(),
                    code: o.code.clone(),
                    from,
                    to,
                });
            }
            // Told with the import: each moved hold and each install the inventory caught up
            // with, as they are now, and the import's counts.
            let told: Vec<(&'static str, &str)> = moves
                .iter()
                .map(|m| ("reservation.port_moved", m.id.as_str()))
                .chain(
                    confirmed
                        .iter()
                        .map(|id| ("reservation.inventory_confirmed", id.as_str())),
                )
                .collect();
            for chunk in told.chunks(BATCH) {
                let ids: Vec<String> = chunk.iter().map(|(_, id)| (*id).to_owned()).collect();
                let rows: Vec<ReservationRow> = in_list(
                    &format!(
                        "SELECT {} FROM reservations WHERE id IN",
                        super::reservations::COLUMNS
                    ),
                    &ids,
                )
                .build_query_as()
                .fetch_all(&mut *tx)
                .await?;
                let by_id: HashMap<String, Reservation> = rows
                    .into_iter()
                    .map(|row| row.into_reservation().map(|r| (r.id.clone(), r)))
                    .collect::<Result<_, _>>()?;
                let events: Vec<NewEvent> = chunk
                    .iter()
                    .filter_map(|(kind, id)| Some(NewEvent::reservation(kind, by_id.get(*id)?, at)))
                    .collect();
                for part in events.chunks(EVENTS_PER_INSERT) {
                    events_insert(part).build().execute(&mut *tx).await?;
                }
            }
            let counts = json!({
                "project": project,
                "mode": mode,
                "boxes": {"added": file_box_ids.len() - updated_boxes.len(),
                          "updated": updated_boxes.len(), "deleted": deleted_boxes.len()},
                "regions": region_counts,
            });
            event_row(&NewEvent::imported(project, counts, at))
                .execute(&mut *tx)
                .await?;
            let version = change_row("project", project).fetch_one(&mut *tx).await?;
            self.commit_write(tx, true).await?;
            tracing::debug!(
                project,
                boxes = batch.boxes.len(),
                read_ms = read.as_millis() as u64,
                write_ms = (written - read).as_millis() as u64,
                reconcile_ms = (started.elapsed() - written).as_millis() as u64,
                "import stored"
            );
            Ok(ImportOutcome {
                version,
                moved: moves,
                boxes: Counts {
                    added: file_box_ids.len() - updated_boxes.len(),
                    updated: updated_boxes.len(),
                    deleted: deleted_boxes.len(),
                },
                regions: region_counts,
            })
        })
    }

    /// The projects that have boxes.
    pub async fn projects(&self) -> Result<Vec<String>, StoreError> {
        let rows = on_pool!(self, read, |p| {
            sqlx::query("SELECT DISTINCT project FROM boxes ORDER BY project")
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| r.try_get(0))
                .collect::<Result<Vec<String>, _>>()
        })?;
        Ok(rows)
    }

    /// One box with its splitters' port accounting.
    pub async fn box_detail(&self, id: &str) -> Result<BoxDetail, StoreError> {
        self.box_details(BoxSelection::One(id))
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// Boxes inside a lon/lat box (`min_lon > max_lon` crosses the antimeridian), at most
    /// `limit`, in id order.
    pub async fn boxes_in_bbox(
        &self,
        bbox: [f64; 4],
        scope: &ProjectScope,
        limit: usize,
    ) -> Result<Vec<BoxSummary>, StoreError> {
        let [min_lon, min_lat, max_lon, max_lat] = bbox;
        if let ProjectScope::Only(set) = scope
            && set.is_empty()
        {
            return Ok(Vec::new());
        }
        on_pool!(self, read, |p| {
            let mut qb = QueryBuilder::new(format!(
                "SELECT b.id, b.project, b.name, b.status, b.lat, b.lon, s.ports, s.used, \
                    (SELECT COUNT(*) FROM reservations r WHERE r.splitter_id = s.id AND {}) \
                 FROM (SELECT * FROM boxes WHERE lat BETWEEN ",
                occupying("r.")
            ));
            qb.push_bind(min_lat).push(" AND ").push_bind(max_lat);
            if min_lon <= max_lon {
                qb.push(" AND lon BETWEEN ")
                    .push_bind(min_lon)
                    .push(" AND ")
                    .push_bind(max_lon);
            } else {
                qb.push(" AND (lon >= ")
                    .push_bind(min_lon)
                    .push(" OR lon <= ")
                    .push_bind(max_lon)
                    .push(")");
            }
            push_project_scope(&mut qb, scope);
            qb.push(" ORDER BY id LIMIT ").push_bind(limit as i64);
            qb.push(") b LEFT JOIN splitters s ON s.box_id = b.id AND s.kind = 'attendance' ORDER BY b.id");
            let mut out: Vec<BoxSummary> = Vec::new();
            for r in qb.build().fetch_all(p).await? {
                let id: String = r.try_get(0)?;
                if out.last().is_none_or(|b| b.id != id) {
                    out.push(BoxSummary {
                        id,
                        project: r.try_get(1)?,
                        name: r.try_get(2)?,
                        status: parse_status(r.try_get(3)?)?,
                        lat: r.try_get(4)?,
                        lon: r.try_get(5)?,
                        free_ports: 0,
                    });
                }
                if let Some(ports) = r.try_get::<Option<i64>, _>(6)? {
                    let used: i64 = r.try_get(7)?;
                    let holds: i64 = r.try_get(8)?;
                    out.last_mut().expect("pushed above").free_ports +=
                        free_ports(to_u32(ports), to_u32(used), to_u32(holds));
                }
            }
            Ok(out)
        })
    }
}

/// Refuses box ids owned by another project and splitter ids owned by another box.
fn check_ownership(
    project: &str,
    batch: &ImportBatch,
    box_owner: &HashMap<String, String>,
    splitter_owner: &HashMap<String, String>,
) -> Result<(), StoreError> {
    let mut invalid = Invalid::default();
    for (k, (_, b)) in batch.boxes.iter().enumerate() {
        if box_owner.get(&b.id).is_some_and(|p| p != project) {
            invalid.add(
                batch.box_id_field(k),
                "is the id of a box of another project",
            );
        }
        for (j, s) in b.splitters.iter().enumerate() {
            if splitter_owner
                .get(&s.id)
                .is_some_and(|owner| owner != &b.id)
            {
                invalid.add(
                    batch.splitter_id_field(k, j),
                    "is the id of a splitter of another box",
                );
            }
        }
    }
    if invalid.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(invalid))
    }
}

fn stored_region(
    id: String,
    name: String,
    tags: String,
    geometry: String,
) -> Result<Region, StoreError> {
    let value: serde_json::Value = serde_json::from_str(&geometry)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored region {id} geometry: {e}")))?;
    let area = parse_area(&value)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored region {id} geometry: {e}")))?;
    Ok(Region {
        tags: tags_from_text(&tags)?,
        id,
        name,
        area,
    })
}
