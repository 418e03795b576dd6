//! Reading a project's boxes and free ports into its index: one ordered query, the same on
//! both engines, fed row by row into a [`ProjectBuilder`].
//!
//! On SQLite the rows are read through rusqlite on a blocking thread: sqlx hands each row
//! from its worker thread to the async task, which for a million rows cost more than the
//! query itself (4.4 s against 0.7 s). On PostgreSQL the rows come through sqlx and the
//! index is built on a blocking thread beside it. Either way the CPU-heavy part (rows to
//! entries, the grouping and the tree) stays off the threads that answer requests. The
//! query is one statement, so it reads one snapshot on either engine.

use super::{Store, StoreError, occupying, tags_from_text};
use crate::domain::Coord;
use crate::domain::network::{BoxStatus, free_ports};
use crate::index::{ProjectBuilder, ProjectIndex};
use futures_util::TryStreamExt;
use sqlx::Row;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::LazyLock;

/// Boxes of project `$1` in id order, each with its attendance splitters (id order) and
/// their live holds; a box without splitters comes once with NULLs.
static SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT b.id, b.name, b.status, b.lat, b.lon, b.region_tags, \
             s.id, s.ports, s.used, COALESCE(h.holds, 0) \
         FROM boxes b \
         LEFT JOIN splitters s ON s.box_id = b.id AND s.kind = 'attendance' \
         LEFT JOIN (SELECT splitter_id, COUNT(*) AS holds FROM reservations \
                    WHERE {} GROUP BY splitter_id) h \
                ON h.splitter_id = s.id \
         WHERE b.project = $1 \
         ORDER BY b.id, s.id",
        occupying("")
    )
});

/// One row of [`SQL`].
struct IndexRow<'a> {
    box_id: &'a str,
    name: &'a str,
    status: &'a str,
    lat: f64,
    lon: f64,
    region_tags: &'a str,
    /// Splitter id, ports, used ports, live holds.
    splitter: Option<(&'a str, i64, i64, i64)>,
}

/// Turns rows into a project index.
struct Feed {
    builder: ProjectBuilder,
    last_box: Option<String>,
    /// Region tags as stored (a JSON array) → parsed: a project has few distinct sets.
    tags: HashMap<String, Vec<String>>,
}

impl Feed {
    fn new(project: &str) -> Self {
        Self {
            builder: ProjectBuilder::new(project),
            last_box: None,
            tags: HashMap::new(),
        }
    }

    fn row(&mut self, r: IndexRow<'_>) -> Result<(), StoreError> {
        if self.last_box.as_deref() != Some(r.box_id) {
            let at = Coord::parse(r.lat, r.lon).map_err(|e| {
                StoreError::Other(anyhow::anyhow!(
                    "stored box {} has a bad position: {e}",
                    r.box_id
                ))
            })?;
            let status = BoxStatus::parse(r.status).ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!(
                    "stored box status {:?} is unknown",
                    r.status
                ))
            })?;
            if !self.tags.contains_key(r.region_tags) {
                let parsed = tags_from_text(r.region_tags)?;
                self.tags.insert(r.region_tags.to_owned(), parsed);
            }
            self.builder
                .push_box(r.box_id, r.name, at, status, &self.tags[r.region_tags]);
            let last = self.last_box.get_or_insert_with(String::new);
            last.clear();
            last.push_str(r.box_id);
        }
        if let Some((id, ports, used, holds)) = r.splitter {
            let count = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
            self.builder
                .push_splitter(id, free_ports(count(ports), count(used), count(holds)));
        }
        Ok(())
    }

    fn finish(self) -> ProjectIndex {
        self.builder.build()
    }
}

/// Reads one project from a SQLite file (blocking: run it off the async threads).
fn load_sqlite(path: &Path, project: &str) -> Result<ProjectIndex, StoreError> {
    use rusqlite::{OpenFlags, params};
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sqlite_error)?;
    let mut statement = conn.prepare(&SQL).map_err(sqlite_error)?;
    let mut rows = statement.query(params![project]).map_err(sqlite_error)?;
    let mut feed = Feed::new(project);
    while let Some(r) = rows.next().map_err(sqlite_error)? {
        let text = |i: usize| -> Result<&str, StoreError> {
            r.get_ref(i)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(sqlite_error)
        };
        let splitter = match r.get_ref(6).map_err(sqlite_error)?.as_str_or_null() {
            Ok(Some(id)) => Some((
                id,
                r.get(7).map_err(sqlite_error)?,
                r.get(8).map_err(sqlite_error)?,
                r.get(9).map_err(sqlite_error)?,
            )),
            Ok(None) => None,
            Err(e) => return Err(sqlite_error(e.into())),
        };
        feed.row(IndexRow {
            box_id: text(0)?,
            name: text(1)?,
            status: text(2)?,
            lat: r.get(3).map_err(sqlite_error)?,
            lon: r.get(4).map_err(sqlite_error)?,
            region_tags: text(5)?,
            splitter,
        })?;
    }
    Ok(feed.finish())
}

