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

#[cfg(test)]
mod tests {
    use super::super::tests::{complete, fields, onboarding, t0};
    use super::*;
    use crate::domain::integration::{Contacts, Module};
    use serde_json::json;

    fn later() -> DateTime<Utc> {
        t0() + chrono::Duration::hours(1)
    }

    fn invalid(r: Result<Integration, PatchError>) -> Invalid {
        match r {
            Err(PatchError::Invalid(e)) => e,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    /// Every contact of the sample, as a patch giving them all.
    fn all_contacts() -> Value {
        let c = complete();
        json!({"contacts": c.contacts, "support_hours": c.support_hours})
    }

    #[test]
    fn members_left_out_stay_and_given_ones_replace() {
        let i = complete();
        let p = i
            .apply_patch(&json!({"name": "Conecte 2"}), later())
            .unwrap();
        assert_eq!(p.name, "Conecte 2");
        assert_eq!(
            (p.projects.clone(), p.contacts.clone()),
            (i.projects.clone(), i.contacts.clone())
        );
        assert_eq!((p.created_at, p.updated_at), (t0(), later()));
        assert_eq!(p.status, IntegrationStatus::Active);
    }

    #[test]
    fn a_list_is_replaced_whole_never_merged() {
        let i = complete();
        let p = i
            .apply_patch(
                &json!({"contacts": {"alert": ["new@x.example"]}, "modules": ["events"]}),
                later(),
            )
            .unwrap();
        assert_eq!(p.contacts.alert, ["new@x.example"]);
        assert_eq!(p.modules, [Module::Events]);
        // contacts is merged member by member: the others stay.
        assert_eq!(p.contacts.technical, i.contacts.technical);
        assert_eq!(p.contacts.operational_public, i.contacts.operational_public);
    }

    #[test]
    fn null_removes_a_member_of_an_onboarding_integration() {
        let mut i = onboarding();
        i.contacts.alert = vec!["a@x.example".into()];
        i.contacts.operational_public = Some("p@x.example".into());
        let p = i
            .apply_patch(&json!({"contacts": {"alert": null}}), later())
            .unwrap();
        assert!(p.contacts.alert.is_empty());
        assert_eq!(
            p.contacts.operational_public.as_deref(),
            Some("p@x.example")
        );
        let p = i.apply_patch(&json!({"contacts": null}), later()).unwrap();
        assert_eq!(p.contacts, Contacts::default());
    }

    #[test]
    fn null_for_a_required_member_is_refused() {
        let e = invalid(complete().apply_patch(&json!({"name": null, "modules": null}), later()));
        assert_eq!(fields(&e), ["name", "modules"]);
    }

    #[test]
    fn the_patched_integration_is_checked_as_a_new_one() {
        let e = invalid(complete().apply_patch(
            &json!({"projects": ["ok", "not ok"], "contacts": {"alert": ["a@x.example", "bad"]},
                "support_hours": [{"days": ["mon"], "from": "18:00", "to": "08:00", "time_zone": "UTC"}]}),
            later(),
        ));
        assert_eq!(
            fields(&e),
            ["projects[1]", "contacts.alert[1]", "support_hours[0].to"]
        );
    }

    #[test]
    fn wrong_json_types_name_the_field() {
        let i = complete();
        let e = invalid(i.apply_patch(&json!({"name": 5}), later()));
        assert_eq!(
            (fields(&e), e.0[0].message.as_str()),
            (vec!["name"], "must be a string")
        );
        let e =
            invalid(i.apply_patch(&json!({"contacts": {"alert": ["a@x.example", 7]}}), later()));
        assert_eq!(fields(&e), ["contacts.alert[1]"]);
        let e = invalid(i.apply_patch(&json!({"support_hours": "always"}), later()));
        assert_eq!(
            (fields(&e), e.0[0].message.as_str()),
            (vec!["support_hours"], "must be a list")
        );
        let e = invalid(i.apply_patch(
            &json!({"support_hours": [{"days": ["mon"], "from": "08:00",
            "to": "09:00", "time_zone": "UTC", "lunch": true}]}),
            later(),
        ));
        assert_eq!(fields(&e), ["support_hours[0].lunch"]);
        let e = invalid(i.apply_patch(&json!({"contacts": "nobody"}), later()));
        assert_eq!(
            (fields(&e), e.0[0].message.as_str()),
            (vec!["contacts"], "must be an object")
        );
    }

    #[test]
    fn unknown_members_are_named() {
        let e = invalid(complete().apply_patch(
            &json!({"colour": "red", "contacts": {"fax": ["1"]}}),
            later(),
        ));
        assert_eq!(fields(&e), ["colour", "contacts.fax"]);
    }

    #[test]
    fn a_patch_that_is_not_an_object_is_refused() {
        let e = invalid(complete().apply_patch(&json!(["name"]), later()));
        assert_eq!(fields(&e), ["body"]);
    }

    #[test]
    fn the_id_cannot_change_but_may_be_sent_back() {
        let i = complete();
        let e = invalid(i.apply_patch(&json!({"id": "other"}), later()));
        assert_eq!(fields(&e), ["id"]);
        assert_eq!(
            fields(&invalid(i.apply_patch(&json!({"id": null}), later()))),
            ["id"]
        );
        assert!(i.apply_patch(&json!({"id": "conecte"}), later()).is_ok());
    }

    #[test]
    fn what_a_get_showed_can_be_patched_back_unchanged() {
        let i = complete();
        let shown = serde_json::to_value(&i).unwrap();
        let p = i.apply_patch(&shown, later()).unwrap();
        assert_eq!(p, i, "nothing changed, so updated_at stays");
        let mut moved = shown.clone();
        moved["created_at"] = json!("2020-01-01T00:00:00Z");
        assert_eq!(
            fields(&invalid(i.apply_patch(&moved, later()))),
            ["created_at"]
        );
    }

    #[test]
    fn status_may_be_active_or_suspended_but_not_onboarding() {
        let i = complete();
        let s = i
            .apply_patch(&json!({"status": "suspended"}), later())
            .unwrap();
        assert_eq!(s.status, IntegrationStatus::Suspended);
        let a = s
            .apply_patch(&json!({"status": "active"}), later())
            .unwrap();
        assert_eq!(a.status, IntegrationStatus::Active);
        for bad in [json!("onboarding"), json!("paused"), json!(null), json!(1)] {
            let e = invalid(i.apply_patch(&json!({"status": bad}), later()));
            assert_eq!(fields(&e), ["status"], "{bad}");
        }
    }

    #[test]
    fn an_onboarding_integration_turns_active_once_every_contact_is_given() {
        let i = onboarding();
        let mut partial = all_contacts();
        partial["contacts"]["technical"] = json!(null);
        let p = i.apply_patch(&partial, later()).unwrap();
        assert_eq!(p.status, IntegrationStatus::Onboarding);
        let p = p
            .apply_patch(
                &json!({"contacts": {"technical": ["dev@x.example"]}}),
                later(),
            )
            .unwrap();
        assert_eq!(p.status, IntegrationStatus::Active);
    }

    #[test]
    fn activating_with_contacts_missing_is_a_conflict_naming_them() {
        let r = onboarding().apply_patch(
            &json!({"status": "active", "contacts": {"alert": ["a@x.example"]}}),
            later(),
        );
        let Err(PatchError::ContactsIncomplete(missing)) = r else {
            panic!("expected contacts_incomplete, got {r:?}");
        };
        assert_eq!(
            missing,
            [
                "contacts.emergency",
                "contacts.technical",
                "contacts.operational",
                "contacts.operational_public",
                "support_hours"
            ]
        );
    }

    #[test]
    fn field_errors_come_before_the_conflict() {
        let e =
            invalid(onboarding().apply_patch(&json!({"status": "active", "name": ""}), later()));
        assert_eq!(fields(&e), ["name"]);
    }

    #[test]
    fn activating_with_every_contact_in_the_same_patch_succeeds() {
        let mut p = all_contacts();
        p["status"] = json!("active");
        assert_eq!(
            onboarding().apply_patch(&p, later()).unwrap().status,
            IntegrationStatus::Active
        );
    }

    #[test]
    fn an_active_integration_may_not_lose_a_contact() {
        let i = complete();
        let e = invalid(i.apply_patch(
            &json!({"contacts": {"alert": [], "emergency": null}}),
            later(),
        ));
        assert_eq!(fields(&e), ["contacts.alert", "contacts.emergency"]);
        let e = invalid(i.apply_patch(&json!({"support_hours": null}), later()));
        assert_eq!(fields(&e), ["support_hours"]);
        // Suspending at the same time does not excuse it.
        let e = invalid(i.apply_patch(&json!({"status": "suspended", "contacts": null}), later()));
        assert_eq!(e.0.len(), 5);
    }

    #[test]
    fn a_suspended_integration_stays_suspended_when_its_contacts_complete() {
        let s = onboarding()
            .apply_patch(&json!({"status": "suspended"}), later())
            .unwrap();
        assert_eq!(s.status, IntegrationStatus::Suspended);
        let p = s.apply_patch(&all_contacts(), later()).unwrap();
        assert_eq!(p.status, IntegrationStatus::Suspended);
        assert!(p.missing_contacts().is_empty());
        let r = s.apply_patch(&json!({"status": "active"}), later());
        assert!(matches!(r, Err(PatchError::ContactsIncomplete(_))), "{r:?}");
    }

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        // RFC 7396 appendix A, a selection.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (mut target, patch, expect) in cases {
            merge_patch(&mut target, &patch);
            assert_eq!(target, expect, "{patch}");
        }
    }
}
