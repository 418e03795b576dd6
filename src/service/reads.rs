//! What callers read: reservations, boxes and readiness, limited to the projects the caller
//! may see (an object outside them does not exist for it).

use super::App;
use crate::domain::feasibility::ProjectScope;
use crate::domain::reservation::{Reservation, looks_like_code};
use crate::store::{BoxDetail, BoxSummary, ReservationFilter, StoreError};

/// Boxes for a map, as parallel lists: the `i`-th box is `ids[i]` at (`lon[i]`, `lat[i]`).
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct MapBoxes {
    pub ids: Vec<String>,
    pub lon: Vec<f64>,
    pub lat: Vec<f64>,
    pub status: Vec<crate::domain::network::BoxStatus>,
    /// Free ports of the box's attendance splitters.
    pub free_ports: Vec<u32>,
    /// Whether `limit` cut the list (more boxes are in the window).
    pub truncated: bool,
}

/// Why the service is not ready to take traffic.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the service is shutting down")]
    Stopping,
    #[error("the index is not loaded yet")]
    IndexLoading,
    #[error("the database does not answer")]
    Database,
}

impl App {
    /// A reservation by id or code (`R-…`), if `scope` lets the caller see it.
    pub async fn reservation(
        &self,
        key: &str,
        scope: &ProjectScope,
    ) -> Result<Reservation, StoreError> {
        let r = self.store.reservation(key, looks_like_code(key)).await?;
        visible(r, |r| &r.project, scope)
    }

    /// Reservations matching `filter` that `scope` lets the caller see, newest first.
    pub async fn reservations(
        &self,
        filter: &ReservationFilter,
        scope: &ProjectScope,
        limit: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        self.store.reservations(filter, scope, limit).await
    }

    /// A box with its port states, if `scope` lets the caller see it.
    pub async fn box_detail(
        &self,
        id: &str,
        scope: &ProjectScope,
    ) -> Result<BoxDetail, StoreError> {
        let b = self.store.box_detail(id).await?;
        visible(b, |b| &b.project, scope)
    }

    /// Boxes inside a lon/lat box, at most `limit`, in id order.
    pub async fn boxes_in_bbox(
        &self,
        bbox: [f64; 4],
        scope: &ProjectScope,
        limit: usize,
    ) -> Result<Vec<BoxSummary>, StoreError> {
        self.store.boxes_in_bbox(bbox, scope, limit).await
    }

    /// The boxes of a map's window from the index, at most `limit`, as columns (a hundred
    /// thousand boxes are a few megabytes of JSON this way, and one request).
    pub fn map_boxes(&self, bbox: [f64; 4], scope: &ProjectScope, limit: usize) -> MapBoxes {
        let mut out = MapBoxes::default();
        self.index.each_in_bbox(bbox, scope, &mut |b| {
            if out.ids.len() == limit {
                out.truncated = true;
                return false;
            }
            out.ids.push(b.id.to_owned());
            out.lon.push(b.lon);
            out.lat.push(b.lat);
            out.status.push(b.status);
            out.free_ports.push(b.free_ports);
            true
        });
        out
    }

    /// Ready to take traffic: not stopping, the index loaded, the database answering.
    /// Returns the boxes in the index.
    pub async fn readiness(&self) -> Result<usize, NotReady> {
        if self.is_stopping() {
            return Err(NotReady::Stopping);
        }
        if !self.index.is_loaded() {
            return Err(NotReady::IndexLoading);
        }
        if self.store.ping().await.is_err() {
            return Err(NotReady::Database);
        }
        Ok(self.index.len())
    }

    /// Sets the gauges a metrics scrape reports (index size and memory, readiness, pool).
    pub fn record_gauges(&self) {
        let (idle, size) = self.store.pool_usage();
        let ready = self.index.is_loaded() && !self.is_stopping();
        crate::metrics::scrape_gauges(
            self.index.len(),
            self.index.memory_bytes(),
            ready,
            idle,
            size,
        );
    }
}

fn visible<T>(
    object: T,
    project: impl Fn(&T) -> &str,
    scope: &ProjectScope,
) -> Result<T, StoreError> {
    if scope.allows(project(&object)) {
        Ok(object)
    } else {
        Err(StoreError::NotFound)
    }
}
