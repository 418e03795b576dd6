//! `POST` and `PATCH` of a webhook as sent, and what is checked before anything resolves.

use super::address::parse_url;
use super::events::check_events;
use crate::domain::validation::Invalid;
use serde::Deserialize;
use url::Url;

/// The longest `description`, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 500;

/// `POST /integrations/{id}/webhooks` as sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where events are sent: `https`, a public host, no user or password.
    #[schema(max_length = 2048, example = "https://crm.example/ftth")]
    pub url: String,
    /// Event types, `*`, or prefix patterns (`reservation.*`).
    #[schema(min_items = 1, max_items = 32, example = json!(["reservation.*"]))]
    pub events: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// `PATCH /integrations/{id}/webhooks/{wid}`: members given replace the stored ones,
/// members left out (or null) stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(min_items = 1, max_items = 32)]
    pub events: Option<Vec<String>>,
    /// `true` turns a webhook the service disabled back on.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// Checks a description: up to [`MAX_DESCRIPTION_LEN`] characters, no control characters
/// but line breaks.
pub fn check_description(d: &str) -> Result<(), &'static str> {
    if d.chars().count() > MAX_DESCRIPTION_LEN {
        return Err("must be at most 500 characters");
    }
    if d.chars().any(|c| c.is_control() && c != '\n') {
        return Err("must not contain control characters");
    }
    Ok(())
}

fn check_url_field(invalid: &mut Invalid, raw: &str, allow_http: bool) -> Option<Url> {
    parse_url(raw, allow_http)
        .inspect_err(|m| invalid.add("url", m))
        .ok()
}

fn check_events_field(invalid: &mut Invalid, events: &[String]) {
    if let Err(e) = check_events(events) {
        invalid.0.extend(e.0);
    }
}

fn check_description_field(invalid: &mut Invalid, d: Option<&str>) {
    if let Some(Err(m)) = d.map(check_description) {
        invalid.add("description", m);
    }
}

impl NewWebhook {
    /// The parsed URL, or every refused field. The URL's host is still to be resolved.
    pub fn check(&self, allow_http: bool) -> Result<Url, Invalid> {
        let mut invalid = Invalid::default();
        let url = check_url_field(&mut invalid, &self.url, allow_http);
        check_events_field(&mut invalid, &self.events);
        check_description_field(&mut invalid, self.description.as_deref());
        match url {
            Some(url) if invalid.is_empty() => Ok(url),
            _ => Err(invalid),
        }
    }
}

impl WebhookPatch {
    /// The parsed new URL if one is given, or every refused field.
    pub fn check(&self, allow_http: bool) -> Result<Option<Url>, Invalid> {
        let mut invalid = Invalid::default();
        let url = self
            .url
            .as_deref()
            .map(|u| check_url_field(&mut invalid, u, allow_http));
        if let Some(events) = &self.events {
            check_events_field(&mut invalid, events);
        }
        check_description_field(&mut invalid, self.description.as_deref());
        invalid.or_ok(url.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: Invalid) -> Vec<String> {
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn a_new_webhook_names_every_bad_field() {
        let good = NewWebhook {
            url: "https://crm.example/ftth".into(),
            events: vec!["reservation.*".into()],
            description: Some("CRM".into()),
        };
        assert_eq!(good.check(false).unwrap().host_str(), Some("crm.example"));
        let bad = NewWebhook {
            url: "http://crm.example/".into(),
            events: vec!["*".into(), "nope".into()],
            description: Some("x\u{7}".into()),
        };
        assert_eq!(
            fields(bad.check(false).unwrap_err()),
            ["url", "events[1]", "description"]
        );
    }

    #[test]
    fn a_patch_checks_only_what_it_gives() {
        assert_eq!(WebhookPatch::default().check(false), Ok(None));
        let p = WebhookPatch {
            enabled: Some(true),
            events: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(fields(p.check(false).unwrap_err()), ["events"]);
        let p = WebhookPatch {
            url: Some("http://localhost:8080/h".into()),
            ..Default::default()
        };
        assert!(p.check(false).is_err());
        assert!(p.check(true).unwrap().is_some());
        assert!(check_description(&"é".repeat(500)).is_ok());
        assert!(check_description(&"é".repeat(501)).is_err());
        assert!(check_description("two\nlines").is_ok());
    }
}
