//! The application: the store, the index built from it, and the plans and settings in
//! force. HTTP handlers and the CLI call these methods; each keeps the index and caches in
//! step with the store after a write.

use crate::auth::TokenKeys;
use crate::domain::feasibility::{FeasibilityRequest, ProjectScope};
use crate::domain::import::{ImportBatch, ImportMode};
use crate::domain::network::Plan;
use crate::domain::settings::{Settings, SettingsPatch};
use crate::domain::validation::Invalid;
use crate::index::{Answer, Index};
use crate::store::{ImportOutcome, Store, StoreError};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

pub mod alerts;
pub mod answer;
pub mod batch;
mod check;
pub mod credentials;
pub mod delivery;
pub mod demand;
mod feasibility;
mod features;
mod hold_queue;
pub mod integrations;
mod interests;
pub mod rate_limits;
mod reads;
mod refresh;
mod reservations;
mod sync;
pub mod webhooks;
pub use feasibility::{Rule, View};
pub use features::region_item_id;
pub use interests::InterestError;
pub use reads::{MapBoxes, NotReady};
pub use reservations::{IdempotentRequest, ReserveError, Reserved};

/// Why a feasibility question cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum FeasibilityError {
    #[error("invalid request")]
    Invalid(#[from] Invalid),
    #[error("plan {0} not found")]
    UnknownPlan(String),
}

/// A feasibility answer with what was in force.
#[derive(Debug, Clone)]
pub struct FeasibilityOutcome {
    pub radius_m: f64,
    pub tags: Vec<String>,
    pub answer: Answer,
}

/// Shared state of one running service.
#[derive(Debug)]
pub struct App {
    pub store: Store,
    pub index: Arc<Index>,
    pub keys: TokenKeys,
    /// The key of the HMAC kept for each `Idempotency-Key` instead of its request's body.
    idempotency_secret: Vec<u8>,
    plans: ArcSwap<BTreeMap<String, Plan>>,
    settings: ArcSwap<Settings>,
    /// Free-port refreshes, and the lock that orders them with project reloads.
    refresher: Arc<refresh::Refresher>,
    holds: hold_queue::HoldQueue,
    stopping: std::sync::atomic::AtomicBool,
    position: tokio::sync::Mutex<sync::Position>,
    /// Change-log versions this replica applied itself, not yet taken into `position`.
    applied_here: std::sync::Mutex<Vec<i64>>,
    /// The integrations' keys, rebuilt from the store on every `integrations` change.
    credentials: ArcSwap<credentials::Credentials>,
    rate_limits: rate_limits::RateLimits,
    /// Keys used since the last flush, with the minute of their last use (µs).
    key_uses: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// Demand counts not yet flushed to the store.
    demand: Arc<demand::DemandCounter>,
    /// What wakes the re-check of waiting interests.
    interests: interests::Interests,
}

impl App {
    /// Stores the first settings if none are stored, then loads plans, settings and the index.
    pub async fn start(
        store: Store,
        keys: TokenKeys,
        first: &Settings,
    ) -> Result<Self, StoreError> {
        let settings = store.init_settings(first).await?;
        let idempotency_secret = store.secret("idempotency_hmac").await?.into_bytes();
        // The change log position first: what commits while we load is applied again later.
        let position = sync::Position::at(store.latest_change().await?);
        let index = Arc::new(Index::new());
        let refresher = Arc::new(refresh::Refresher::new(store.clone(), index.clone()));
        let app = Self {
            holds: hold_queue::HoldQueue::start(store.clone(), refresher.clone()),
            store,
            index,
            keys,
            idempotency_secret,
            plans: ArcSwap::default(),
            settings: ArcSwap::from_pointee(settings),
            refresher,
            stopping: std::sync::atomic::AtomicBool::new(false),
            position: tokio::sync::Mutex::new(position),
            applied_here: std::sync::Mutex::default(),
            credentials: ArcSwap::default(),
            rate_limits: rate_limits::RateLimits::default(),
            key_uses: std::sync::Mutex::default(),
            demand: Arc::default(),
            interests: interests::Interests::default(),
        };
        app.reload_credentials().await?;
        app.reload_plans().await?;
        app.reload_index().await?;
        Ok(app)
    }

    /// Rebuilds the whole index from the store.
    pub async fn reload_index(&self) -> Result<(), StoreError> {
        let _guard = self.refresher.reload.write().await;
        let started = Instant::now();
        let projects = self.store.load_index().await?;
        self.index.replace_all(projects);
        crate::metrics::index_loaded(started.elapsed().as_secs_f64());
        tracing::info!(
            boxes = self.index.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "index loaded"
        );
        Ok(())
    }

