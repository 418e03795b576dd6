//! The feasibility question as one request sees it: the plans and the index taken once,
//! and the rule's inputs (the plan's tags in force, the projects searched) resolved in one
//! place for `POST /feasibility`, reservations and batches alike.

use super::{App, FeasibilityError};
use crate::domain::Coord;
use crate::domain::feasibility::{FeasibilityOptions, ProjectScope, tags_in_force};
use crate::domain::network::Plan;
use crate::index::{Answer, Query, Snapshot};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The plans and the index as they were when a request came in: every point of a batch
/// is answered from the same state, whatever imports land meanwhile.
#[derive(Debug, Clone)]
pub struct View {
    plans: Arc<BTreeMap<String, Plan>>,
    index: Snapshot,
}

/// A question resolved against a [`View`]: what each of its points is checked against.
#[derive(Debug, Clone)]
pub struct Rule {
    pub radius_m: f64,
    pub limit: usize,
    /// The plan's tags together with the request's, sorted and distinct.
    pub tags: Vec<String>,
    /// The caller's projects narrowed by the request's.
    pub scope: ProjectScope,
}

impl View {
    /// A view of plans and an index loaded outside a running service (the CLI).
    pub fn new(plans: Vec<Plan>, index: Snapshot) -> Self {
        Self {
            plans: Arc::new(plans.into_iter().map(|p| (p.id.clone(), p)).collect()),
            index,
        }
    }

    /// The rule of `options` for a caller that may see `scope`.
    pub fn rule(
        &self,
        options: &FeasibilityOptions,
        scope: &ProjectScope,
    ) -> Result<Rule, FeasibilityError> {
        self.rule_with_plan(options.plan_id.as_deref(), options, scope)
    }

    /// The rule of `options` with `plan_id` in place of theirs (a batch item's own plan).
    pub fn rule_with_plan(
        &self,
        plan_id: Option<&str>,
        options: &FeasibilityOptions,
        scope: &ProjectScope,
    ) -> Result<Rule, FeasibilityError> {
        let plan_tags = match plan_id {
            Some(id) => {
                &self
                    .plans
                    .get(id)
                    .ok_or_else(|| FeasibilityError::UnknownPlan(id.to_owned()))?
                    .tags
            }
            None => &Vec::new(),
        };
        Ok(Rule {
            radius_m: options.radius_m,
            limit: options.limit,
            tags: tags_in_force(plan_tags, &options.tags),
            scope: scope.narrow(options.projects.as_deref()),
        })
    }

    /// The rule's answer at one point.
    pub fn answer(&self, rule: &Rule, at: Coord) -> Answer {
        self.index.query(&self.query(rule, at, rule.limit))
    }

    /// The index query of the rule at one point, with its own candidate limit.
    pub fn query<'a>(&self, rule: &'a Rule, at: Coord, limit: usize) -> Query<'a> {
        Query {
            at,
            radius_m: rule.radius_m,
            tags: &rule.tags,
            scope: &rule.scope,
            limit,
        }
    }
}

impl App {
    /// The plans and the index as they are now, for one request.
    pub fn view(&self) -> View {
        View {
            plans: self.plans.load_full(),
            index: self.index.snapshot(),
        }
    }
}
