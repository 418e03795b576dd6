//! Boxes with their port accounting and regions, read one by id or a page at a time in id
//! order (the layers of OGC API – Features).

use super::{BoxDetail, SplitterDetail};
use super::{parse_status, stored_region, to_u32};
use crate::domain::feasibility::ProjectScope;
use crate::domain::features::ItemKey;
use crate::domain::network::{Region, SplitterKind, free_ports};
use crate::store::occupying;
use crate::store::{Store, StoreError, on_pool, push_list, push_project_scope, tags_from_text};
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;

/// Which boxes to read.
#[derive(Debug, Clone, Copy)]
pub enum BoxSelection<'a> {
    /// The box of this id, whatever its project.
    One(&'a str),
    /// At most `limit` boxes of `scope` inside `bbox` (when given) after `after`, in id
    /// order.
    Page {
        bbox: Option<[f64; 4]>,
        scope: &'a ProjectScope,
        after: Option<&'a str>,
        limit: usize,
    },
}

/// A region with its project.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRegion {
    pub project: String,
    pub region: Region,
}

/// A box row as read, before its splitters join it.
struct BoxHead {
    id: String,
    project: String,
    name: String,
    status: String,
    lat: f64,
    lon: f64,
    region_tags: String,
}

/// A splitter row as read.
struct SplitterRow {
    box_id: String,
    id: String,
    kind: String,
    ports: i64,
    used: i64,
    used_ports: String,
}

/// ` AND lat … AND lon …`: a lon/lat box, across the antimeridian when `min_lon > max_lon`.
fn push_bbox<DB: sqlx::Database>(
    qb: &mut QueryBuilder<DB>,
    [min_lon, min_lat, max_lon, max_lat]: [f64; 4],
) where
    f64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    qb.push(" AND lat BETWEEN ")
        .push_bind(min_lat)
        .push(" AND ")
        .push_bind(max_lat);
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
}

/// Whether a region meets a lon/lat box (across the antimeridian when `min_lon > max_lon`).
fn meets(region: &Region, [min_lon, min_lat, max_lon, max_lat]: [f64; 4]) -> bool {
    use geo::{Intersects, Rect, coord};
    let rect = |w: f64, e: f64| Rect::new(coord! {x: w, y: min_lat}, coord! {x: e, y: max_lat});
    if min_lon <= max_lon {
        region.area.intersects(&rect(min_lon, max_lon))
    } else {
        region.area.intersects(&rect(min_lon, 180.0))
            || region.area.intersects(&rect(-180.0, max_lon))
    }
}

