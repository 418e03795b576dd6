//! Group commit for holds: requests that arrive while a transaction is being written wait
//! and go together in the next one, so many reservations share one commit (and one sync to
//! disk) while each still gets its own answer. The database arbitrates each hold as before.
//! Before answering, a lane brings the index's free ports of the splitters it held up to
//! date, in one read for the batch.

use super::refresh::Refresher;
use crate::store::{HoldOutcome, NewHold, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most holds one transaction takes.
const MAX_BATCH: usize = 64;

/// What a hold came to, and the batch's change-log version when this replica has already
/// applied the change to its index.
pub type Held = (HoldOutcome, Option<i64>);

type Reply = oneshot::Sender<Result<Held, StoreError>>;

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
    pub fn start(store: Store, refresher: Arc<Refresher>) -> Self {
        let lanes = (0..lanes(&store))
            .map(|_| Self::lane(store.clone(), refresher.clone()))
            .collect();
        Self { lanes }
    }

    fn lane(store: Store, refresher: Arc<Refresher>) -> mpsc::Sender<(NewHold, Reply)> {
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
                let (holds, replies): (Vec<NewHold>, Vec<Reply>) = batch.into_iter().unzip();
                match store.hold_many(&holds).await {
                    Ok((outcomes, version)) => {
                        let held: Vec<String> = outcomes
                            .iter()
                            .filter_map(|o| match o {
                                HoldOutcome::Created(r, _) => Some(r.splitter_id.clone()),
                                _ => None,
                            })
                            .collect();
                        // The holds are committed either way; when the index could not be
                        // refreshed, following the change log catches up.
                        let applied = match refresher.refresh(&held).await {
                            Ok(()) => version,
                            Err(e) => {
                                tracing::warn!(error = %e, "could not refresh free ports");
                                None
                            }
                        };
                        for (reply, outcome) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok((outcome, applied)));
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
    pub async fn hold(&self, hold: NewHold) -> Result<Held, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Other(anyhow::anyhow!("the hold writer has stopped"));
        let lane = &self.lanes[super::slot_of(&hold.box_id, self.lanes.len())];
        lane.send((hold, reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}
