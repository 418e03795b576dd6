//! Placing and moving reservations, keeping the index's free ports in step with the store.

use super::App;
use crate::domain::feasibility::{ProjectScope, Reason};
use crate::domain::reservation::{Location, Reservation, ReservationRequest, Transition};
use crate::domain::validation::Invalid;
use crate::store::{HoldOutcome, NewHold, SplitterRef, StoreError, TransitionError};

/// How long an `Idempotency-Key` is kept (the contract asks for at least a day).
pub const IDEMPOTENCY_KEPT: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How long the change log keeps a change: replicas follow within seconds, and one away
/// longer than this reloads everything.
pub const CHANGES_KEPT: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// How long the deliveries log (and the events it refers to) is kept.
pub const DELIVERIES_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Candidates tried, nearest first, when the nearest turns out to be full in the store.
const CANDIDATES_TRIED: usize = 50;

/// A reservation answer: the status and the reservation as it is now (a replay answers the
/// first request's status).
#[derive(Debug)]
pub struct Reserved {
    pub status: u16,
    pub reservation: Reservation,
    /// The answer to an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
}

/// An `Idempotency-Key` and the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotentRequest {
    pub key: String,
    /// The request body in a canonical form (the same JSON value gives the same text).
    pub canonical_body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("invalid request")]
    Invalid(#[from] Invalid),
    #[error("plan {0} not found")]
    UnknownPlan(String),
    #[error("nothing can be held here: {}", .0.as_str())]
    NotFeasible(Reason),
    #[error("this Idempotency-Key was used with another body")]
    KeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    /// `POST /reservations`: the feasibility rule now, then a hold on the nearest candidate
    /// (or on `box_id`) that the store confirms has a free port.
    pub async fn reserve(
        &self,
        req: &ReservationRequest,
        sub: &str,
        scope: &ProjectScope,
        idempotency: Option<IdempotentRequest>,
    ) -> Result<Reserved, ReserveError> {
        // What is kept for a key: an HMAC of the body, never the body (personal data).
        let idempotency = idempotency.map(|i| (i.key, self.request_hmac(&i.canonical_body)));
        let result = self.reserve_now(req, sub, scope, idempotency).await;
        crate::metrics::hold(match &result {
            Ok(r) if r.replayed => "replayed",
            Ok(_) => "created",
            Err(ReserveError::NotFeasible(reason)) => reason.as_str(),
            Err(ReserveError::KeyReused) => "key_reused",
            Err(ReserveError::Invalid(_) | ReserveError::UnknownPlan(_)) => "invalid",
            Err(ReserveError::Store(_)) => "error",
        });
        result
    }

    async fn reserve_now(
        &self,
        req: &ReservationRequest,
        sub: &str,
        scope: &ProjectScope,
        idempotency: Option<(String, String)>,
    ) -> Result<Reserved, ReserveError> {
        let settings = self.settings();
        let params = req.location().parse(&settings);
        let holder = req.holder();
        let (params, holder) = match (params, holder) {
            (Ok(p), Ok(h)) => (p, h),
            (p, h) => {
                let mut all = p.err().unwrap_or_default();
                all.0.extend(h.err().unwrap_or_default().0);
                return Err(all.into());
            }
        };
        if let Some((key, hash)) = &idempotency
            && let Some(answer) = self.store.idempotent_answer(sub, key, hash).await?
            && !self.holds.in_doubt(&answer)
        {
            return self.replayed(answer).await;
        }
        let view = self.view();
        let rule = view.rule(&params.options, scope).map_err(|e| match e {
            super::FeasibilityError::UnknownPlan(id) => ReserveError::UnknownPlan(id),
            super::FeasibilityError::Invalid(invalid) => ReserveError::Invalid(invalid),
        })?;
        let tags = &rule.tags;
        let query = view.query(&rule, params.at, CANDIDATES_TRIED);
        let candidates = match &holder.box_id {
            Some(box_id) => vec![
                self.index
                    .evaluate(box_id, &query)
                    .map_err(ReserveError::NotFeasible)?,
            ],
            None => {
                let answer = self.index.query(&query);
                if let Some(reason) = answer.reason {
                    return Err(ReserveError::NotFeasible(reason));
                }
                answer.candidates
            }
        };
        for c in candidates {
            let hold = NewHold {
                project: c.project().to_owned(),
                box_id: c.box_id().to_owned(),
                distance_m: c.distance_m,
                plan_id: params.options.plan_id.clone(),
                tags: tags.clone(),
                location: Location {
                    lat: params.at.lat(),
                    lon: params.at.lon(),
                },
                address: holder.address.clone(),
                customer: holder.customer.clone(),
                external_ref: holder.external_ref.clone(),
                created_by: sub.to_owned(),
                ttl_s: settings.reservation_ttl_s,
                idempotency: idempotency.clone(),
            };
            let splitters = c.attendance_splitter_ids().map(str::to_owned).collect();
            let (outcome, applied) = self.holds.hold(hold, splitters).await?;
            match outcome {
                HoldOutcome::Created(r) => {
                    tracing::info!(reservation = %r.id, code = %r.code, project = %r.project, box_id = %r.box_id, port = r.port, "port held");
                    // The lane has set the index; following the log need not again.
                    for version in applied {
                        self.mark_applied(version);
                    }
                    return Ok(Reserved {
                        status: 201,
                        reservation: *r,
                        replayed: false,
                    });
                }
                // The index was behind the store (the lane has set this box's ports to what
                // the store has): try the next.
                HoldOutcome::NoFreePort => {}
                other => return self.replayed(other).await,
            }
        }
        Err(ReserveError::NotFeasible(Reason::NoFreePorts))
    }

    /// Moves a reservation; `creator`: only one made by this `sub` may move.
    pub async fn transition(
        &self,
        id: &str,
        t: Transition,
        creator: Option<&str>,
    ) -> Result<crate::domain::reservation::Reservation, TransitionError> {
        let result = self.store.transition(id, t, creator).await;
        let changed = match &result {
            Ok((_, changed)) => changed.clone(),
            Err(TransitionError::Invalid { freed, .. }) => freed.clone(),
            Err(_) => None,
        };
        if let Some(SplitterRef { splitter_id, .. }) = changed {
            self.refresh_splitters(&[splitter_id]).await;
            self.interests_may_be_feasible();
        }
        let (r, _) = result?;
        crate::metrics::transition(t.as_str());
        tracing::info!(reservation = %r.id, transition = t.as_str(), status = r.status.as_str(), "reservation moved");
        Ok(r)
    }

    /// Sets the index's free ports of these splitters to what the store says now.
    pub async fn refresh_splitters(&self, splitter_ids: &[String]) {
        // The write is committed either way; the next reload or refresh catches up.
        if let Err(e) = self.refresher.refresh(splitter_ids).await {
            tracing::warn!(splitters = splitter_ids.len(), error = %e, "could not refresh free ports");
        }
    }

    /// The expiry job: releases overdue pending reservations in batches, then prunes what
    /// only the machinery needs: idempotency keys after [`IDEMPOTENCY_KEPT`], the change
    /// log after [`CHANGES_KEPT`]. Returns how many were released.
    pub async fn expire_overdue(&self) -> Result<usize, StoreError> {
        let result = self.expire_overdue_now().await;
        crate::metrics::expiry_run(result.is_ok(), *result.as_ref().unwrap_or(&0));
        result
    }

    async fn expire_overdue_now(&self) -> Result<usize, StoreError> {
        const BATCH: usize = 500;
        let mut released = 0;
        loop {
            let freed = self.store.expire_due(BATCH).await?;
            released += freed.len();
            let mut ids: Vec<String> = freed.iter().map(|s| s.splitter_id.clone()).collect();
            ids.sort();
            ids.dedup();
            self.refresh_splitters(&ids).await;
            if freed.len() < BATCH {
                break;
            }
        }
        let now = crate::store::now();
        self.store
            .prune_idempotency_keys(now - IDEMPOTENCY_KEPT)
            .await?;
        self.store.prune_changes(now - CHANGES_KEPT).await?;
        self.store
            .prune_deliveries((now - DELIVERIES_KEPT).timestamp_micros())
            .await?;
        self.erase_due_interests(now).await?;
        if released > 0 {
            self.interests_may_be_feasible();
            tracing::info!(released, "expired reservations released");
        }
        Ok(released)
    }
}

impl App {
    /// The keyed hash of a request body kept with its `Idempotency-Key`.
    fn request_hmac(&self, canonical_body: &str) -> String {
        use base64::Engine;
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.idempotency_secret)
            .expect("HMAC takes keys of any length");
        mac.update(canonical_body.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The answer to a request whose key was used before: the first status, and the
    /// reservation as it is now (an expired one without its personal data).
    async fn replayed(&self, answer: HoldOutcome) -> Result<Reserved, ReserveError> {
        match answer {
            HoldOutcome::Replay {
                status,
                reservation_id,
            } => Ok(Reserved {
                status,
                reservation: self.store.reservation(&reservation_id, false).await?,
                replayed: true,
            }),
            HoldOutcome::KeyReused => Err(ReserveError::KeyReused),
            HoldOutcome::NoFreePort => Err(ReserveError::NotFeasible(Reason::NoFreePorts)),
            HoldOutcome::Created(r) => Ok(Reserved {
                status: 201,
                reservation: *r,
                replayed: false,
            }),
        }
    }
}