    async fn reload_settings(&self) -> Result<(), StoreError> {
        self.settings.store(Arc::new(self.store.settings().await?));
        Ok(())
    }

    async fn reload_plans(&self) -> Result<(), StoreError> {
        let plans = self.store.plans().await?;
        self.plans.store(Arc::new(
            plans.into_iter().map(|p| (p.id.clone(), p)).collect(),
        ));
        Ok(())
    }

    /// From now on the service reports itself not ready (it is shutting down).
    pub fn begin_shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn settings(&self) -> Settings {
        **self.settings.load()
    }

    /// The feasibility rule for a caller that may see `scope`.
    pub fn feasibility(
        &self,
        req: &FeasibilityRequest,
        scope: &ProjectScope,
    ) -> Result<FeasibilityOutcome, FeasibilityError> {
        let params = req.parse(&self.settings())?;
        let view = self.view();
        let rule = view.rule(&params.options, scope)?;
        let answer = view.answer(&rule, params.at);
        Ok(FeasibilityOutcome {
            radius_m: rule.radius_m,
            tags: rule.tags,
            answer,
        })
        .inspect(|o| {
            crate::metrics::feasibility_answer(o.answer.reason);
            self.count_demand(
                params.at,
                params.options.plan_id.as_deref(),
                o.answer.reason,
            );
        })
    }

    /// Applies an import, then swaps in the project's rebuilt index before returning.
    pub async fn import(
        &self,
        project: &str,
        batch: &ImportBatch,
        mode: ImportMode,
    ) -> Result<ImportOutcome, StoreError> {
        /// Loads the project and swaps it in, refreshes held off meanwhile (one that read
        /// the store before the import committed lands on the old snapshot, not this one).
        async fn reload(
            refresher: &refresh::Refresher,
            store: &Store,
            index: &Index,
            project: &str,
        ) -> Result<(), StoreError> {
            let _guard = refresher.reload.write().await;
            index.replace_project(store.load_project_index(project).await?);
            Ok(())
        }
        // The writes take seconds for a large file; refreshes (this replica's holds) and
        // the follower go on meanwhile: the reload lock is taken only for the swap.
        let outcome = self.store.import(project, batch, mode).await?;
        // This replica applies its own change: the follower need not load the project
        // again. Marked before the load, so that a follower reading the log while the
        // index loads skips it too.
        self.mark_applied(outcome.version);
        let started = Instant::now();
        if let Err(e) = reload(&self.refresher, &self.store, &self.index, project).await {
            // Committed, not yet in the index: tried again as the follower would have.
            let (refresher, store, index) = (
                self.refresher.clone(),
                self.store.clone(),
                self.index.clone(),
            );
            let project = project.to_owned();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(sync::POLL).await;
                    match reload(&refresher, &store, &index, &project).await {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, project, "cannot load the imported project; retrying")
                        }
                    }
                }
            });
            return Err(e);
        }
        tracing::info!(
            project,
            elapsed_ms = started.elapsed().as_millis() as u64,
            boxes_added = outcome.boxes.added,
            boxes_updated = outcome.boxes.updated,
            boxes_deleted = outcome.boxes.deleted,
            "import applied"
        );
        self.interests_may_be_feasible();
        Ok(outcome)
    }

    pub fn plans(&self) -> Vec<Plan> {
        self.plans.load().values().cloned().collect()
    }

    pub fn plan(&self, id: &str) -> Option<Plan> {
        self.plans.load().get(id).cloned()
    }

    /// Creates or replaces a plan; true when created.
    pub async fn put_plan(&self, plan: &Plan) -> Result<bool, StoreError> {
        let created = self.store.put_plan(plan).await?;
        self.reload_plans().await?;
        self.interests_may_be_feasible();
        Ok(created)
    }

    pub async fn delete_plan(&self, id: &str) -> Result<(), StoreError> {
        self.store.delete_plan(id).await?;
        self.reload_plans().await
    }

    /// Checks and stores a settings change; in force for the next request.
    pub async fn patch_settings(&self, patch: &SettingsPatch) -> Result<Settings, PatchError> {
        let next = self.settings().patch(patch)?;
        self.store.save_settings(&next).await?;
        self.settings.store(Arc::new(next));
        self.interests_may_be_feasible();
        Ok(next)
    }
}

/// One of `slots` chosen by hashing `key`: the same key always gets the same slot.
fn slot_of(key: &str, slots: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % slots as u64) as usize
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("invalid settings")]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}
