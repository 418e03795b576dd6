//! Integrations: the partner systems that call the service, the modules they contracted
//! (and so the scopes their keys may have), their contacts and their keys.
//!
//! Pure rules only; the store keeps [`Integration`]s and key hashes, the service decides
//! when a rule applies.

mod contacts;
mod key;
mod material;
mod origin;
mod patch;

pub use contacts::{
    CONTACT_MEMBERS, Contacts, Day, MAX_CONTACTS, MAX_SUPPORT_HOURS, SupportHours,
    SupportHoursInput, check_support_hours, missing_contacts,
};
pub use key::{
    KeyKind, KeySpec, MAX_ALLOWED_ORIGINS, MAX_RATE_LIMIT_PER_MIN, NewKey,
    PUBLISHABLE_DEFAULT_RATE_LIMIT, powers,
};
pub use material::{KEY_PREFIX_LEN, generate_key, key_hash, looks_like_key};
pub use origin::check_origin;
pub use patch::PatchError;

use super::feasibility::ProjectScope;
use super::network::{check_project_id, check_text};
use super::validation::Invalid;
use crate::auth::Scope;
use chrono::{DateTime, Utc};
use contacts::null_as_default;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What an integration contracted; each module grants scopes to its keys.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Feasibility,
    Reservations,
    ReservationsManage,
    Inventory,
    Events,
    Demand,
}

impl Module {
    pub const ALL: [Module; 6] = [
        Self::Feasibility,
        Self::Reservations,
        Self::ReservationsManage,
        Self::Inventory,
        Self::Events,
        Self::Demand,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Feasibility => "feasibility",
            Self::Reservations => "reservations",
            Self::ReservationsManage => "reservations_manage",
            Self::Inventory => "inventory",
            Self::Events => "events",
            Self::Demand => "demand",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The scopes this module grants, as the contract maps them. No module grants `admin`.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Self::Feasibility => &[Scope::Feasibility],
            Self::Reservations => &[Scope::ReservationsWrite, Scope::ReservationsRead],
            Self::ReservationsManage => &[Scope::ReservationsManage, Scope::ReservationsRead],
            Self::Inventory => &[Scope::InventoryWrite],
            Self::Events => &[Scope::Events],
            Self::Demand => &[Scope::DemandRead],
        }
    }
}

/// Every scope that `modules` grant together.
pub fn granted(modules: &[Module]) -> BTreeSet<Scope> {
    modules.iter().flat_map(|m| m.scopes()).copied().collect()
}

/// The module to name when a caller lacks `scope` (`insufficient_scope`): the smallest
/// that grants it (`reservations` for `reservations:read`). `None` for `admin`, which no
/// module grants.
pub fn missing_module(scope: Scope) -> Option<Module> {
    match scope {
        Scope::Feasibility => Some(Module::Feasibility),
        Scope::ReservationsWrite | Scope::ReservationsRead => Some(Module::Reservations),
        Scope::ReservationsManage => Some(Module::ReservationsManage),
        Scope::InventoryWrite => Some(Module::Inventory),
        Scope::Events => Some(Module::Events),
        Scope::DemandRead => Some(Module::Demand),
        Scope::Admin => None,
    }
}

/// What an `insufficient_scope` answer tells a caller lacking `scope`: "this call needs
/// the reservations module (scope reservations:write)".
pub fn scope_needed(scope: Scope) -> String {
    match missing_module(scope) {
        Some(m) => format!(
            "this call needs the {} module (scope {})",
            m.as_str(),
            scope.as_str()
        ),
        None => "this call needs the admin scope, which only the provider's tokens carry".into(),
    }
}

/// Where an integration is in its life. `onboarding` until every contact is given, then
/// `active` by itself; `suspended` only when the provider says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Onboarding,
    Active,
    Suspended,
}

impl IntegrationStatus {
    pub const ALL: [IntegrationStatus; 3] = [Self::Onboarding, Self::Active, Self::Suspended];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Onboarding => "onboarding",
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// An integration as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Integration {
    pub id: String,
    pub name: String,
    /// Project ids, or `["*"]` for every project.
    pub projects: Vec<String>,
    pub modules: Vec<Module>,
    pub contacts: Contacts,
    pub support_hours: Vec<SupportHours>,
    pub status: IntegrationStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Integration {
    /// The scopes its modules grant now: the most any of its keys can do.
    pub fn scopes(&self) -> BTreeSet<Scope> {
        granted(&self.modules)
    }

    /// The contact fields still missing (see [`missing_contacts`]).
    pub fn missing_contacts(&self) -> Vec<String> {
        missing_contacts(&self.contacts, &self.support_hours)
    }

    /// The projects its keys see, as a token's `projects` claim would give them.
    pub fn project_scope(&self) -> ProjectScope {
        ProjectScope::from_claim(&self.projects)
    }
}

/// `POST /integrations` as sent. Required members are options so that every missing one
/// is reported at once by [`NewIntegration::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIntegration {
    /// As a project id: 1 to 64 ASCII letters, digits, `.`, `_` and `-`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        example = "conecte"
    )]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 200,
        example = "Conecte.ai"
    )]
    pub name: Option<String>,
    /// Project ids, or `["*"]` for every project.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = true, nullable = false, min_items = 1)]
    pub projects: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<Module>, required = true, nullable = false, min_items = 1)]
    pub modules: Option<Vec<String>>,
    /// May be incomplete: the integration is `onboarding` until every contact is given.
    #[serde(default, deserialize_with = "null_as_default")]
    pub contacts: Contacts,
    #[serde(default, deserialize_with = "null_as_default")]
    pub support_hours: Vec<SupportHoursInput>,
}

