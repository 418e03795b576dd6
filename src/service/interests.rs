//! Interests: registered when a plan cannot be sold at a point, checked again after every
//! change that can make a point feasible, and notified through `coverage.available`.
//!
//! The re-check runs on the replica where the change commits: its index has the change
//! when the change is answered, so the interest is notified within moments of that answer,
//! and each change is re-checked once rather than on every replica. A replica that stops
//! between the commit and the re-check leaves nothing behind for long: every replica also
//! re-checks once a minute. Two replicas re-checking at once notify an interest once (the
//! store turns it `notified` only while it is `waiting`).

use super::App;
use crate::domain::feasibility::{ProjectScope, tags_in_force};
use crate::domain::integration::{Integration, IntegrationStatus};
use crate::domain::interest::{
    Interest, InterestRequest, KEPT_AFTER_NOTICE, Registrant, StoredInterest,
};
use crate::domain::validation::Invalid;
use crate::index::Query;
use crate::store::{Found, InterestFilter, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often every replica re-checks the waiting interests without being woken.
const SWEEP: Duration = Duration::from_secs(60);
/// Waiting interests read per page of a re-check.
const PAGE: usize = 1000;

/// What wakes the re-check, and how long contacts are kept.
#[derive(Debug)]
pub struct Interests {
    wake: tokio::sync::Notify,
    ttl_s: AtomicU64,
}

impl Default for Interests {
    fn default() -> Self {
        Self {
            wake: tokio::sync::Notify::new(),
            ttl_s: AtomicU64::new(15_552_000),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InterestError {
    #[error("invalid request")]
    Invalid(#[from] Invalid),
    #[error("plan {0} not found")]
    UnknownPlan(String),
    #[error("the plan can be sold here now")]
    AlreadyFeasible,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    /// Sets `interest_ttl_s`.
    pub fn set_interest_ttl(&self, seconds: u64) {
        self.interests.ttl_s.store(seconds, Ordering::Relaxed);
    }

    /// Something committed here may have made a point feasible: re-check soon.
    pub(super) fn interests_may_be_feasible(&self) {
        self.interests.wake.notify_one();
    }

    /// The nearest box that can serve `plan_id` at the point now, at the default radius,
    /// for a registrant that sees `scope`; none when the plan is unknown or nothing can.
    fn serving(
        &self,
        at: crate::domain::Coord,
        plan_id: &str,
        scope: &ProjectScope,
    ) -> Option<Found> {
        let plan = self.plan(plan_id)?;
        let tags = tags_in_force(&plan.tags, &[]);
        let answer = self.index.query(&Query {
            at,
            radius_m: self.settings().default_radius_m,
            tags: &tags,
            scope,
            limit: 1,
        });
        answer.candidates.first().map(|c| Found {
            project: c.project().to_owned(),
            box_id: c.box_id().to_owned(),
            distance_m: c.distance_m,
        })
    }

    /// `POST /interest`: stored `waiting`, unless the plan can be sold there now.
    pub async fn register_interest(
        &self,
        req: &InterestRequest,
        registrant: &Registrant,
    ) -> Result<Interest, InterestError> {
        let new = req.parse()?;
        if self.plan(&new.plan_id).is_none() {
            return Err(InterestError::UnknownPlan(new.plan_id));
        }
        if self
            .serving(new.at, &new.plan_id, &registrant.projects)
            .is_some()
        {
            return Err(InterestError::AlreadyFeasible);
        }
        let interest = self.store.insert_interest(&new, registrant).await?;
        tracing::info!(interest = %interest.id, plan = %interest.plan_id, "interest registered");
        Ok(interest)
    }

    pub async fn interest(&self, id: &str) -> Result<StoredInterest, StoreError> {
        self.store.interest(id).await
    }

    pub async fn interests(
        &self,
        filter: &InterestFilter,
        limit: usize,
    ) -> Result<Vec<StoredInterest>, StoreError> {
        self.store.interests(filter, limit).await
    }

    /// `DELETE /interest/{id}`: the contact erased, the record kept.
    pub async fn withdraw_interest(&self, id: &str) -> Result<(), StoreError> {
        self.store.withdraw_interest(id).await?;
        tracing::info!(interest = %id, "interest withdrawn");
        Ok(())
    }

    /// Checks every waiting interest again with the registrant's projects as they are now;
    /// those that became feasible turn `notified` with their event. Returns how many.
    pub async fn recheck_interests(&self) -> Result<usize, StoreError> {
        // A key's integration: its projects now; a suspended or deleted one is told nothing.
        let integrations: HashMap<String, Integration> = self
            .store
            .integrations()
            .await?
            .into_iter()
            .filter(|i| !i.deleted)
            .filter_map(|i| Some((i.id, serde_json::from_str(&i.doc).ok()?)))
            .collect();
        let mut notified = 0;
        let mut after = None;
        loop {
            let page = self.store.waiting_interests(after.clone(), PAGE).await?;
            for s in &page {
                let scope = if s.registrant.by_key {
                    match integrations.get(&s.registrant.created_by) {
                        Some(i) if i.status == IntegrationStatus::Active => i.project_scope(),
                        _ => continue,
                    }
                } else {
                    s.registrant.projects.clone()
                };
                let at = match crate::domain::Coord::parse(
                    s.interest.location.lat,
                    s.interest.location.lon,
                ) {
                    Ok(at) => at,
                    Err(_) => continue,
                };
                if let Some(found) = self.serving(at, &s.interest.plan_id, &scope)
                    && let Some(i) = self.store.notify_interest(&s.interest.id, &found).await?
                {
                    tracing::info!(interest = %i.id, box_id = %found.box_id, "interest notified");
                    notified += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => {
                    after = Some((
                        last.interest.created_at.timestamp_micros(),
                        last.interest.id.clone(),
                    ))
                }
                _ => break,
            }
        }
        Ok(notified)
    }

    /// Re-checks when woken by a change made here, and every minute regardless.
    pub async fn recheck_forever(&self) {
        while !self.is_stopping() {
            let _ = tokio::time::timeout(SWEEP, self.interests.wake.notified()).await;
            if let Err(e) = self.recheck_interests().await {
                tracing::warn!(error = %e, "cannot re-check the waiting interests; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.interests_may_be_feasible();
            }
        }
    }

    /// Erases the contact data due for erasure at `now`: `interest_ttl_s` after
    /// registration, or 30 days after notification. Returns how many.
    pub async fn erase_due_interests(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<usize, StoreError> {
        const BATCH: usize = 500;
        let ttl = self.interests.ttl_s.load(Ordering::Relaxed);
        let registered_before = now.timestamp_micros()
            - i64::try_from(ttl.saturating_mul(1_000_000)).unwrap_or(i64::MAX);
        let notified_before = (now - KEPT_AFTER_NOTICE).timestamp_micros();
        let mut erased = 0;
        loop {
            let n = self
                .store
                .erase_due_interests(
                    registered_before,
                    notified_before,
                    now.timestamp_micros(),
                    BATCH,
                )
                .await?;
            erased += n;
            if n < BATCH {
                break;
            }
        }
        if erased > 0 {
            tracing::info!(erased, "interest contacts erased on schedule");
        }
        Ok(erased)
    }
}
