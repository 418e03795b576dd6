//! Webhooks: an integration's subscriptions, their URLs checked against the provider's own
//! network, and their secrets. Delivery is elsewhere; it re-checks URLs with [`check_url`].

use super::App;
use crate::domain::validation::Invalid;
use crate::domain::webhook::{NewWebhook, WebhookPatch, generate_secret, is_internal, parse_url};
use crate::store::{StoreError, StoredWebhook, WebhookChange};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;
use url::Url;

/// How long a rotated-out secret still signs.
pub const PREVIOUS_SECRET_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// How long resolving a webhook's host may take before it counts as not resolving.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which URLs webhooks may have (`webhook_allow_http`, `webhook_allow_private`); the
/// default is the strict one: `https` to public hosts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

/// Parses `raw` and resolves its host: `https` only unless `allow_http`; no user or
/// password; a host that does not resolve, or resolves to any internal address (unless
/// `allow_private`), is refused. The error is the message for the field `url`.
pub async fn check_url(
    raw: &str,
    allow_http: bool,
    allow_private: bool,
) -> Result<Url, &'static str> {
    let url = parse_url(raw, allow_http)?;
    checked_addresses(&url, allow_private).await?;
    Ok(url)
}

/// The addresses `url`'s host resolves to now, refused as [`check_url`] refuses them. A
/// delivery can connect to exactly these, so a host that re-resolves elsewhere between the
/// check and the connection (DNS rebinding) gains nothing.
pub async fn checked_addresses(
    url: &Url,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, &'static str> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(url::Host::Domain(name)) => {
            match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port))).await
            {
                Ok(Ok(found)) => found.collect(),
                _ => Vec::new(),
            }
        }
        None => return Err("must name a host"),
    };
    if addresses.is_empty() {
        return Err("names a host that does not resolve");
    }
    // Any internal address refuses the host: which one a connection picks is not ours.
    if !allow_private && addresses.iter().any(|a| is_internal(a.ip())) {
        return Err(
            "must not point at a loopback, private, link-local or otherwise internal address",
        );
    }
    Ok(addresses)
}

/// Why a webhook operation is refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("invalid fields")]
    Invalid(Invalid),
    /// No such integration, or no such webhook of it.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(StoreError),
}

impl From<Invalid> for WebhookError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for WebhookError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}

/// A webhook as shown: `secret` only in the answers that made it (creation, rotation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    pub id: String,
    #[schema(example = "https://crm.example/ftth")]
    pub url: String,
    #[schema(example = json!(["reservation.*"]))]
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the service disabled it; null unless the service did.
    pub disabled_reason: Option<String>,
    pub description: String,
    /// `whsec_` and the base64 of 32 random bytes: shown once, in this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<StoredWebhook> for WebhookView {
    fn from(w: StoredWebhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            description: w.description,
            secret: None,
            created_at: DateTime::from_timestamp_micros(w.created_at).unwrap_or_default(),
        }
    }
}

impl WebhookView {
    fn with_secret(w: StoredWebhook) -> Self {
        let secret = w.secret.clone();
        Self {
            secret: Some(secret),
            ..w.into()
        }
    }
}

/// Resolves a checked URL's host, naming `url` when it is refused.
async fn resolved(url: Url, policy: UrlPolicy) -> Result<String, WebhookError> {
    checked_addresses(&url, policy.allow_private)
        .await
        .map_err(|m| Invalid::one("url", m))?;
    Ok(url.into())
}

impl App {
    async fn live_integration(&self, id: &str) -> Result<(), WebhookError> {
        if self.store.integration_is_live(id).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// Subscribes an integration; the answer is the only one but rotation's with a secret.
    pub async fn create_webhook(
        &self,
        integration_id: &str,
        new: &NewWebhook,
        policy: UrlPolicy,
    ) -> Result<WebhookView, WebhookError> {
        self.live_integration(integration_id).await?;
        let url = resolved(new.check(policy.allow_http)?, policy).await?;
        let now = crate::store::now().timestamp_micros();
        let webhook = StoredWebhook {
            id: uuid::Uuid::new_v4().to_string(),
            integration_id: integration_id.to_owned(),
            url,
            events: new.events.clone(),
            description: new.description.clone().unwrap_or_default(),
            secret: generate_secret(),
            previous_secret: None,
            previous_secret_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        self.store.create_webhook(&webhook).await?;
        Ok(WebhookView::with_secret(webhook))
    }

    /// An integration's webhooks, oldest first, without secrets.
    pub async fn webhooks(&self, integration_id: &str) -> Result<Vec<WebhookView>, WebhookError> {
        self.live_integration(integration_id).await?;
        let found = self.store.webhooks(integration_id).await?;
        Ok(found.into_iter().map(WebhookView::from).collect())
    }

    pub async fn webhook(
        &self,
        integration_id: &str,
        id: &str,
    ) -> Result<WebhookView, WebhookError> {
        self.live_integration(integration_id).await?;
        Ok(self.store.webhook(integration_id, id).await?.into())
    }

    /// Changes what is given; a new URL is checked as at creation.
    pub async fn update_webhook(
        &self,
        integration_id: &str,
        id: &str,
        patch: &WebhookPatch,
        policy: UrlPolicy,
    ) -> Result<WebhookView, WebhookError> {
        self.live_integration(integration_id).await?;
        // The webhook first: an unknown one is 404 whatever the body says.
        self.store.webhook(integration_id, id).await?;
        let url = match patch.check(policy.allow_http)? {
            Some(url) => Some(resolved(url, policy).await?),
            None => None,
        };
        let change = WebhookChange {
            url,
            events: patch.events.clone(),
            enabled: patch.enabled,
            description: patch.description.clone(),
        };
        Ok(self
            .store
            .update_webhook(integration_id, id, &change)
            .await?
            .into())
    }

    pub async fn delete_webhook(&self, integration_id: &str, id: &str) -> Result<(), WebhookError> {
        self.live_integration(integration_id).await?;
        Ok(self.store.delete_webhook(integration_id, id).await?)
    }

    /// A new secret, shown in this answer only; the one it replaces signs for 24 h more.
    pub async fn rotate_webhook_secret(
        &self,
        integration_id: &str,
        id: &str,
    ) -> Result<WebhookView, WebhookError> {
        self.live_integration(integration_id).await?;
        let until = (crate::store::now() + PREVIOUS_SECRET_TTL).timestamp_micros();
        let rotated = self
            .store
            .rotate_webhook_secret(integration_id, id, &generate_secret(), until)
            .await?;
        Ok(WebhookView::with_secret(rotated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_of_internal_or_unresolvable_hosts_are_refused() {
        for url in [
            "https://127.0.0.1/",
            "https://localhost/",
            "https://10.0.0.1/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]/",
        ] {
            assert!(check_url(url, false, false).await.is_err(), "{url}");
            assert!(check_url(url, false, true).await.is_ok(), "{url}");
        }
        assert!(
            check_url("https://no-such-host.invalid/", false, true)
                .await
                .is_err()
        );
        assert!(
            check_url("http://127.0.0.1:8080/", false, true)
                .await
                .is_err()
        );
        assert!(
            check_url("http://127.0.0.1:8080/", true, true)
                .await
                .is_ok()
        );
        // A public literal needs no resolver.
        let addresses = checked_addresses(&Url::parse("https://8.8.8.8/").unwrap(), false)
            .await
            .unwrap();
        assert_eq!(addresses, ["8.8.8.8:443".parse().unwrap()]);
    }
}
