//! `POST /check`: can this point be served, by which plans, told without showing the network.
//!
//! One walk over the boxes within the radius gives a [`Coverage`]; every plan's verdict is
//! then worked out from it, instead of one feasibility query per plan.

use super::Coord;
use super::feasibility::{FeasibilityRequest, Reason, Stage};
use super::settings::Settings;
use super::validation::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `POST /check` as sent.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    // Options, so that a missing coordinate is reported with the others (`parse`).
    #[schema(required = true, nullable = false, minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(required = true, nullable = false, minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// The plan asked about; without it, any plan.
    #[schema(min_length = 1, max_length = 200)]
    pub plan_id: Option<String>,
}

/// A checked `POST /check`: the point and the radius in force; the plan is still to be
/// looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckParams {
    pub at: Coord,
    pub radius_m: f64,
    pub plan_id: Option<String>,
}

impl CheckRequest {
    /// Checks the fields as `POST /feasibility` does (same bounds, same messages), at the
    /// default radius in force.
    pub fn parse(&self, settings: &Settings) -> Result<CheckParams, Invalid> {
        let as_feasibility = FeasibilityRequest {
            lat: self.lat,
            lon: self.lon,
            plan_id: self.plan_id.clone(),
            ..Default::default()
        };
        let p = as_feasibility.parse(settings)?;
        Ok(CheckParams {
            at: p.at,
            radius_m: p.options.radius_m,
            plan_id: p.options.plan_id,
        })
    }
}

/// What the boxes within the radius offer, enough to give any set of tags its stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Some box, of any status, lies within the radius.
    pub any_box: bool,
    /// The distinct region tag sets (sorted) of deployed boxes with a free attendance port.
    pub free: BTreeSet<Vec<String>>,
    /// The same for deployed boxes without one.
    pub full: BTreeSet<Vec<String>>,
}

impl Coverage {
    /// The furthest stage a box reaches with `tags` in force (empty: no region restriction),
    /// exactly as the feasibility query would find it.
    pub fn furthest(&self, tags: &[String]) -> Option<Stage> {
        let serves = |region_tags: &Vec<String>| {
            tags.is_empty() || tags.iter().any(|t| region_tags.contains(t))
        };
        if self.free.iter().any(serves) {
            Some(Stage::Candidate)
        } else if self.full.iter().any(serves) {
            Some(Stage::InPlanRegion)
        } else if !self.free.is_empty() || !self.full.is_empty() {
            Some(Stage::Deployed)
        } else if self.any_box {
            Some(Stage::InRadius)
        } else {
            None
        }
    }

    /// Adds what another project offers.
    pub fn merge(&mut self, other: Coverage) {
        self.any_box |= other.any_box;
        self.free.extend(other.free);
        self.full.extend(other.full);
    }
}

/// The answer of `POST /check`: never a box, a coordinate, a distance or a port count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CheckAnswer {
    pub feasible: bool,
    /// Why not, when not feasible; always present (null when feasible).
    #[schema(required = true)]
    pub reason: Option<Reason>,
    /// Ids of every plan feasible at the point, sorted.
    pub plans: Vec<String>,
}

