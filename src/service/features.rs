//! The inventory as layers (OGC API – Features): pages of boxes and regions in id order,
//! limited to the projects the caller may see.

use super::App;
use crate::domain::feasibility::ProjectScope;
use crate::domain::features::{ItemKey, ItemsQuery, Layer, Page};
use crate::store::{BoxDetail, BoxSelection, StoreError, StoredRegion};

/// A region's feature id: its project and id (region ids are unique only within their
/// project; project ids never hold a `:`).
pub fn region_item_id(project: &str, id: &str) -> String {
    format!("{project}:{id}")
}

impl App {
    /// The lon/lat box of a layer's items that `scope` lets the caller see; none when it
    /// sees no item.
    pub async fn layer_extent(
        &self,
        layer: Layer,
        scope: &ProjectScope,
    ) -> Result<Option<[f64; 4]>, StoreError> {
        match layer {
            Layer::Boxes => self.store.boxes_extent(scope).await,
            Layer::Regions => self.store.regions_extent(scope).await,
        }
    }

    /// A page of boxes; `numberMatched` comes cheap from the index when no bbox is given.
    pub async fn box_items(
        &self,
        q: &ItemsQuery,
        scope: &ProjectScope,
    ) -> Result<(Page<BoxDetail>, Option<usize>), StoreError> {
        let scope = scope.narrow(q.projects.as_deref());
        let rows = self
            .store
            .box_details(BoxSelection::Page {
                bbox: q.bbox,
                scope: &scope,
                after: q.after.as_ref().map(|k| k.id.as_str()),
                limit: q.limit + 1,
            })
            .await?;
        let matched = q.bbox.is_none().then(|| self.boxes_in(&scope));
        let page = Page::cut(rows, q.limit, |b| ItemKey {
            project: b.project.clone(),
            id: b.id.clone(),
        });
        Ok((page, matched))
    }

    /// Boxes the index holds in the projects of `scope`.
    fn boxes_in(&self, scope: &ProjectScope) -> usize {
        match scope {
            ProjectScope::All => self.index.len(),
            ProjectScope::Only(set) => set
                .iter()
                .filter_map(|p| self.index.project(p))
                .map(|p| p.len())
                .sum(),
        }
    }

    /// A page of regions, in (project, id) order.
    pub async fn region_items(
        &self,
        q: &ItemsQuery,
        scope: &ProjectScope,
    ) -> Result<Page<StoredRegion>, StoreError> {
        let scope = scope.narrow(q.projects.as_deref());
        let rows = self
            .store
            .regions_page(q.bbox, &scope, q.after.as_ref(), q.limit + 1)
            .await?;
        Ok(Page::cut(rows, q.limit, |r| ItemKey {
            project: r.project.clone(),
            id: r.region.id.clone(),
        }))
    }

    /// A region by its feature id (`project:id`), if `scope` lets the caller see it.
    pub async fn region_item(
        &self,
        item_id: &str,
        scope: &ProjectScope,
    ) -> Result<StoredRegion, StoreError> {
        let (project, id) = item_id.split_once(':').ok_or(StoreError::NotFound)?;
        if !scope.allows(project) {
            return Err(StoreError::NotFound);
        }
        self.store.region(project, id).await
    }
}
