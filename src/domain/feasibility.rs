//! The feasibility rule: which boxes can serve an address, and why not when none can.

use super::network::{check_text, normalise_tags};
use super::settings::Settings;
use super::validation::Invalid;
use super::{Coord, CoordError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The most candidates one answer lists.
pub const MAX_LIMIT: i64 = 50;
/// Candidates listed when the caller does not say.
pub const DEFAULT_LIMIT: i64 = 5;

/// How far a box got through the feasibility stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Within the radius, but not deployed.
    InRadius,
    /// Deployed, but not inside a region bearing a tag in force.
    Deployed,
    /// In a region of the plan, but no attendance splitter has a free port.
    InPlanRegion,
    /// A candidate.
    Candidate,
}

/// Why an address is not feasible: the stage that stopped the box that got furthest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    NoCoverage,
    NetworkNotDeployed,
    PlanNotAvailable,
    NoFreePorts,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Self::NoCoverage,
        Self::NetworkNotDeployed,
        Self::PlanNotAvailable,
        Self::NoFreePorts,
    ];

    /// The reason given the furthest stage any box in the radius reached (`None`: no box).
    /// `None` back means feasible.
    pub fn from_furthest(stage: Option<Stage>) -> Option<Reason> {
        match stage {
            None => Some(Self::NoCoverage),
            Some(Stage::InRadius) => Some(Self::NetworkNotDeployed),
            Some(Stage::Deployed) => Some(Self::PlanNotAvailable),
            Some(Stage::InPlanRegion) => Some(Self::NoFreePorts),
            Some(Stage::Candidate) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCoverage => "no_coverage",
            Self::NetworkNotDeployed => "network_not_deployed",
            Self::PlanNotAvailable => "plan_not_available",
            Self::NoFreePorts => "no_free_ports",
        }
    }
}

/// The projects a query may see: the token's, narrowed by the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    All,
    Only(BTreeSet<String>),
}

impl ProjectScope {
    /// From a token's `projects` claim: `["*"]` means every project.
    pub fn from_claim(projects: &[String]) -> Self {
        if projects.iter().any(|p| p == "*") {
            Self::All
        } else {
            Self::Only(projects.iter().cloned().collect())
        }
    }

    pub fn allows(&self, project: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(set) => set.contains(project),
        }
    }

    /// This scope narrowed to the requested projects, when any are requested.
    pub fn narrow(&self, requested: Option<&[String]>) -> Self {
        match requested {
            None => self.clone(),
            Some(req) => Self::Only(req.iter().filter(|p| self.allows(p)).cloned().collect()),
        }
    }
}

/// `POST /feasibility` (and the location part of `POST /reservations`) as sent.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeasibilityRequest {
    // Options, so that a missing coordinate is reported with the others (`parse`).
    #[schema(required = true, nullable = false, minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(required = true, nullable = false, minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    #[schema(min_length = 1, max_length = 200)]
    pub plan_id: Option<String>,
    #[serde(default)]
    #[schema(inline, value_type = Vec<Text>)]
    pub tags: Vec<String>,
    /// Metres, up to the `max_radius_m` setting; default the `default_radius_m` setting.
    #[schema(exclusive_minimum = 0, maximum = 100000)]
    pub radius_m: Option<f64>,
    /// Candidates answered at most (default 5).
    #[schema(minimum = 1, maximum = 50)]
    pub limit: Option<i64>,
    /// Narrows the token's projects.
    #[schema(value_type = Option<Vec<Text>>)]
    pub projects: Option<Vec<String>>,
}

/// Text of 1 to 200 characters, no control characters.
#[derive(utoipa::ToSchema)]
#[schema(min_length = 1, max_length = 200)]
pub struct Text(#[allow(dead_code)] String);

/// A checked feasibility request; the plan is still to be looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct FeasibilityParams {
    pub at: Coord,
    pub options: FeasibilityOptions,
}

/// What every point of a question is checked against (the whole request of
/// `POST /feasibility` but its point; a batch's fields but its items).
#[derive(Debug, Clone, PartialEq)]
pub struct FeasibilityOptions {
    pub radius_m: f64,
    pub limit: usize,
    pub plan_id: Option<String>,
    pub tags: Vec<String>,
    pub projects: Option<Vec<String>>,
}

/// The options as sent, borrowed from a request or a batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionsIn<'a> {
    pub radius_m: Option<f64>,
    pub limit: Option<i64>,
    pub plan_id: Option<&'a str>,
    pub tags: &'a [String],
    pub projects: Option<&'a [String]>,
}

