//! `PATCH /integrations/{id}`: a JSON Merge Patch (RFC 7396) over an integration, checked
//! as a whole as `POST` checks a new one, plus the rules of its status.

use super::contacts::CONTACT_MEMBERS;
use super::{Integration, IntegrationStatus, NewIntegration};
use crate::domain::validation::Invalid;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Why a patch is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// Fields at fault: 422 `validation_failed`.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// `status: active` while these contact fields are missing: 409 `contacts_incomplete`.
    #[error("contacts incomplete: {}", .0.join(", "))]
    ContactsIncomplete(Vec<String>),
}

/// Members a patch may change.
const CHANGEABLE: [&str; 5] = ["name", "projects", "modules", "contacts", "support_hours"];

impl Integration {
    /// This integration with `patch` applied at `now`.
    ///
    /// Members given replace the stored ones whole (a list is never merged), `contacts` is
    /// merged member by member, `null` removes, members left out stay. `id`, `created_at`
    /// and `updated_at` may be sent back unchanged (a client may PATCH what it GOT) but
    /// not changed. `status` may be set to `active` (409 while contacts are missing) or
    /// `suspended`; an onboarding integration turns active by itself once every contact
    /// is given; an integration that has every contact may not lose one. Field errors
    /// come before the status conflict. `updated_at` moves only when something changed.
    pub fn apply_patch(
        &self,
        patch: &Value,
        now: DateTime<Utc>,
    ) -> Result<Integration, PatchError> {
        let Some(members) = patch.as_object() else {
            return Err(Invalid::one("body", "must be a JSON object (a JSON Merge Patch)").into());
        };
        let mut invalid = Invalid::default();
        let mut status = None;
        let mut changes = Map::new();
        for (member, value) in members {
            match member.as_str() {
                "status" => match value.as_str().and_then(IntegrationStatus::parse) {
                    Some(IntegrationStatus::Onboarding) => invalid.add(
                        "status",
                        "cannot be set to onboarding (an integration is onboarding until its \
                         contacts are complete): set active or suspended",
                    ),
                    Some(s) => status = Some(s),
                    None => invalid.add("status", "must be active or suspended"),
                },
                "id" if value.as_str() != Some(self.id.as_str()) => {
                    invalid.add("id", "cannot be changed: an integration keeps its id")
                }
                "created_at" | "updated_at" => {
                    let stored = if member == "created_at" {
                        self.created_at
                    } else {
                        self.updated_at
                    };
                    let sent = value
                        .as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                    if sent.is_none_or(|t| t != stored) {
                        invalid.add(
                            member.as_str(),
                            "is set by the service and cannot be changed",
                        );
                    }
                }
                "id" => {}
                "contacts" => {
                    changes.insert(member.clone(), known_contacts(value, &mut invalid));
                }
                m if CHANGEABLE.contains(&m) => {
                    changes.insert(member.clone(), value.clone());
                }
                other => invalid.add(
                    other,
                    format!(
                        "is not a member of an integration (members: id, {}, status)",
                        CHANGEABLE.join(", ")
                    ),
                ),
            }
        }
        // Round-trip through the POST shape, so a patched integration is checked exactly
        // as a new one is.
        let mut doc = serde_json::to_value(NewIntegration::from(self))
            .expect("an integration serialises as JSON");
        merge_patch(&mut doc, &Value::Object(changes));
        let candidate: NewIntegration = match serde_path_to_error::deserialize(doc) {
            Ok(c) => c,
            Err(e) => {
                let (field, message) = type_error(&e.path().to_string(), &e.inner().to_string());
                invalid.add(field, message);
                return Err(invalid.into());
            }
        };
        let mut next = match candidate.validate_at(self.created_at) {
            Ok(next) if invalid.is_empty() => next,
            Ok(_) => return Err(invalid.into()),
            Err(more) => {
                invalid.0.extend(more.0);
                return Err(invalid.into());
            }
        };
        let missing = next.missing_contacts();
        if !missing.is_empty() && self.missing_contacts().is_empty() {
            // Once complete, always complete: alerts and keys rely on these contacts.
            for field in missing {
                invalid.add(
                    field,
                    "is required: this integration has every contact, and may not lose one \
                     (replace it instead)",
                );
            }
            return Err(invalid.into());
        }
        next.status = match (status, self.status) {
            (Some(IntegrationStatus::Active), _) if !missing.is_empty() => {
                return Err(PatchError::ContactsIncomplete(missing));
            }
            (Some(s), _) => s,
            (None, IntegrationStatus::Onboarding) if missing.is_empty() => {
                IntegrationStatus::Active
            }
            // A suspension is the provider's decision: completing contacts does not lift it.
            (None, s) => s,
        };
        next.updated_at = self.updated_at;
        if next != *self {
            next.updated_at = now;
        }
        Ok(next)
    }
}

/// A `contacts` patch with its unknown members reported and left out; `null` and
/// non-objects pass through (null removes every contact; a wrong type is named later).
fn known_contacts(value: &Value, invalid: &mut Invalid) -> Value {
    let Some(members) = value.as_object() else {
        return value.clone();
    };
    let mut known = Map::new();
    for (k, v) in members {
        if CONTACT_MEMBERS.contains(&k.as_str()) {
            known.insert(k.clone(), v.clone());
        } else {
            invalid.add(
                format!("contacts.{k}"),
                format!(
                    "is not a member of contacts (members: {})",
                    CONTACT_MEMBERS.join(", ")
                ),
            );
        }
    }
    Value::Object(known)
}

/// RFC 7396 §2: objects merge member by member, `null` removes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in members {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// A wrong JSON type in the merged integration, as the field and what it must be. Every
/// member of the POST shape is text, a list or an object, so three words suffice.
fn type_error(path: &str, message: &str) -> (String, String) {
    let field = if path == "." { "body" } else { path };
    if message.starts_with("unknown field") {
        let known = message
            .split_once("expected ")
            .map(|(_, rest)| rest.replace('`', ""))
            .unwrap_or_default();
        return (
            field.to_owned(),
            format!("is not a member here (expected {known})"),
        );
    }
    let expected = message.rsplit_once(", expected ").map_or("", |(_, e)| e);
    let words = if expected.contains("string") {
        "must be a string"
    } else if expected.contains("sequence") {
        "must be a list"
    } else {
        "must be an object"
    };
    (field.to_owned(), words.to_owned())
}
