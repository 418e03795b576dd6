//! Keeping the index's free ports in step with the store after holds and transitions.
//!
//! A refresh reads what the store says now and writes it into the index. Two refreshes of
//! one splitter must not overlap (the older read could land last), and none may land on a
//! project snapshot that a reload is about to replace. Refreshes of different splitters
//! run side by side: holds on different boxes never wait for each other here. A hold
//! writer's transaction is itself a refresh: it takes the locks before it reads the ports,
//! and sets the ports it left once it has committed, with no read of its own.

use crate::index::Index;
use crate::store::{SplitterRef, Store, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{Mutex, RwLock};

/// Locks refreshes of one splitter take; splitters share them by hash. Hold writers keep
/// theirs for a whole transaction, so there are enough that two lanes rarely meet.
const STRIPES: usize = 1024;

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
        self.apply(splitter_ids, async {
            Ok(((), self.store.splitters_free(splitter_ids).await?))
        })
        .await
    }

    /// Runs `write` holding the refresh locks of `splitter_ids`, then sets the free ports
    /// it reports for them (others it reports are left alone). `write` must read what it
    /// reports after it starts: that is what keeps refreshes of one splitter in order.
    pub async fn apply<T>(
        &self,
        splitter_ids: &[String],
        write: impl Future<Output = Result<(T, Vec<(SplitterRef, u32)>), StoreError>>,
    ) -> Result<T, StoreError> {
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
        let (value, free) = write.await?;
        let locked: HashSet<&str> = splitter_ids.iter().map(String::as_str).collect();
        for (at, free) in free {
            if !locked.contains(at.splitter_id.as_str()) {
                continue;
            }
            if let Some(p) = self.index.project(&at.project) {
                p.set_free(&at.box_id, &at.splitter_id, free);
            }
        }
        Ok(value)
    }
}