impl From<&Integration> for NewIntegration {
    fn from(i: &Integration) -> Self {
        Self {
            id: Some(i.id.clone()),
            name: Some(i.name.clone()),
            projects: Some(i.projects.clone()),
            modules: Some(i.modules.iter().map(|m| m.as_str().to_owned()).collect()),
            contacts: i.contacts.clone(),
            support_hours: i
                .support_hours
                .iter()
                .map(SupportHoursInput::from)
                .collect(),
        }
    }
}

impl NewIntegration {
    /// The integration this request creates now (see [`NewIntegration::validate_at`]).
    pub fn validate(&self) -> Result<Integration, Invalid> {
        self.validate_at(Utc::now())
    }

    /// The integration this request creates at `now`, `onboarding` or `active` as its
    /// contacts are incomplete or complete; or every refused field.
    pub fn validate_at(&self, now: DateTime<Utc>) -> Result<Integration, Invalid> {
        let mut invalid = Invalid::default();
        match self.id.as_deref() {
            None => invalid.add(
                "id",
                "is required: 1 to 64 letters, digits, '.', '_' or '-'",
            ),
            Some(id) => {
                if let Err(m) = check_project_id(id) {
                    invalid.add("id", m);
                }
            }
        }
        let name = match self.name.as_deref() {
            None => {
                invalid.add("name", "is required: 1 to 200 characters");
                String::new()
            }
            Some(n) => {
                if let Err(m) = check_text(n) {
                    invalid.add("name", m);
                }
                n.trim().to_owned()
            }
        };
        check_projects(self.projects.as_deref(), &mut invalid);
        let modules = check_modules(self.modules.as_deref(), &mut invalid);
        self.contacts.check(&mut invalid);
        let support_hours = check_support_hours(&self.support_hours, &mut invalid);
        let status = if missing_contacts(&self.contacts, &support_hours).is_empty() {
            IntegrationStatus::Active
        } else {
            IntegrationStatus::Onboarding
        };
        invalid.or_ok(Integration {
            id: self.id.clone().unwrap_or_default(),
            name,
            projects: self.projects.clone().unwrap_or_default(),
            modules,
            contacts: self.contacts.clone(),
            support_hours,
            status,
            created_at: now,
            updated_at: now,
        })
    }
}

/// Projects: one or more distinct project ids, or `["*"]` alone (every project, as for
/// tokens).
fn check_projects(projects: Option<&[String]>, invalid: &mut Invalid) {
    let Some(projects) = projects else {
        invalid.add(
            "projects",
            "is required: project ids, or [\"*\"] for every project",
        );
        return;
    };
    if projects.is_empty() {
        invalid.add(
            "projects",
            "must name at least one project, or be [\"*\"] for every project",
        );
    }
    for (i, p) in projects.iter().enumerate() {
        let field = format!("projects[{i}]");
        if p == "*" {
            if projects.len() > 1 {
                invalid.add(field, "\"*\" (every project) must be the only entry");
            }
        } else if let Err(m) = check_project_id(p) {
            invalid.add(field, m);
        } else if let Some(j) = projects[..i].iter().position(|o| o == p) {
            invalid.add(field, format!("repeats projects[{j}]"));
        }
    }
}

/// Modules: one or more distinct module names.
fn check_modules(modules: Option<&[String]>, invalid: &mut Invalid) -> Vec<Module> {
    let names = Module::ALL.map(Module::as_str).join(", ");
    let Some(modules) = modules else {
        invalid.add("modules", format!("is required: one or more of {names}"));
        return Vec::new();
    };
    if modules.is_empty() {
        invalid.add("modules", format!("must name at least one of {names}"));
    }
    let mut out = Vec::with_capacity(modules.len());
    for (i, m) in modules.iter().enumerate() {
        match Module::parse(m) {
            None => invalid.add(format!("modules[{i}]"), format!("must be one of {names}")),
            Some(module) if out.contains(&module) => {
                invalid.add(format!("modules[{i}]"), format!("repeats {m}"))
            }
            Some(module) => out.push(module),
        }
    }
    out
}

#[cfg(test)]
mod tests;