impl OptionsIn<'_> {
    /// Checks every field against the settings in force, adding each problem to `invalid`;
    /// `default_limit` is the request kind's (5 for one point, 1 for a batch).
    pub fn parse(
        &self,
        default_limit: i64,
        settings: &Settings,
        invalid: &mut Invalid,
    ) -> FeasibilityOptions {
        let radius_m = self.radius_m.unwrap_or(settings.default_radius_m);
        if !(radius_m.is_finite() && radius_m > 0.0) {
            invalid.add("radius_m", "must be greater than 0");
        } else if radius_m > settings.max_radius_m {
            invalid.add(
                "radius_m",
                format!("must not exceed max_radius_m ({})", settings.max_radius_m),
            );
        }
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=MAX_LIMIT).contains(&limit) {
            invalid.add("limit", format!("must be between 1 and {MAX_LIMIT}"));
        }
        if let Some(plan) = self.plan_id
            && let Err(m) = check_text(plan)
        {
            invalid.add("plan_id", m);
        }
        for (i, t) in self.tags.iter().enumerate() {
            if let Err(m) = check_text(t) {
                invalid.add(format!("tags[{i}]"), m);
            }
        }
        for (i, p) in self.projects.iter().copied().flatten().enumerate() {
            if let Err(m) = check_text(p) {
                invalid.add(format!("projects[{i}]"), m);
            }
        }
        FeasibilityOptions {
            radius_m,
            limit: limit.clamp(1, MAX_LIMIT) as usize,
            plan_id: self.plan_id.map(str::to_owned),
            tags: self.tags.to_vec(),
            projects: self.projects.map(<[String]>::to_vec),
        }
    }
}

/// Checks a point given as `lat` and `lon`, adding each problem to `invalid` (the origin
/// stands in for a refused point).
pub fn parse_point(lat: Option<f64>, lon: Option<f64>, invalid: &mut Invalid) -> Coord {
    let lat = lat.unwrap_or_else(|| {
        invalid.add("lat", "is required");
        0.0
    });
    let lon = lon.unwrap_or_else(|| {
        invalid.add("lon", "is required");
        0.0
    });
    Coord::parse(lat, lon).unwrap_or_else(|e| {
        let field = if e == CoordError::Lat { "lat" } else { "lon" };
        invalid.add(field, e);
        Coord::parse(0.0, 0.0).expect("origin is a position")
    })
}

impl FeasibilityRequest {
    /// Checks every field against the settings in force, reporting all problems at once.
    pub fn parse(&self, settings: &Settings) -> Result<FeasibilityParams, Invalid> {
        let mut invalid = Invalid::default();
        let at = parse_point(self.lat, self.lon, &mut invalid);
        let options = OptionsIn {
            radius_m: self.radius_m,
            limit: self.limit,
            plan_id: self.plan_id.as_deref(),
            tags: &self.tags,
            projects: self.projects.as_deref(),
        }
        .parse(DEFAULT_LIMIT, settings, &mut invalid);
        invalid.or_ok(FeasibilityParams { at, options })
    }
}

/// The tags in force: the plan's together with the request's, sorted and distinct.
pub fn tags_in_force(plan_tags: &[String], request_tags: &[String]) -> Vec<String> {
    normalise_tags(plan_tags.iter().chain(request_tags).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(lat: f64, lon: f64) -> FeasibilityRequest {
        FeasibilityRequest {
            lat: Some(lat),
            lon: Some(lon),
            ..Default::default()
        }
    }

    #[test]
    fn the_reason_is_that_of_the_furthest_stage() {
        assert_eq!(Reason::from_furthest(None), Some(Reason::NoCoverage));
        assert_eq!(
            Reason::from_furthest(Some(Stage::InRadius)),
            Some(Reason::NetworkNotDeployed)
        );
        assert_eq!(
            Reason::from_furthest(Some(Stage::Deployed)),
            Some(Reason::PlanNotAvailable)
        );
        assert_eq!(
            Reason::from_furthest(Some(Stage::InPlanRegion)),
            Some(Reason::NoFreePorts)
        );
        assert_eq!(Reason::from_furthest(Some(Stage::Candidate)), None);
    }

    #[test]
    fn all_reasons_are_listed_in_declaration_order() {
        for (i, r) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(r as usize, i, "{r:?}");
        }
    }

    #[test]
    fn the_radius_defaults_to_the_setting_and_may_not_exceed_the_maximum() {
        let s = Settings::default();
        assert_eq!(req(0.0, 0.0).parse(&s).unwrap().options.radius_m, 250.0);
        let mut r = req(0.0, 0.0);
        r.radius_m = Some(2000.5);
        assert_eq!(r.parse(&s).unwrap_err().0[0].field, "radius_m");
        r.radius_m = Some(2000.0);
        assert!(r.parse(&s).is_ok());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let r = FeasibilityRequest {
            lat: Some(91.0),
            lon: None,
            limit: Some(0),
            ..Default::default()
        };
        let fields: Vec<_> = r
            .parse(&Settings::default())
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["lon", "lat", "limit"]);
    }

    #[test]
    fn tags_in_force_join_plan_and_request() {
        let t = tags_in_force(&["fibra".into(), "centro".into()], &["centro".into()]);
        assert_eq!(t, ["centro", "fibra"]);
    }

    #[test]
    fn requested_projects_only_narrow_the_token() {
        let token = ProjectScope::from_claim(&["a".into(), "b".into()]);
        let n = token.narrow(Some(&["b".into(), "c".into()]));
        assert!(n.allows("b") && !n.allows("a") && !n.allows("c"));
        assert_eq!(
            ProjectScope::from_claim(&["*".into()]).narrow(None),
            ProjectScope::All
        );
    }
}
