//! The import's bulk reads and writes, which each engine takes best its own way.
//!
//! SQLite binds one parameter per value, at most [`SQLITE_MAX_PARAMS`] a statement: lists
//! and rows go in as many as fit, so a million boxes are a few hundred statements (the
//! statement of a full chunk is prepared once and reused). PostgreSQL takes a whole column
//! as one array parameter (`= ANY($1)`, `UNNEST`): the statement's text is the same
//! whatever the rows, and [`PG_ROWS`] rows keep each one to a few megabytes.

use crate::domain::Coord;
use crate::domain::network::{Ports, Region, region_tags_at};
use crate::store::tags_to_text;
use smallvec::SmallVec;
use sqlx::{AssertSqlSafe, PgConnection, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::HashMap;

/// SQLite's limit of parameters in one statement (`SQLITE_MAX_VARIABLE_NUMBER`).
const SQLITE_MAX_PARAMS: usize = 32_766;
/// Rows (or ids) per PostgreSQL statement.
const PG_ROWS: usize = 10_000;

/// A box as the import writes it.
pub(super) struct BoxRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub status: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// As stored: a JSON array.
    pub region_tags: &'a str,
}

impl BoxRow<'_> {
    /// Values per row (the project is one of them on SQLite).
    pub const COLUMNS: usize = 7;
}

/// A splitter as the import writes it.
pub(super) struct SplitterRow<'a> {
    pub id: &'a str,
    pub box_id: &'a str,
    pub kind: &'static str,
    pub ports: &'a Ports,
}

impl SplitterRow<'_> {
    pub const COLUMNS: usize = 6;
}

/// What an existing box takes from the file.
const BOX_UPDATE: &str = " ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
    status = excluded.status, lat = excluded.lat, lon = excluded.lon, \
    region_tags = excluded.region_tags";
/// What an existing splitter takes from the file.
const SPLITTER_UPDATE: &str = " ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, \
    ports = excluded.ports, used = excluded.used, used_ports = excluded.used_ports";

/// The import's statements over many ids or rows, on one engine's connection.
pub(super) trait BulkSql {
    type Row: sqlx::Row;

    /// Rows of `columns` values that one statement takes.
    fn rows_per_statement(&self, columns: usize) -> usize;

    /// `head column IN (ids) tail`, each row decoded as it arrives, for any number of ids
    /// (none: no statement). `head` ends with `WHERE` or `AND`, and has no parameters.
    fn select_in<T, F>(
        &mut self,
        head: &str,
        column: &str,
        ids: &[&str],
        tail: &str,
        decode: F,
    ) -> impl Future<Output = Result<Vec<T>, sqlx::Error>> + Send
    where
        T: Send,
        F: FnMut(&Self::Row) -> Result<T, sqlx::Error> + Send;

