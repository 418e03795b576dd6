//! `POST /check`: feasibility at the default radius for the plan asked about and for every
//! plan at once, from one walk over the index.

use super::{App, FeasibilityError};
use crate::domain::check::{self, CheckAnswer, CheckRequest};
use crate::domain::feasibility::{ProjectScope, tags_in_force};

impl App {
    /// Whether the plan asked about (or any plan) can be sold at the point, and which plans
    /// can, for a caller that may see `scope`.
    pub fn check(
        &self,
        req: &CheckRequest,
        scope: &ProjectScope,
    ) -> Result<CheckAnswer, FeasibilityError> {
        let params = req.parse(&self.settings())?;
        let plans = self.plans.load();
        // As the feasibility query sees them: sorted, distinct.
        let tags: Vec<(&str, Vec<String>)> = plans
            .values()
            .map(|p| (p.id.as_str(), tags_in_force(&p.tags, &[])))
            .collect();
        let asked = match &params.plan_id {
            Some(id) => Some(
                tags.iter()
                    .find(|(p, _)| p == id)
                    .map(|(_, t)| t.as_slice())
                    .ok_or_else(|| FeasibilityError::UnknownPlan(id.clone()))?,
            ),
            None => None,
        };
        let coverage = self.index.coverage(params.at, params.radius_m, scope);
        let answer = check::answer(
            &coverage,
            tags.iter().map(|(id, t)| (*id, t.as_slice())),
            asked,
        );
        crate::metrics::feasibility_answer(answer.reason);
        self.count_demand(params.at, params.plan_id.as_deref(), answer.reason);
        Ok(answer)
    }
}
