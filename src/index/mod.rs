//! The in-memory index: one R-tree per project, swapped whole when a project changes.
//!
//! Queries read a snapshot (`ArcSwap`), so an import being loaded never blocks them and no
//! query ever sees half of one. The index is only ever rebuilt from the store.

mod arena;
mod project;
mod tree;

pub use project::{Candidate, MapBox, ProjectBuilder, ProjectIndex};

use crate::domain::Coord;
use crate::domain::check::Coverage;
use crate::domain::feasibility::{ProjectScope, Reason};
use arc_swap::ArcSwap;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

type Projects = BTreeMap<String, Arc<ProjectIndex>>;

/// A feasibility query against the index.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub at: Coord,
    pub radius_m: f64,
    /// The tags in force; empty means no region restriction.
    pub tags: &'a [String],
    pub scope: &'a ProjectScope,
    pub limit: usize,
}

/// The answer: candidates nearest first, or the reason there are none.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub reason: Option<Reason>,
    pub candidates: Vec<Candidate>,
}

/// The projects as they were at one moment: every query on it sees that state (free
/// ports excepted, which holds change in place).
#[derive(Debug, Clone, Default)]
pub struct Snapshot(Arc<Projects>);

impl Snapshot {
    /// Runs the feasibility rule over every project the scope allows.
    pub fn query(&self, q: &Query<'_>) -> Answer {
        query(&self.0, q)
    }
}

#[derive(Debug, Default)]
pub struct Index {
    projects: ArcSwap<Projects>,
    loaded: AtomicBool,
}

impl Index {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a full load has completed since start.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Replaces everything (a full load).
    pub fn replace_all(&self, projects: Vec<ProjectIndex>) {
        let map: Projects = projects
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| (p.project().to_owned(), Arc::new(p)))
            .collect();
        self.projects.store(Arc::new(map));
        self.loaded.store(true, Ordering::Release);
    }

    /// Replaces one project (after an import); an empty project is dropped.
    pub fn replace_project(&self, index: ProjectIndex) {
        let index = Arc::new(index);
        self.projects.rcu(|current| {
            let mut next = Projects::clone(current);
            if index.is_empty() {
                next.remove(index.project());
            } else {
                next.insert(index.project().to_owned(), Arc::clone(&index));
            }
            next
        });
    }

    /// The project's current index, if it has boxes.
    pub fn project(&self, project: &str) -> Option<Arc<ProjectIndex>> {
        self.projects.load().get(project).cloned()
    }

    /// Boxes in the index.
    pub fn len(&self) -> usize {
        self.projects.load().values().map(|p| p.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held by all project indexes.
    pub fn memory_bytes(&self) -> usize {
        self.projects
            .load()
            .values()
            .map(|p| p.memory_bytes())
            .sum()
    }

    /// Hands `f` the boxes in `bbox` of every project the scope allows (see
    /// [`ProjectIndex::each_in_bbox`]), until it returns false.
    pub fn each_in_bbox(
        &self,
        bbox: [f64; 4],
        scope: &ProjectScope,
        f: &mut dyn FnMut(MapBox<'_>) -> bool,
    ) {
        let projects = self.projects.load();
        for p in projects.values().filter(|p| scope.allows(p.project())) {
            if !p.each_in_bbox(bbox, f) {
                return;
            }
        }
    }

    /// The feasibility rule for one box the scope allows: the candidate, or the reason it is
    /// not one (an unknown or invisible box is `no_coverage`).
    pub fn evaluate(&self, box_id: &str, q: &Query<'_>) -> Result<Candidate, Reason> {
        let projects = self.projects.load();
        for p in projects.values().filter(|p| q.scope.allows(p.project())) {
            if let Some(verdict) = p.evaluate(box_id, q.at, q.radius_m, q.tags) {
                return verdict
                    .map_err(|stage| Reason::from_furthest(stage).unwrap_or(Reason::NoCoverage));
            }
        }
        Err(Reason::NoCoverage)
    }

    /// What the boxes within the radius offer, over every project the scope allows: every
    /// plan's verdict at the point follows from it (`domain::check`).
    pub fn coverage(&self, at: Coord, radius_m: f64, scope: &ProjectScope) -> Coverage {
        let projects = self.projects.load();
        let mut coverage = Coverage::default();
        for p in projects.values().filter(|p| scope.allows(p.project())) {
            coverage.merge(p.coverage(at, radius_m));
        }
        coverage
    }

    /// The projects as they are now, for a request that asks many questions.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.projects.load_full())
    }

    /// Runs the feasibility rule over every project the scope allows.
    pub fn query(&self, q: &Query<'_>) -> Answer {
        query(&self.projects.load(), q)
    }
}

fn query(projects: &Projects, q: &Query<'_>) -> Answer {
    let mut furthest = None;
    let mut candidates: Vec<Candidate> = Vec::new();
    for p in projects.values().filter(|p| q.scope.allows(p.project())) {
        let hits = p.query(q.at, q.radius_m, q.tags, q.limit);
        furthest = furthest.max(hits.furthest);
        if candidates.is_empty() {
            candidates = hits.candidates;
        } else {
            candidates.extend(hits.candidates);
        }
    }
    candidates.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then_with(|| a.box_id().cmp(b.box_id()))
    });
    candidates.truncate(q.limit);
    Answer {
        reason: Reason::from_furthest(furthest),
        candidates,
    }
}