    /// `head column IN (ids)` for a statement that returns nothing (a `DELETE`).
    fn execute_in(
        &mut self,
        head: &str,
        column: &str,
        ids: &[&str],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Inserts boxes of `project`, or updates them when they `exist`.
    fn write_boxes(
        &mut self,
        project: &str,
        rows: &[BoxRow<'_>],
        exist: bool,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Inserts splitters, or updates them when they `exist`.
    fn write_splitters(
        &mut self,
        rows: &[SplitterRow<'_>],
        exist: bool,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// `INSERT` of new rows, `OR FAIL`: a statement that breaks a constraint stops where it is
/// instead of undoing its own rows (the import's transaction is rolled back on any error,
/// so nothing of it stays either way), and so SQLite keeps no statement journal, a copy of
/// every page the statement changes (a fifth of the time of a million boxes). An upsert's
/// `DO UPDATE` always aborts: existing rows keep the journal.
fn insert(exist: bool, into: &str) -> String {
    let verb = if exist { "INSERT" } else { "INSERT OR FAIL" };
    format!("{verb} INTO {into}")
}

/// `head column IN (?, ?, …)`
fn sqlite_in(head: &str, column: &str, ids: &[&str]) -> QueryBuilder<Sqlite> {
    let mut qb = QueryBuilder::new(format!("{head} {column} IN ("));
    let mut list = qb.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    qb.push(")");
    qb
}

impl BulkSql for SqliteConnection {
    type Row = sqlx::sqlite::SqliteRow;

    fn rows_per_statement(&self, columns: usize) -> usize {
        SQLITE_MAX_PARAMS / columns
    }

    async fn select_in<T, F>(
        &mut self,
        head: &str,
        column: &str,
        ids: &[&str],
        tail: &str,
        mut decode: F,
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: Send,
        F: FnMut(&Self::Row) -> Result<T, sqlx::Error> + Send,
    {
        let mut out = Vec::new();
        for chunk in ids.chunks(SQLITE_MAX_PARAMS) {
            let mut qb = sqlite_in(head, column, chunk);
            qb.push(tail);
            for r in qb.build().fetch_all(&mut *self).await? {
                out.push(decode(&r)?);
            }
        }
        Ok(out)
    }

    async fn execute_in(
        &mut self,
        head: &str,
        column: &str,
        ids: &[&str],
    ) -> Result<(), sqlx::Error> {
        for chunk in ids.chunks(SQLITE_MAX_PARAMS) {
            sqlite_in(head, column, chunk)
                .build()
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn write_boxes(
        &mut self,
        project: &str,
        rows: &[BoxRow<'_>],
        exist: bool,
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::new(insert(
            exist,
            "boxes (id, project, name, status, lat, lon, region_tags) ",
        ));
        qb.push_values(rows, |mut row, b| {
            row.push_bind(b.id)
                .push_bind(project)
                .push_bind(b.name)
                .push_bind(b.status)
                .push_bind(b.lat)
                .push_bind(b.lon)
                .push_bind(b.region_tags);
        });
        if exist {
            qb.push(BOX_UPDATE);
        }
        qb.build().execute(&mut *self).await?;
        Ok(())
    }

    async fn write_splitters(
        &mut self,
        rows: &[SplitterRow<'_>],
        exist: bool,
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut qb = QueryBuilder::new(insert(
            exist,
            "splitters (id, box_id, kind, ports, used, used_ports) ",
        ));
        qb.push_values(rows, |mut row, s| {
            row.push_bind(s.id)
                .push_bind(s.box_id)
                .push_bind(s.kind)
                .push_bind(i64::from(s.ports.total()))
                .push_bind(s.ports.used().len() as i64)
                .push_bind(s.ports.used_to_text());
        });
        if exist {
            qb.push(SPLITTER_UPDATE);
        }
        qb.build().execute(&mut *self).await?;
        Ok(())
    }
}

impl BulkSql for PgConnection {
    type Row = sqlx::postgres::PgRow;

    fn rows_per_statement(&self, _columns: usize) -> usize {
        PG_ROWS
    }

    async fn select_in<T, F>(
        &mut self,
        head: &str,
        column: &str,
        ids: &[&str],
        tail: &str,
        mut decode: F,
    ) -> Result<Vec<T>, sqlx::Error>
    where
        T: Send,
        F: FnMut(&Self::Row) -> Result<T, sqlx::Error> + Send,
    {
        let sql = format!("{head} {column} = ANY($1){tail}");
        let mut out = Vec::new();
        for chunk in ids.chunks(PG_ROWS) {
            for r in sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(chunk)
                .fetch_all(&mut *self)
                .await?
            {
                out.push(decode(&r)?);
            }
        }
        Ok(out)
    }

    async fn execute_in(
        &mut self,
        head: &str,
        column: &str,
        ids: &[&str],
    ) -> Result<(), sqlx::Error> {
        let sql = format!("{head} {column} = ANY($1)");
        for chunk in ids.chunks(PG_ROWS) {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(chunk)
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn write_boxes(
        &mut self,
        project: &str,
        rows: &[BoxRow<'_>],
        exist: bool,
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO boxes (id, project, name, status, lat, lon, region_tags) \
             SELECT id, $1, name, status, lat, lon, region_tags FROM UNNEST($2::text[], \
             $3::text[], $4::text[], $5::float8[], $6::float8[], $7::text[]) \
             AS r (id, name, status, lat, lon, region_tags){}",
            if exist { BOX_UPDATE } else { "" }
        );
        let ids: Vec<&str> = rows.iter().map(|b| b.id).collect();
        let names: Vec<&str> = rows.iter().map(|b| b.name).collect();
        let statuses: Vec<&str> = rows.iter().map(|b| b.status).collect();
        let lats: Vec<f64> = rows.iter().map(|b| b.lat).collect();
        let lons: Vec<f64> = rows.iter().map(|b| b.lon).collect();
        let tags: Vec<&str> = rows.iter().map(|b| b.region_tags).collect();
        sqlx::query(AssertSqlSafe(sql))
            .bind(project)
            .bind(ids)
            .bind(names)
            .bind(statuses)
            .bind(lats)
            .bind(lons)
            .bind(tags)
            .execute(&mut *self)
            .await?;
        Ok(())
    }

    async fn write_splitters(
        &mut self,
        rows: &[SplitterRow<'_>],
        exist: bool,
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO splitters (id, box_id, kind, ports, used, used_ports) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], \
             $6::text[]){}",
            if exist { SPLITTER_UPDATE } else { "" }
        );
        let ids: Vec<&str> = rows.iter().map(|s| s.id).collect();
        let box_ids: Vec<&str> = rows.iter().map(|s| s.box_id).collect();
        let kinds: Vec<&str> = rows.iter().map(|s| s.kind).collect();
        let ports: Vec<i64> = rows.iter().map(|s| i64::from(s.ports.total())).collect();
        let used: Vec<i64> = rows.iter().map(|s| s.ports.used().len() as i64).collect();
        let used_ports: Vec<String> = rows.iter().map(|s| s.ports.used_to_text()).collect();
        sqlx::query(AssertSqlSafe(sql))
            .bind(ids)
            .bind(box_ids)
            .bind(kinds)
            .bind(ports)
            .bind(used)
            .bind(used_ports)
            .execute(&mut *self)
            .await?;
        Ok(())
    }
}

/// The region tags of positions, as stored (a JSON array), among a project's regions: the
/// same as [`region_tags_at`], with each region's bounding box tested before its shape and
/// each distinct set of covering regions written out once (a project has few).
pub(super) struct RegionTags<'a> {
    regions: Vec<(geo::Rect<f64>, &'a Region)>,
    texts: Vec<String>,
    by_regions: HashMap<SmallVec<[u32; 8]>, usize>,
}

impl<'a> RegionTags<'a> {
    pub fn new(regions: impl IntoIterator<Item = &'a Region>) -> Self {
        use geo::BoundingRect;
        Self {
            // A region without a shape covers nothing.
            regions: regions
                .into_iter()
                .filter_map(|r| Some((r.area.bounding_rect()?, r)))
                .collect(),
            texts: Vec::new(),
            by_regions: HashMap::new(),
        }
    }

    /// The tags at `at`: an index for [`RegionTags::text`].
    pub fn at(&mut self, at: Coord) -> usize {
        let (x, y) = (at.lon(), at.lat());
        let covering: SmallVec<[u32; 8]> = self
            .regions
            .iter()
            .enumerate()
            .filter(|(_, (rect, region))| {
                let (min, max) = (rect.min(), rect.max());
                min.x <= x && x <= max.x && min.y <= y && y <= max.y && region.covers(at)
            })
            .map(|(i, _)| i as u32)
            .collect();
        if let Some(&i) = self.by_regions.get(&covering) {
            return i;
        }
        let regions = covering.iter().map(|&i| self.regions[i as usize].1);
        self.texts.push(tags_to_text(&region_tags_at(regions, at)));
        self.by_regions.insert(covering, self.texts.len() - 1);
        self.texts.len() - 1
    }

    pub fn text(&self, i: usize) -> &str {
        &self.texts[i]
    }
}
