//! Demand counting: each answer adds one to its (cell, plan, outcome, day) in memory, in a
//! shard of its own thread, so answers do not wait on each other; the counts are written
//! to the store every `demand_flush_s` (adding to what is stored) and on shutdown.

use super::App;
use crate::domain::Coord;
use crate::domain::demand::{self, CellCounts, DemandQuery, Outcome};
use crate::domain::feasibility::Reason;
use crate::store::{DemandCount, StoreError};
use chrono::{Datelike, NaiveDate, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Shards: enough that the workers of a busy replica rarely share one.
const SHARDS: usize = 16;

/// One count's key within a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Tally {
    cell: u64,
    outcome: Outcome,
    /// Days since 1 January of year 1 (UTC).
    day: i32,
}

/// Counts by plan (`""`: no plan), then by tally: a plan's map is looked up by `&str`, so a
/// count allocates only the first time its plan or tally is seen in an interval.
type Shard = HashMap<String, HashMap<Tally, u64>>;

/// The counts not yet flushed.
#[derive(Debug)]
pub struct DemandCounter {
    enabled: AtomicBool,
    shards: Box<[Mutex<Shard>]>,
}

impl Default for DemandCounter {
    fn default() -> Self {
        Self {
            enabled: AtomicBool::new(true),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    MINE.with(|i| *i)
}

impl DemandCounter {
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Adds one answer.
    pub fn count(&self, at: Coord, plan: Option<&str>, outcome: Outcome) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let tally = Tally {
            cell: demand::cell_of(at),
            outcome,
            day: Utc::now().date_naive().num_days_from_ce(),
        };
        let plan = plan.unwrap_or("");
        let mut shard = self.shards[shard_index()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let by_tally = match shard.get_mut(plan) {
            Some(m) => m,
            None => shard.entry(plan.to_owned()).or_default(),
        };
        *by_tally.entry(tally).or_insert(0) += 1;
    }

    /// Takes every count out of the shards, one per key (a key counted on several
    /// threads is in several shards).
    fn take(&self) -> Vec<DemandCount> {
        let mut merged: HashMap<(String, Tally), u64> = HashMap::new();
        for shard in &*self.shards {
            let taken = std::mem::take(&mut *shard.lock().unwrap_or_else(|p| p.into_inner()));
            for (plan, tallies) in taken {
                for (t, n) in tallies {
                    *merged.entry((plan.clone(), t)).or_insert(0) += n;
                }
            }
        }
        merged
            .into_iter()
            .map(|((plan_id, t), count)| DemandCount {
                cell: t.cell,
                plan_id,
                outcome: t.outcome,
                day: NaiveDate::from_num_days_from_ce_opt(t.day).expect("a day that was today"),
                count,
            })
            .collect()
    }

    /// Puts counts back (a flush that failed is tried again with the next).
    fn put_back(&self, counts: Vec<DemandCount>) {
        let mut shard = self.shards[0].lock().unwrap_or_else(|p| p.into_inner());
        for c in counts {
            let tally = Tally {
                cell: c.cell,
                outcome: c.outcome,
                day: c.day.num_days_from_ce(),
            };
            *shard
                .entry(c.plan_id)
                .or_default()
                .entry(tally)
                .or_insert(0) += c.count;
        }
    }
}

impl App {
    /// Counts one answer as demand at `at` (its cell: the point itself is never kept).
    /// `POST /feasibility`, `POST /check` and batch items with `record_demand` call it.
    pub fn count_demand(&self, at: Coord, plan: Option<&str>, reason: Option<Reason>) {
        self.demand.count(at, plan, Outcome(reason));
    }

    /// Switches demand counting on or off (the benchmark compares the two).
    pub fn set_demand_counting(&self, on: bool) {
        self.demand.set_enabled(on);
    }

    /// Writes the counts gathered since the last flush to the store, in one transaction;
    /// kept for the next flush when it fails. Returns how many rows were written.
    pub async fn flush_demand(&self) -> Result<usize, StoreError> {
        let counts = self.demand.take();
        if counts.is_empty() {
            return Ok(0);
        }
        match self.store.add_demand(&counts).await {
            Ok(()) => Ok(counts.len()),
            Err(e) => {
                self.demand.put_back(counts);
                Err(e)
            }
        }
    }

    /// Flushes every `every` until the service stops.
    pub async fn flush_demand_forever(&self, every: std::time::Duration) {
        while !self.is_stopping() {
            tokio::time::sleep(every).await;
            if let Err(e) = self.flush_demand().await {
                tracing::warn!(error = %e, "cannot write the demand counts; kept for the next flush");
            }
        }
    }

    /// `GET /demand`: the cells of the map with their counts and boundaries.
    pub async fn demand_map(
        &self,
        query: &DemandQuery,
    ) -> Result<Vec<(CellCounts, Vec<[f64; 2]>)>, StoreError> {
        let counted = self.store.demand(query).await?;
        Ok(demand::cells(query, counted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_several_threads_merge_into_one_row_per_key() {
        let counter = std::sync::Arc::new(DemandCounter::default());
        let at = Coord::parse(-23.5505, -46.6333).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        c.count(at, Some("fibra"), Outcome(None));
                    }
                    c.count(at, None, Outcome(Some(Reason::NoCoverage)));
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let mut rows = counter.take();
        rows.sort_by_key(|r| r.count);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!((rows[0].plan_id.as_str(), rows[0].count), ("", 4));
        assert_eq!((rows[1].plan_id.as_str(), rows[1].count), ("fibra", 400));
        assert!(counter.take().is_empty(), "taken once");
        // Put back after a failed flush, they are taken again.
        counter.put_back(rows);
        assert_eq!(counter.take().len(), 2);
        counter.set_enabled(false);
        counter.count(at, None, Outcome(None));
        assert!(counter.take().is_empty());
    }
}