/// A rusqlite error as the store reports it: a busy, locked or unreadable database is
/// unavailable (worth retrying), anything else an error.
fn sqlite_error(e: rusqlite::Error) -> StoreError {
    use rusqlite::ffi::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked | C::CannotOpen | C::SystemIoFailure) => {
            StoreError::Unavailable(Box::new(e))
        }
        _ => StoreError::Other(e.into()),
    }
}

/// Rows per [`RowBatch`].
const ROWS_PER_BATCH: usize = 4096;

/// Rows of [`SQL`] on their way from the reading task to the building thread: their text in
/// one buffer (a few allocations a batch, not five a row).
#[derive(Default)]
struct RowBatch {
    text: String,
    rows: Vec<PackedRow>,
}

/// An [`IndexRow`] whose text lies in its [`RowBatch`].
struct PackedRow {
    box_id: Range<usize>,
    name: Range<usize>,
    status: Range<usize>,
    lat: f64,
    lon: f64,
    region_tags: Range<usize>,
    splitter: Option<(Range<usize>, i64, i64, i64)>,
}

impl RowBatch {
    fn text(&mut self, s: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(s);
        start..self.text.len()
    }

    fn push(&mut self, r: IndexRow<'_>) {
        let row = PackedRow {
            box_id: self.text(r.box_id),
            name: self.text(r.name),
            status: self.text(r.status),
            lat: r.lat,
            lon: r.lon,
            region_tags: self.text(r.region_tags),
            splitter: r
                .splitter
                .map(|(id, ports, used, holds)| (self.text(id), ports, used, holds)),
        };
        self.rows.push(row);
    }

    fn rows(&self) -> impl Iterator<Item = IndexRow<'_>> {
        self.rows.iter().map(|r| IndexRow {
            box_id: &self.text[r.box_id.clone()],
            name: &self.text[r.name.clone()],
            status: &self.text[r.status.clone()],
            lat: r.lat,
            lon: r.lon,
            region_tags: &self.text[r.region_tags.clone()],
            splitter: r
                .splitter
                .as_ref()
                .map(|(id, ports, used, holds)| (&self.text[id.clone()], *ports, *used, *holds)),
        })
    }
}

/// Reads one project from PostgreSQL. The rows arrive on this task; the index is fed and
/// built on a blocking thread, so that a large project's seconds of CPU (the build alone is
/// half a second for a million boxes) never hold up the requests this thread serves.
async fn load_postgres(pool: &sqlx::PgPool, project: &str) -> Result<ProjectIndex, StoreError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RowBatch>(4);
    let name = project.to_owned();
    let build = tokio::task::spawn_blocking(move || {
        let mut feed = Feed::new(&name);
        while let Some(batch) = rx.blocking_recv() {
            for r in batch.rows() {
                feed.row(r)?;
            }
        }
        Ok::<_, StoreError>(feed.finish())
    });
    let read = async {
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(project.to_owned())
            .fetch(pool);
        let mut batch = RowBatch::default();
        while let Some(r) = rows.try_next().await? {
            let splitter = match r.try_get::<Option<&str>, _>(6)? {
                Some(id) => Some((id, r.try_get(7)?, r.try_get(8)?, r.try_get(9)?)),
                None => None,
            };
            batch.push(IndexRow {
                box_id: r.try_get(0)?,
                name: r.try_get(1)?,
                status: r.try_get(2)?,
                lat: r.try_get(3)?,
                lon: r.try_get(4)?,
                region_tags: r.try_get(5)?,
                splitter,
            });
            if batch.rows.len() == ROWS_PER_BATCH {
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    // The builder stopped at a bad row: its error is the one to report.
                    return Ok(());
                }
                // Let the other requests of this thread in between batches.
                tokio::task::yield_now().await;
            }
        }
        if !batch.rows.is_empty() {
            let _ = tx.send(batch).await;
        }
        Ok::<_, StoreError>(())
    }
    .await;
    // Closing the channel ends the builder's loop (with what it has, if the read failed).
    drop(tx);
    let built = build.await.map_err(|e| StoreError::Other(e.into()))?;
    read?;
    built
}

impl Store {
    /// Builds the index of one project from the store.
    pub async fn load_project_index(&self, project: &str) -> Result<ProjectIndex, StoreError> {
        match self {
            Store::Sqlite { path, .. } => {
                let (path, project) = (path.clone(), project.to_owned());
                tokio::task::spawn_blocking(move || load_sqlite(&path, &project))
                    .await
                    .map_err(|e| StoreError::Other(e.into()))?
            }
            Store::Postgres { pool, .. } => load_postgres(pool, project).await,
        }
    }

    /// Builds the index of every project.
    pub async fn load_index(&self) -> Result<Vec<ProjectIndex>, StoreError> {
        let mut out = Vec::new();
        for project in self.projects().await? {
            out.push(self.load_project_index(&project).await?);
        }
        Ok(out)
    }
}