impl Store {
    /// Boxes with their splitters' port accounting, in id order. One snapshot: the boxes,
    /// their splitters and the reservations on them are read in one transaction.
    pub async fn box_details(&self, which: BoxSelection<'_>) -> Result<Vec<BoxDetail>, StoreError> {
        if let BoxSelection::Page {
            scope: ProjectScope::Only(set),
            ..
        } = which
            && set.is_empty()
        {
            return Ok(Vec::new());
        }
        let postgres = matches!(self, Store::Postgres { .. });
        on_pool!(self, read, |p| {
            let mut tx = p.begin().await?;
            if postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
            }
            let mut qb = QueryBuilder::new(
                "SELECT id, project, name, status, lat, lon, region_tags FROM boxes WHERE ",
            );
            match which {
                BoxSelection::One(id) => {
                    qb.push("id = ").push_bind(id.to_owned());
                }
                BoxSelection::Page {
                    bbox,
                    scope,
                    after,
                    limit,
                } => {
                    qb.push("1 = 1");
                    if let Some(after) = after {
                        qb.push(" AND id > ").push_bind(after.to_owned());
                    }
                    if let Some(bbox) = bbox {
                        push_bbox(&mut qb, bbox);
                    }
                    push_project_scope(&mut qb, scope);
                    qb.push(" ORDER BY id LIMIT ").push_bind(limit as i64);
                }
            }
            let heads = qb
                .build()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| {
                    Ok(BoxHead {
                        id: r.try_get(0)?,
                        project: r.try_get(1)?,
                        name: r.try_get(2)?,
                        status: r.try_get(3)?,
                        lat: r.try_get(4)?,
                        lon: r.try_get(5)?,
                        region_tags: r.try_get(6)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            if heads.is_empty() {
                return Ok(Vec::new());
            }
            let ids = || heads.iter().map(|b| b.id.clone());
            let mut qb = QueryBuilder::new(
                "SELECT box_id, id, kind, ports, used, used_ports FROM splitters WHERE box_id IN",
            );
            push_list(&mut qb, ids());
            qb.push(" ORDER BY box_id, id");
            let splitters = qb
                .build()
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| {
                    Ok(SplitterRow {
                        box_id: r.try_get(0)?,
                        id: r.try_get(1)?,
                        kind: r.try_get(2)?,
                        ports: r.try_get(3)?,
                        used: r.try_get(4)?,
                        used_ports: r.try_get(5)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let mut qb = QueryBuilder::new(format!(
                "SELECT splitter_id, port, status FROM reservations WHERE {} AND box_id IN",
                occupying("")
            ));
            push_list(&mut qb, ids());
            qb.push(" ORDER BY port");
            let mut occupied: HashMap<String, (Vec<u32>, Vec<u32>)> = HashMap::new();
            for r in qb.build().fetch_all(&mut *tx).await? {
                let (held, installed) = occupied.entry(r.try_get(0)?).or_default();
                let port = to_u32(r.try_get(1)?);
                if r.try_get::<&str, _>(2)? == "installed" {
                    installed.push(port);
                } else {
                    held.push(port);
                }
            }
            tx.commit().await?;
            assemble(heads, splitters, occupied)
        })
    }

    /// At most `limit` regions of `scope` meeting `bbox` (when given) after `after`, in
    /// (project, id) order. Regions are few: the bbox is checked here, on their polygons.
    pub async fn regions_page(
        &self,
        bbox: Option<[f64; 4]>,
        scope: &ProjectScope,
        after: Option<&ItemKey>,
        limit: usize,
    ) -> Result<Vec<StoredRegion>, StoreError> {
        if let ProjectScope::Only(set) = scope
            && set.is_empty()
        {
            return Ok(Vec::new());
        }
        let rows = on_pool!(self, read, |p| {
            let mut qb = QueryBuilder::new(
                "SELECT project, id, name, tags, geometry FROM regions WHERE 1 = 1",
            );
            if let Some(after) = after {
                qb.push(" AND (project > ")
                    .push_bind(after.project.clone())
                    .push(" OR (project = ")
                    .push_bind(after.project.clone())
                    .push(" AND id > ")
                    .push_bind(after.id.clone())
                    .push("))");
            }
            push_project_scope(&mut qb, scope);
            qb.push(" ORDER BY project, id");
            if bbox.is_none() {
                qb.push(" LIMIT ").push_bind(limit as i64);
            }
            qb.build()
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<String, _>(1)?,
                        r.try_get::<String, _>(2)?,
                        r.try_get::<String, _>(3)?,
                        r.try_get::<String, _>(4)?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        let mut out = Vec::new();
        for (project, id, name, tags, geometry) in rows {
            let region = stored_region(id, name, tags, geometry)?;
            if bbox.is_none_or(|b| meets(&region, b)) {
                out.push(StoredRegion { project, region });
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` of the boxes of `scope`; none without boxes.
    pub async fn boxes_extent(&self, scope: &ProjectScope) -> Result<Option<[f64; 4]>, StoreError> {
        if let ProjectScope::Only(set) = scope
            && set.is_empty()
        {
            return Ok(None);
        }
        let row = on_pool!(self, read, |p| {
            let mut qb = QueryBuilder::new(
                "SELECT MIN(lon), MIN(lat), MAX(lon), MAX(lat) FROM boxes WHERE 1 = 1",
            );
            push_project_scope(&mut qb, scope);
            let r = qb.build().fetch_one(p).await?;
            Ok::<_, sqlx::Error>([r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?])
        })?;
        let [w, s, e, n]: [Option<f64>; 4] = row;
        Ok(w.zip(s).zip(e.zip(n)).map(|((w, s), (e, n))| [w, s, e, n]))
    }

    /// `[min_lon, min_lat, max_lon, max_lat]` of the regions of `scope`; none without
    /// regions.
    pub async fn regions_extent(
        &self,
        scope: &ProjectScope,
    ) -> Result<Option<[f64; 4]>, StoreError> {
        use geo::BoundingRect;
        if let ProjectScope::Only(set) = scope
            && set.is_empty()
        {
            return Ok(None);
        }
        let rows = on_pool!(self, read, |p| {
            let mut qb =
                QueryBuilder::new("SELECT id, name, tags, geometry FROM regions WHERE 1 = 1");
            push_project_scope(&mut qb, scope);
            qb.build()
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                    ))
                })
                .collect::<Result<Vec<(String, String, String, String)>, _>>()
        })?;
        let mut extent: Option<[f64; 4]> = None;
        for (id, name, tags, geometry) in rows {
            let Some(r) = stored_region(id, name, tags, geometry)?
                .area
                .bounding_rect()
            else {
                continue;
            };
            let [w, s, e, n] = extent.unwrap_or([f64::MAX, f64::MAX, f64::MIN, f64::MIN]);
            extent = Some([
                w.min(r.min().x),
                s.min(r.min().y),
                e.max(r.max().x),
                n.max(r.max().y),
            ]);
        }
        Ok(extent)
    }

    /// One region of a project.
    pub async fn region(&self, project: &str, id: &str) -> Result<StoredRegion, StoreError> {
        let row = on_pool!(self, read, |p| {
            sqlx::query("SELECT name, tags, geometry FROM regions WHERE project = $1 AND id = $2")
                .bind(project.to_owned())
                .bind(id.to_owned())
                .fetch_optional(p)
                .await?
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<String, _>(1)?,
                        r.try_get::<String, _>(2)?,
                    ))
                })
                .transpose()
        })?;
        let (name, tags, geometry) = row.ok_or(StoreError::NotFound)?;
        Ok(StoredRegion {
            project: project.to_owned(),
            region: stored_region(id.to_owned(), name, tags, geometry)?,
        })
    }
}

/// Boxes with their splitters (both in id order) and each splitter's held and installed
/// ports.
fn assemble(
    heads: Vec<BoxHead>,
    splitters: Vec<SplitterRow>,
    mut occupied: HashMap<String, (Vec<u32>, Vec<u32>)>,
) -> Result<Vec<BoxDetail>, StoreError> {
    let mut by_box: HashMap<String, Vec<SplitterDetail>> = HashMap::new();
    for s in splitters {
        let (ports, used) = (to_u32(s.ports), to_u32(s.used));
        let (held_ports, installed_ports) = occupied.remove(&s.id).unwrap_or_default();
        let kind = SplitterKind::parse(&s.kind).ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("stored splitter kind {:?}", s.kind))
        })?;
        by_box.entry(s.box_id).or_default().push(SplitterDetail {
            kind,
            ports,
            used,
            used_ports: s
                .used_ports
                .split(',')
                .filter_map(|n| n.parse().ok())
                .collect(),
            holds: held_ports.len() as u32,
            free: free_ports(
                ports,
                used,
                (held_ports.len() + installed_ports.len()) as u32,
            ),
            held_ports,
            installed_ports,
            id: s.id,
        });
    }
    heads
        .into_iter()
        .map(|b| {
            let splitters = by_box.remove(&b.id).unwrap_or_default();
            Ok(BoxDetail {
                free_ports: splitters
                    .iter()
                    .filter(|s| s.kind == SplitterKind::Attendance)
                    .map(|s| s.free)
                    .sum(),
                status: parse_status(&b.status)?,
                region_tags: tags_from_text(&b.region_tags)?,
                id: b.id,
                project: b.project,
                name: b.name,
                lat: b.lat,
                lon: b.lon,
                splitters,
            })
        })
        .collect()
}
