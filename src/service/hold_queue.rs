//! Group commit for holds: requests that arrive while a transaction is being written wait
//! and go together in the next one, so many reservations share one commit (and one sync to
//! disk) while each still gets its own answer. The database arbitrates each hold as before.
//! Before answering, a lane sets the index's free ports of the boxes it held on to what its
//! transaction left, so the answer and the index agree.

use super::refresh::Refresher;
use crate::store::{HeldBatch, HoldOutcome, NewHold, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most holds one transaction takes.
const MAX_BATCH: usize = 64;

/// What a hold came to, and the batch's change-log versions, which this replica's index
/// already has.
pub type Held = (HoldOutcome, Vec<i64>);

type Reply = oneshot::Sender<Result<Held, StoreError>>;

/// A hold, the attendance splitters the index knows on its box, and where to answer.
type Request = (NewHold, Vec<String>, Reply);

/// Parallel writers, each with its own connection. SQLite has one writer anyway;
/// PostgreSQL commits several at once.
fn lanes(store: &Store) -> usize {
    match store {
        Store::Sqlite { .. } => 1,
        Store::Postgres { .. } => 4,
    }
}

/// Writer lanes; holds on one box always take the same lane.
#[derive(Debug, Clone)]
pub struct HoldQueue {
    lanes: Vec<mpsc::Sender<Request>>,
}

impl HoldQueue {
    /// Starts the writer tasks on the current runtime.
    pub fn start(store: Store, refresher: Arc<Refresher>) -> Self {
        let lanes = (0..lanes(&store))
            .map(|_| Self::lane(store.clone(), refresher.clone()))
            .collect();
        Self { lanes }
    }

    fn lane(store: Store, refresher: Arc<Refresher>) -> mpsc::Sender<Request> {
        let (tx, mut rx) = mpsc::channel::<Request>(4 * MAX_BATCH);
        let mut writer = store.hold_writer();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let mut holds = Vec::with_capacity(batch.len());
                let mut splitters = Vec::new();
                let mut replies = Vec::with_capacity(batch.len());
                for (hold, ids, reply) in batch {
                    holds.push(hold);
                    splitters.extend(ids);
                    replies.push(reply);
                }
                splitters.sort_unstable();
                splitters.dedup();
                let written = refresher
                    .apply(&splitters, async {
                        let HeldBatch {
                            outcomes,
                            versions,
                            free,
                        } = writer.hold_many(&holds).await?;
                        Ok(((outcomes, versions), free))
                    })
                    .await;
                match written {
                    Ok((outcomes, versions)) => {
                        for (reply, outcome) in replies.into_iter().zip(outcomes) {
                            let _ = reply.send(Ok((outcome, versions.clone())));
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

    /// Places one hold; answers once its transaction has committed and the index has the
    /// box's free ports it left. `splitters`: the attendance splitters the index knows on
    /// the box.
    pub async fn hold(&self, hold: NewHold, splitters: Vec<String>) -> Result<Held, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Other(anyhow::anyhow!("the hold writer has stopped"));
        let lane = &self.lanes[super::slot_of(&hold.box_id, self.lanes.len())];
        lane.send((hold, splitters, reply))
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}