/// The answer for `asked` (the tags of the plan asked about; `None`: any plan), given the
/// coverage and every plan as (id, tags) in id order.
pub fn answer<'a>(
    coverage: &Coverage,
    plans: impl IntoIterator<Item = (&'a str, &'a [String])>,
    asked: Option<&[String]>,
) -> CheckAnswer {
    let feasible_plans: Vec<String> = plans
        .into_iter()
        .filter(|(_, tags)| coverage.furthest(tags) == Some(Stage::Candidate))
        .map(|(id, _)| id.to_owned())
        .collect();
    let reason = match asked {
        Some(tags) => Reason::from_furthest(coverage.furthest(tags)),
        // Feasible with no plan, yet no plan is sold there: no plan is available.
        None => Reason::from_furthest(coverage.furthest(&[]))
            .or((feasible_plans.is_empty()).then_some(Reason::PlanNotAvailable)),
    };
    CheckAnswer {
        feasible: reason.is_none(),
        reason,
        plans: feasible_plans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn coverage(free: &[&[&str]], full: &[&[&str]]) -> Coverage {
        Coverage {
            any_box: true,
            free: free.iter().map(|t| tags(t)).collect(),
            full: full.iter().map(|t| tags(t)).collect(),
        }
    }

    #[test]
    fn no_box_in_the_radius_is_no_coverage() {
        assert_eq!(Coverage::default().furthest(&[]), None);
        assert_eq!(Coverage::default().furthest(&tags(&["fibra"])), None);
    }

    #[test]
    fn only_undeployed_boxes_stop_at_the_radius() {
        let c = Coverage {
            any_box: true,
            ..Default::default()
        };
        assert_eq!(c.furthest(&tags(&["fibra"])), Some(Stage::InRadius));
    }

    #[test]
    fn a_plan_needs_a_free_box_in_a_region_bearing_one_of_its_tags() {
        let c = coverage(&[&["centro", "fibra"]], &[&["empresa"]]);
        assert_eq!(c.furthest(&tags(&["fibra"])), Some(Stage::Candidate));
        assert_eq!(c.furthest(&tags(&["x", "centro"])), Some(Stage::Candidate));
        assert_eq!(c.furthest(&tags(&["empresa"])), Some(Stage::InPlanRegion));
        assert_eq!(c.furthest(&tags(&["x"])), Some(Stage::Deployed));
    }

    #[test]
    fn without_tags_any_deployed_box_is_in_the_plan_region() {
        assert_eq!(
            coverage(&[], &[&[]]).furthest(&[]),
            Some(Stage::InPlanRegion)
        );
        assert_eq!(coverage(&[&[]], &[]).furthest(&[]), Some(Stage::Candidate));
        // A box in no region serves a plan without tags only.
        assert_eq!(
            coverage(&[&[]], &[]).furthest(&tags(&["fibra"])),
            Some(Stage::Deployed)
        );
    }

    fn plans() -> Vec<(String, Vec<String>)> {
        vec![
            ("empresa".into(), tags(&["centro"])),
            ("fibra-600".into(), tags(&["fibra"])),
            ("nowhere".into(), tags(&["x"])),
        ]
    }

    fn ask(c: &Coverage, asked: Option<&[&str]>) -> CheckAnswer {
        let p = plans();
        let asked = asked.map(tags);
        answer(
            c,
            p.iter().map(|(id, t)| (id.as_str(), t.as_slice())),
            asked.as_deref(),
        )
    }

    #[test]
    fn every_feasible_plan_is_listed_whatever_is_asked() {
        let c = coverage(&[&["fibra"]], &[&["centro"]]);
        let a = ask(&c, Some(&["centro"]));
        assert_eq!(a.reason, Some(Reason::NoFreePorts));
        assert!(!a.feasible);
        assert_eq!(a.plans, ["fibra-600"]);
        let a = ask(&c, Some(&["fibra"]));
        assert_eq!((a.feasible, a.reason), (true, None));
        assert_eq!(ask(&c, Some(&["x"])).reason, Some(Reason::PlanNotAvailable));
    }

    #[test]
    fn without_a_plan_the_reason_is_that_of_no_plan_then_of_no_plan_sold() {
        let a = ask(&coverage(&[&["fibra"]], &[]), None);
        assert_eq!((a.feasible, a.reason), (true, None));
        // Feasible with no plan, but only in a region no plan is sold in.
        let a = ask(&coverage(&[&["other"]], &[]), None);
        assert_eq!(a.reason, Some(Reason::PlanNotAvailable));
        assert!(a.plans.is_empty());
        // Full boxes only: the reason of /feasibility with no plan.
        let a = ask(&coverage(&[], &[&["fibra"]]), None);
        assert_eq!(a.reason, Some(Reason::NoFreePorts));
        assert_eq!(
            ask(&Coverage::default(), None).reason,
            Some(Reason::NoCoverage)
        );
    }

    #[test]
    fn the_check_is_parsed_at_the_default_radius_with_the_feasibility_bounds() {
        let s = Settings::default();
        let r = CheckRequest {
            lat: Some(-23.5),
            lon: Some(-46.6),
            plan_id: None,
        };
        assert_eq!(r.parse(&s).unwrap().radius_m, s.default_radius_m);
        let bad = CheckRequest {
            lat: Some(90.5),
            lon: None,
            plan_id: Some(String::new()),
        };
        let fields: Vec<_> = bad
            .parse(&s)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["lon", "lat", "plan_id"]);
    }
}
