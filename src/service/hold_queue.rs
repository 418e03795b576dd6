//! Group commit for holds: requests that arrive while a transaction is being written wait
//! and go together in the next one, so many reservations share one commit (and one sync to
//! disk) while each still gets its own answer. The database arbitrates each hold as before.

use crate::store::{HoldOutcome, NewHold, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most holds one transaction takes.
const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<HoldOutcome, StoreError>>;

/// Parallel writers, each with its own transactions. SQLite has one writer anyway;
/// PostgreSQL commits several transactions at once.
fn lanes(store: &Store) -> usize {
    match store {
        Store::Sqlite { .. } => 1,
        Store::Postgres { .. } => 4,
    }
}

/// Writer lanes; holds on one box always take the same lane.
#[derive(Debug, Clone)]
pub struct HoldQueue {
    lanes: Vec<mpsc::Sender<(NewHold, Reply)>>,
}

impl HoldQueue {
    /// Starts the writer tasks on the current runtime.
    pub fn start(store: Store) -> Self {
        let lanes = (0..lanes(&store))
            .map(|_| Self::lane(store.clone()))
            .collect();
        Self { lanes }
    }

    fn lane(store: Store) -> mpsc::Sender<(NewHold, Reply)> {
        let (tx, mut rx) = mpsc::channel::<(NewHold, Reply)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                // One lock order for every transaction (by box), so concurrent transactions
                // of other replicas cannot deadlock with this one.
                batch.sort_by(|a, b| a.0.box_id.cmp(&b.0.box_id));
                let (holds, replies): (Vec<NewHold>, Vec<Reply>) = batch.into_iter().unzip();
                match store.hold_many(&holds).await {
                    Ok(outcomes) => {
                        for (reply, outcome) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        let shared = Arc::new(e);
                        for reply in replies {
                            let _ = reply.send(Err(StoreError::Shared(shared.clone())));
                        }
                    }
                }
            }
        });
        tx
    }

    /// Places one hold; answers once its transaction has committed.
    pub async fn hold(&self, hold: NewHold) -> Result<HoldOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Other(anyhow::anyhow!("the hold writer has stopped"));
        let lane = &self.lanes[lane_of(&hold.box_id, self.lanes.len())];
        lane.send((hold, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn lane_of(box_id: &str, lanes: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    box_id.hash(&mut h);
    (h.finish() % lanes as u64) as usize
}
