//! Keeping the index's free ports in step with the store after holds and transitions.
//!
//! A refresh reads what the store says now and writes it into the index. Two refreshes of
//! one splitter must not overlap (the older read could land last), and none may land on a
//! project snapshot that a reload is about to replace. Refreshes of different splitters
//! run side by side: holds on different boxes never wait for each other here.

use crate::index::Index;
use crate::store::{Store, StoreError};
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock};

/// Locks refreshes of one splitter take; splitters share them by hash.
const STRIPES: usize = 64;

#[derive(Debug)]
pub struct Refresher {
    store: Store,
    index: Arc<Index>,
    /// Shared by refreshes, exclusive for reloads of whole projects.
    pub(super) reload: RwLock<()>,
    stripes: Vec<Mutex<()>>,
}

impl Refresher {
    pub fn new(store: Store, index: Arc<Index>) -> Self {
        Self {
            store,
            index,
            reload: RwLock::new(()),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Sets the index's free ports of these splitters to what the store says now, in one
    /// read.
    pub async fn refresh(&self, splitter_ids: &[String]) -> Result<(), StoreError> {
        if splitter_ids.is_empty() {
            return Ok(());
        }
        let _shared = self.reload.read().await;
        // Stripes in ascending order, so that two refreshes never wait for each other in a
        // circle.
        let mut stripes: Vec<usize> = splitter_ids
            .iter()
            .map(|id| super::slot_of(id, STRIPES))
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(self.stripes[s].lock().await);
        }
        for (at, free) in self.store.splitters_free(splitter_ids).await? {
            if let Some(p) = self.index.project(&at.project) {
                p.set_free(&at.box_id, &at.splitter_id, free);
            }
        }
        Ok(())
    }
}
