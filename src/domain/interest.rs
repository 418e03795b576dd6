//! Interests: a prospect told "not yet" asks to be told when the plan reaches the point.
//! The contact is personal data: `Debug` never shows it, and it is erased on schedule.

use super::Coord;
use super::feasibility::{FeasibilityRequest, ProjectScope};
use super::network::check_text;
use super::reservation::{Customer, CustomerInput, Location, MAX_ADDRESS, is_e164, is_email};
use super::validation::Invalid;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// How long the contact of a notified interest is kept after the notification.
pub const KEPT_AFTER_NOTICE: TimeDelta = TimeDelta::days(30);

/// `POST /interest` as sent.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterestRequest {
    #[schema(required = true, nullable = false, minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[schema(required = true, nullable = false, minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
    /// The plan the prospect wants.
    #[schema(required = true, nullable = false, min_length = 1, max_length = 200)]
    pub plan_id: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    pub address: Option<String>,
    /// `name`, and `email` or `phone` (or both).
    #[schema(required = true, nullable = false)]
    pub contact: Option<CustomerInput>,
    /// Must be `true`: the prospect agreed to be contacted.
    #[schema(required = true, nullable = false)]
    pub consent: Option<bool>,
    #[schema(min_length = 1, max_length = 200)]
    pub external_ref: Option<String>,
}

/// A checked interest, ready to store.
#[derive(Clone, PartialEq)]
pub struct NewInterest {
    pub at: Coord,
    pub plan_id: String,
    pub address: Option<String>,
    pub contact: Customer,
    pub external_ref: Option<String>,
}

impl std::fmt::Debug for NewInterest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewInterest")
            .field("plan_id", &self.plan_id)
            .finish_non_exhaustive()
    }
}

