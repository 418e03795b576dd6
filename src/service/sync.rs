//! Following the other replicas: every committed write adds a row to the change log (and,
//! on PostgreSQL, sends a notification once committed). Each replica applies the rows newer than the last it
//! applied. Versions can commit out of order or leave a hole (a rolled-back transaction):
//! rows after a hole are applied at once, and a hole still open after a few seconds is
//! taken as rolled back and answered with a full reload, so a lost notification or a gap
//! can never leave a replica stale for long.

use super::App;
use crate::store::{Change, StoreError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// How long a hole in the versions may stay open before it counts as a rollback.
const HOLE_PATIENCE: Duration = Duration::from_secs(5);
/// How often a replica looks at the change log without being notified.
pub const POLL: Duration = Duration::from_secs(1);

/// Where this replica is in the change log.
#[derive(Debug, Default)]
pub struct Position {
    /// Every version up to this one is applied.
    applied: i64,
    /// Versions above `applied` already applied.
    seen: BTreeSet<i64>,
    /// When each open hole was first noticed.
    holes: BTreeMap<i64, Instant>,
}

impl Position {
    pub fn at(version: i64) -> Self {
        Self {
            applied: version,
            ..Self::default()
        }
    }

    /// Advances `applied` over every version seen, and says whether a full reload is due:
    /// when a hole stayed open longer than [`HOLE_PATIENCE`] (taken as rolled back, though
    /// it might have hidden a change), or when versions not yet applied were pruned from
    /// the log (`oldest_kept` is the oldest version it still has).
    fn advance(&mut self, oldest_kept: Option<i64>, now: Instant) -> bool {
        let mut reload = false;
        if let Some(oldest) = oldest_kept
            && oldest > self.applied + 1
        {
            self.applied = oldest - 1;
            let applied = self.applied;
            self.seen.retain(|&v| v > applied);
            self.holes.retain(|&v, _| v > applied);
            reload = true;
        }
        loop {
            let next = self.applied + 1;
            if self.seen.remove(&next) {
                self.applied = next;
                self.holes.remove(&next);
            } else if self.seen.is_empty() {
                break;
            } else if now.duration_since(*self.holes.entry(next).or_insert(now)) > HOLE_PATIENCE {
                self.applied = next;
                self.holes.remove(&next);
                reload = true;
            } else {
                break;
            }
        }
        reload
    }
}

impl App {
    /// Applies the committed changes this replica has not applied yet; returns how many.
    pub async fn follow_changes(&self) -> Result<usize, StoreError> {
        let mut pos = self.position.lock().await;
        let changes = self.store.changes_since(pos.applied, 1000).await?;
        // After the read: a change marked while it ran is in `changes` or newer, so its
        // mark is not lost.
        let here = std::mem::take(&mut *self.applied_here.lock().expect("not poisoned"));
        let applied_before = pos.applied;
        pos.seen
            .extend(here.into_iter().filter(|&v| v > applied_before));
        let mut applied = 0;
        for c in &changes {
            if pos.seen.contains(&c.version) {
                continue;
            }
            self.apply_change(c).await?;
            pos.seen.insert(c.version);
            applied += 1;
            let lag = (crate::store::now().timestamp_micros() - c.created_at).max(0) as f64 / 1e6;
            crate::metrics::sync_lag(lag);
        }
        if changes.is_empty() {
            crate::metrics::sync_lag(0.0);
        }
        // A gap before the first row read may be the log's pruning (see `expire_overdue`).
        let oldest_kept = match changes.first() {
            Some(c) if c.version > applied_before + 1 => self.store.oldest_change().await?,
            _ => None,
        };
        let reload = pos.advance(oldest_kept, Instant::now());
        crate::metrics::change_applied(pos.applied);
        drop(pos);
        if reload {
            self.reload_all().await?;
        }
        Ok(applied)
    }

    /// Records that this replica already applied the change `version` itself (taken into
    /// the position when the log is next read, so that a writer never waits for the
    /// follower).
    pub(super) fn mark_applied(&self, version: i64) {
        let mut here = self.applied_here.lock().expect("not poisoned");
        // Only a saving: a mark dropped means one change applied twice, which is harmless.
        if here.len() >= 10_000 {
            here.clear();
        }
        here.push(version);
    }

    async fn apply_change(&self, c: &Change) -> Result<(), StoreError> {
        match c.kind.as_str() {
            "project" => {
                let _guard = self.refresher.reload.write().await;
                let index = self.store.load_project_index(&c.subject).await?;
                self.index.replace_project(index);
            }
            "splitters" => {
                self.refresh_splitters(&crate::store::splitters_of(&c.subject))
                    .await;
            }
            "plans" => self.reload_plans().await?,
            "integrations" => self.reload_credentials().await?,
            "settings" => self.reload_settings().await?,
            // Webhooks are read from the store where they are used; nothing is kept here.
            "webhooks" => {}
            other => tracing::warn!(kind = other, "unknown change kind ignored"),
        }
        Ok(())
    }

    /// Everything from the database again: index, plans, settings.
    pub async fn reload_all(&self) -> Result<(), StoreError> {
        self.reload_index().await?;
        self.reload_plans().await?;
        self.reload_credentials().await?;
        self.reload_settings().await
    }

    /// Follows the change log until the service stops: woken by other replicas'
    /// notifications, and every second regardless (this replica's own changes are applied
    /// where they are made). A lost listening connection means notifications may have been
    /// missed: everything is reloaded.
    pub async fn follow_forever(&self) {
        let mut listener = None;
        let mut last_followed = Instant::now();
        while !self.is_stopping() {
            if listener.is_none() {
                match self.store.listener().await {
                    Ok(l) => listener = l,
                    Err(e) => tracing::warn!(error = %e, "cannot listen for changes; polling"),
                }
            }
            let wait = POLL.saturating_sub(last_followed.elapsed());
            match listener.as_mut() {
                Some(l) => match tokio::time::timeout(wait, l.try_recv()).await {
                    Ok(Ok(Some(n))) => {
                        let mut foreign = !self.store.sent_here(n.payload());
                        // Notifications come in bursts: one read of the log answers them all.
                        while let Some(n) = l.next_buffered() {
                            foreign |= !self.store.sent_here(n.payload());
                        }
                        if !foreign && last_followed.elapsed() < POLL {
                            continue;
                        }
                    }
                    Err(_) => {}
                    Ok(Ok(None)) => {
                        tracing::warn!(
                            "change notifications were interrupted; reloading everything"
                        );
                        if let Err(e) = self.reload_all().await {
                            tracing::warn!(error = %e, "reload failed; retrying");
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "change listener failed; reconnecting");
                        listener = None;
                        tokio::time::sleep(POLL).await;
                    }
                },
                None => tokio::time::sleep(wait).await,
            }
            last_followed = Instant::now();
            if let Err(e) = self.follow_changes().await {
                tracing::warn!(error = %e, "cannot read the change log; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(pos: &mut Position, versions: &[i64]) {
        pos.seen.extend(versions);
    }

    #[test]
    fn versions_in_a_row_are_applied_without_a_reload() {
        let mut pos = Position::at(3);
        seen(&mut pos, &[4, 5, 6]);
        assert!(!pos.advance(None, Instant::now()));
        assert_eq!(pos.applied, 6);
        assert!(pos.seen.is_empty() && pos.holes.is_empty());
    }

    #[test]
    fn a_hole_waits_then_counts_as_rolled_back_and_reloads() {
        let t0 = Instant::now();
        let mut pos = Position::at(3);
        seen(&mut pos, &[5, 6]);
        assert!(!pos.advance(None, t0));
        assert_eq!(pos.applied, 3, "4 may still commit");
        // It commits within the patience: applied in order, no reload.
        let mut late = Position::at(3);
        seen(&mut late, &[5, 6]);
        late.advance(None, t0);
        seen(&mut late, &[4]);
        assert!(!late.advance(None, t0 + Duration::from_secs(1)));
        assert_eq!(late.applied, 6);
        // It never does: skipped with a reload after the patience.
        assert!(!pos.advance(None, t0 + HOLE_PATIENCE));
        assert!(pos.advance(None, t0 + HOLE_PATIENCE + Duration::from_millis(1)));
        assert_eq!(pos.applied, 6);
        assert!(pos.holes.is_empty());
    }

    #[test]
    fn versions_pruned_before_they_were_applied_jump_at_once_with_a_reload() {
        let mut pos = Position::at(10);
        seen(&mut pos, &[5000, 5001]);
        assert!(pos.advance(Some(5000), Instant::now()));
        assert_eq!(pos.applied, 5001);
        // Nothing pruned that this replica needed: no reload.
        let mut current = Position::at(10);
        seen(&mut current, &[12]);
        assert!(!current.advance(Some(3), Instant::now()));
        assert_eq!(current.applied, 10);
    }
}
