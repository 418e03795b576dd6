//! Group commit for holds: requests that arrive while a transaction is being written wait
//! and go together in the next one, so many reservations share one commit (and one sync to
//! disk) while each still gets its own answer. The database arbitrates each hold as before.
//! Before answering, a lane sets the index's free ports of the boxes it held on to what its
//! transaction left, so the answer and the index agree.

use super::refresh::Refresher;
use crate::store::{HeldBatch, HoldOutcome, InDoubt, NewHold, Store, StoreError};
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

/// Releases the holds in doubt, if the database answers; they stay listed otherwise.
async fn release(store: &Store, refresher: &Refresher, in_doubt: &InDoubt) {
    let ids: Vec<String> = in_doubt
        .lock()
        .expect("not poisoned")
        .iter()
        .cloned()
        .collect();
    if ids.is_empty() {
        return;
    }
    match store.release_in_doubt(&ids).await {
        Ok(freed) => {
            {
                let mut set = in_doubt.lock().expect("not poisoned");
                for id in &ids {
                    set.remove(id);
                }
            }
            tracing::warn!(
                holds = ids.len(),
                "holds whose commit was in doubt released"
            );
            if let Err(e) = refresher.refresh(&freed).await {
                tracing::warn!(error = %e, "could not refresh free ports after a release");
            }
        }
        Err(e) => tracing::debug!(error = %e, "holds in doubt not released yet"),
    }
}

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
    /// Holds answered as errors that may have been committed, until released.
    in_doubt: InDoubt,
}

/// How often a lane with holds in doubt tries to release them while no hold comes.
const RELEASE_RETRY: std::time::Duration = std::time::Duration::from_millis(500);

impl HoldQueue {
    /// Starts the writer tasks on the current runtime.
    pub fn start(store: Store, refresher: Arc<Refresher>) -> Self {
        let in_doubt = InDoubt::default();
        let lanes = (0..lanes(&store))
            .map(|_| Self::lane(store.clone(), refresher.clone(), in_doubt.clone()))
            .collect();
        Self { lanes, in_doubt }
    }

    fn lane(store: Store, refresher: Arc<Refresher>, in_doubt: InDoubt) -> mpsc::Sender<Request> {
        let (tx, mut rx) = mpsc::channel::<Request>(4 * MAX_BATCH);
        let mut writer = store.hold_writer(in_doubt.clone());
        tokio::spawn(async move {
            loop {
                // Holds in doubt go first: the batch after them may need their ports.
                release(&store, &refresher, &in_doubt).await;
                let waiting = !in_doubt.lock().expect("not poisoned").is_empty();
                let first = if waiting {
                    match tokio::time::timeout(RELEASE_RETRY, rx.recv()).await {
                        Ok(Some(first)) => first,
                        Ok(None) => break,
                        Err(_) => continue,
                    }
                } else {
                    match rx.recv().await {
                        Some(first) => first,
                        None => break,
                    }
                };
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

    /// Whether this answer replays a hold that was answered as an error and is about to be
    /// released (a lane releases it before its next batch, so the key is then new again).
    pub fn in_doubt(&self, answer: &HoldOutcome) -> bool {
        matches!(answer, HoldOutcome::Replay { reservation_id, .. }
            if self.in_doubt.lock().expect("not poisoned").contains(reservation_id))
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