impl InterestRequest {
    /// Checks every field, reporting all problems at once.
    pub fn parse(&self) -> Result<NewInterest, Invalid> {
        let as_feasibility = FeasibilityRequest {
            lat: self.lat,
            lon: self.lon,
            ..Default::default()
        };
        let mut invalid = Invalid::default();
        let at = match as_feasibility.parse(&Default::default()) {
            Ok(p) => p.at,
            Err(e) => {
                invalid.0.extend(e.0);
                Coord::parse(0.0, 0.0).expect("origin is a position")
            }
        };
        let plan_id = match self.plan_id.as_deref().map(check_text) {
            Some(Ok(())) => self.plan_id.clone().unwrap_or_default(),
            Some(Err(m)) => {
                invalid.add("plan_id", m);
                String::new()
            }
            None => {
                invalid.add("plan_id", "is required");
                String::new()
            }
        };
        if self.consent != Some(true) {
            invalid.add(
                "consent",
                "must be true: the prospect agreed to be contacted",
            );
        }
        let empty = CustomerInput::default();
        let c = self.contact.as_ref().unwrap_or_else(|| {
            invalid.add("contact", "is required: name, and email or phone");
            &empty
        });
        let name = match c.name.as_deref().map(str::trim) {
            Some(n) if check_text(n).is_ok() => n.to_owned(),
            _ => {
                if self.contact.is_some() {
                    invalid.add("contact.name", "is required: 1 to 200 characters");
                }
                String::new()
            }
        };
        if let Some(p) = &c.phone
            && !is_e164(p)
        {
            invalid.add(
                "contact.phone",
                "must be an E.164 number such as +5511987654321",
            );
        }
        if let Some(e) = &c.email
            && !is_email(e)
        {
            invalid.add("contact.email", "must be an e-mail address");
        }
        if self.contact.is_some() && c.phone.is_none() && c.email.is_none() {
            invalid.add("contact.email", "email or phone is required");
        }
        let address = match self.address.as_deref().map(str::trim) {
            None => None,
            Some(a)
                if !a.is_empty()
                    && a.chars().count() <= MAX_ADDRESS
                    && !a.chars().any(char::is_control) =>
            {
                Some(a.to_owned())
            }
            Some(_) => {
                invalid.add("address", "must be 1 to 500 characters");
                None
            }
        };
        if let Some(r) = &self.external_ref
            && let Err(m) = check_text(r)
        {
            invalid.add("external_ref", m);
        }
        invalid.or_ok(NewInterest {
            at,
            plan_id,
            address,
            contact: Customer {
                name,
                phone: c.phone.clone(),
                email: c.email.clone(),
            },
            external_ref: self.external_ref.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InterestStatus {
    Waiting,
    Notified,
    Withdrawn,
    Lapsed,
}

impl InterestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Notified => "notified",
            Self::Withdrawn => "withdrawn",
            Self::Lapsed => "lapsed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Waiting, Self::Notified, Self::Withdrawn, Self::Lapsed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// An interest as `GET /interest/{id}` shows it.
#[derive(Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Interest {
    pub id: String,
    pub status: InterestStatus,
    pub plan_id: String,
    pub location: Location,
    /// Erased (null) with the contact.
    pub address: Option<String>,
    /// Erased (null) on `DELETE`, `interest_ttl_s` after registration, or 30 days after
    /// notification.
    pub contact: Option<Customer>,
    pub external_ref: Option<String>,
    pub created_by: String,
    /// Once notified: the box that can serve it, its project, and the distance to it.
    pub project: Option<String>,
    pub box_id: Option<String>,
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    /// When the contact was erased.
    pub erased_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Interest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interest")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Who registered an interest, for its re-checks and its visibility.
#[derive(Debug, Clone, PartialEq)]
pub struct Registrant {
    /// A key's integration, or a JWT's `sub`.
    pub created_by: String,
    /// An integration's key: its projects are read again at each re-check.
    pub by_key: bool,
    /// The projects it could see at registration.
    pub projects: ProjectScope,
}

/// An interest with who registered it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInterest {
    pub interest: Interest,
    pub registrant: Registrant,
}

impl StoredInterest {
    /// Whether a caller that sees `scope` sees it: once notified, by the project of its
    /// box; while not, when the caller sees every project, or the registrant saw only
    /// projects among the caller's (so nothing is shown outside a caller's projects).
    pub fn visible_in(&self, scope: &ProjectScope) -> bool {
        match (&self.interest.project, scope, &self.registrant.projects) {
            (_, ProjectScope::All, _) => true,
            (Some(p), s, _) => s.allows(p),
            (None, ProjectScope::Only(_), ProjectScope::All) => false,
            (None, ProjectScope::Only(mine), ProjectScope::Only(theirs)) => {
                !theirs.is_empty() && theirs.is_subset(mine)
            }
        }
    }
}

/// A scope as stored: the project ids, or `["*"]`.
pub fn scope_to_list(scope: &ProjectScope) -> Vec<String> {
    match scope {
        ProjectScope::All => vec!["*".into()],
        ProjectScope::Only(set) => set.iter().cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(v: serde_json::Value) -> InterestRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn consent_plan_name_and_a_way_to_reach_are_required() {
        let bad = request(json!({"lat": 1.0, "lon": 2.0, "contact": {"name": "A"}}))
            .parse()
            .unwrap_err();
        let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["plan_id", "consent", "contact.email"]);
        let bad = request(json!({"lat": 1.0, "lon": 2.0, "plan_id": "p", "consent": false}))
            .parse()
            .unwrap_err();
        let fields: Vec<&str> = bad.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["consent", "contact"]);
        let ok = request(
            json!({"lat": 1.0, "lon": 2.0, "plan_id": "p", "consent": true,
            "contact": {"name": "A", "phone": "+5511987654321"}}),
        )
        .parse()
        .unwrap();
        assert_eq!(ok.plan_id, "p");
        assert_eq!(ok.address, None);
    }

    #[test]
    fn waiting_interests_are_seen_only_by_callers_that_see_all_the_registrants_projects() {
        let only = |p: &[&str]| ProjectScope::Only(p.iter().map(|s| s.to_string()).collect());
        let mut s = StoredInterest {
            interest: Interest {
                id: "i".into(),
                status: InterestStatus::Waiting,
                plan_id: "p".into(),
                location: Location { lat: 0.0, lon: 0.0 },
                address: None,
                contact: None,
                external_ref: None,
                created_by: "x".into(),
                project: None,
                box_id: None,
                distance_m: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
                notified_at: None,
                erased_at: None,
            },
            registrant: Registrant {
                created_by: "x".into(),
                by_key: false,
                projects: only(&["p1"]),
            },
        };
        assert!(s.visible_in(&ProjectScope::All));
        assert!(s.visible_in(&only(&["p1", "p2"])));
        assert!(!s.visible_in(&only(&["p2"])));
        s.interest.project = Some("p2".into());
        assert!(s.visible_in(&only(&["p2"])));
        assert!(!s.visible_in(&only(&["p1"])));
    }
}
