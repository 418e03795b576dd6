//! Integrations and their keys: the admin's operations, and the checks every request with
//! a key goes through (its powers now, its rate limit, when it was last used).

use super::App;
use super::credentials::{Credentials, KeyPowers, KeyRecord, KeyRefusal};
use super::rate_limits::{Allowance, Limited};
use crate::auth::Scope;
use crate::domain::integration::{
    Integration, KeyKind, NewIntegration, NewKey, PUBLISHABLE_DEFAULT_RATE_LIMIT, PatchError,
    generate_key, key_hash,
};
use crate::domain::validation::Invalid;
use crate::store::{Store, StoreError, StoredKey};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

impl App {
    /// Rebuilds the keys in memory from the store.
    pub(super) async fn reload_credentials(&self) -> Result<(), StoreError> {
        let integrations = self.store.integrations().await?;
        let keys = self.store.api_keys().await?;
        self.credentials
            .store(Arc::new(Credentials::from_store(integrations, keys)?));
        Ok(())
    }

    /// A key's powers now; its use is noted for `last_used_at`.
    pub fn verify_key(&self, key: &str) -> Result<Arc<KeyPowers>, KeyRefusal> {
        let now = chrono::Utc::now();
        // To the minute: only a key's first request of a minute is noted.
        let minute = now.timestamp_micros() / 60_000_000 * 60_000_000;
        let (powers, first) = self.credentials.load().verify(key, now, minute)?;
        if first {
            let mut uses = self.key_uses.lock().unwrap_or_else(|e| e.into_inner());
            uses.insert(powers.key.id.clone(), minute);
        }
        Ok(powers)
    }

    /// Counts a request against the key's limit: `None` when it has none.
    pub fn rate_limit(
        &self,
        key: &KeyRecord,
        address: Option<IpAddr>,
    ) -> Result<Option<Allowance>, Limited> {
        let (per_min, address) = match key.kind {
            KeyKind::Publishable => (
                key.rate_limit_per_min
                    .unwrap_or(PUBLISHABLE_DEFAULT_RATE_LIMIT),
                address,
            ),
            KeyKind::Secret => match key.rate_limit_per_min {
                Some(n) => (n, None),
                None => return Ok(None),
            },
        };
        self.rate_limits.check(&key.id, per_min, address).map(Some)
    }

    /// Whether some live publishable key allows `origin` (CORS preflights).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.credentials.load().origin_allowed(origin)
    }

    /// Writes the minutes keys were last used in (every few seconds, off the request path),
    /// and forgets idle rate-limit buckets.
    pub async fn flush_key_uses(&self) -> Result<(), StoreError> {
        let used: Vec<(String, i64)> = {
            let mut uses = self.key_uses.lock().unwrap_or_else(|e| e.into_inner());
            uses.drain().collect()
        };
        self.rate_limits.forget_idle();
        if let Err(e) = self.store.touch_keys(&used).await {
            // Kept for the next flush.
            let mut uses = self.key_uses.lock().unwrap_or_else(|e| e.into_inner());
            for (id, at) in used {
                let entry = uses.entry(id).or_insert(at);
                *entry = (*entry).max(at);
            }
            return Err(e);
        }
        Ok(())
    }
}

/// Why an integration's operation is refused.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("invalid fields")]
    Invalid(Invalid),
    /// These contact fields must be given first (409 `contacts_incomplete`).
    #[error("contacts incomplete")]
    ContactsIncomplete(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Invalid> for IntegrationError {
    fn from(e: Invalid) -> Self {
        Self::Invalid(e)
    }
}

impl From<PatchError> for IntegrationError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Invalid(invalid) => Self::Invalid(invalid),
            PatchError::ContactsIncomplete(fields) => Self::ContactsIncomplete(fields),
        }
    }
}

/// A key as shown: `key` only in the answer that issued it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub kind: KeyKind,
    /// The key's first 12 characters, to tell keys apart.
    pub prefix: String,
    /// The key itself: shown once, when issued; the service keeps only its hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Null: whatever the integration's modules grant, at each request.
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub allowed_origins: Vec<String>,
    pub rate_limit_per_min: Option<u32>,
    pub created_at: DateTime<Utc>,
    /// To the minute, and visible within a minute of the use.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyView {
    fn from_stored(k: StoredKey) -> Result<Self, StoreError> {
        let corrupt =
            |e: serde_json::Error| StoreError::Other(anyhow::anyhow!("stored key unreadable: {e}"));
        let time = |us: Option<i64>| us.and_then(DateTime::from_timestamp_micros);
        Ok(Self {
            kind: KeyKind::parse(&k.kind).ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!("stored key kind {:?} unknown", k.kind))
            })?,
            scopes: k
                .scopes
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(corrupt)?,
            allowed_origins: serde_json::from_str(&k.allowed_origins).map_err(corrupt)?,
            rate_limit_per_min: k.rate_limit_per_min.and_then(|n| u32::try_from(n).ok()),
            expires_at: time(k.expires_at),
            created_at: time(Some(k.created_at)).unwrap_or_default(),
            last_used_at: time(k.last_used_at),
            revoked_at: time(k.revoked_at),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            key: None,
        })
    }
}

fn to_doc(i: &Integration) -> String {
    serde_json::to_string(i).expect("integrations serialise")
}

/// The live integration `id` from the store (the admin's reads see their own writes at
/// once, whatever the follower has applied).
async fn stored(store: &Store, id: &str) -> Result<Integration, IntegrationError> {
    let found = store
        .integrations()
        .await?
        .into_iter()
        .find(|i| i.id == id && !i.deleted)
        .ok_or(StoreError::NotFound)?;
    serde_json::from_str(&found.doc).map_err(|e| {
        StoreError::Other(anyhow::anyhow!("stored integration unreadable: {e}")).into()
    })
}

/// Stores a new integration (`onboarding` until its contacts are complete).
pub async fn create(store: &Store, new: &NewIntegration) -> Result<Integration, IntegrationError> {
    let integration = new.validate()?;
    store
        .create_integration(&integration.id, &to_doc(&integration))
        .await?;
    Ok(integration)
}

/// Issues a key of a complete integration; the answer is the only place the key appears.
pub async fn issue_key(
    store: &Store,
    integration_id: &str,
    new: &NewKey,
) -> Result<KeyView, IntegrationError> {
    let integration = stored(store, integration_id).await?;
    let now = crate::store::now();
    let spec = new.validate(&integration, now)?;
    let missing = integration.missing_contacts();
    if !missing.is_empty() {
        return Err(IntegrationError::ContactsIncomplete(missing));
    }
    let (key, prefix) = generate_key(spec.kind);
    let stored_key = StoredKey {
        id: uuid::Uuid::new_v4().to_string(),
        integration_id: integration.id.clone(),
        hash: hex::encode(key_hash(&key)),
        prefix,
        name: spec.name,
        kind: spec.kind.as_str().to_owned(),
        scopes: spec
            .scopes
            .as_ref()
            .map(|s| serde_json::to_string(s).expect("scopes serialise")),
        expires_at: spec.expires_at.map(|t| t.timestamp_micros()),
        allowed_origins: serde_json::to_string(&spec.allowed_origins).expect("origins serialise"),
        rate_limit_per_min: spec.rate_limit_per_min.map(i64::from),
        created_at: now.timestamp_micros(),
        last_used_at: None,
        revoked_at: None,
    };
    store.create_key(&stored_key).await?;
    let mut view = KeyView::from_stored(stored_key)?;
    view.key = Some(key);
    Ok(view)
}

impl App {
    pub async fn create_integration(
        &self,
        new: &NewIntegration,
    ) -> Result<Integration, IntegrationError> {
        let integration = create(&self.store, new).await?;
        self.reload_credentials().await?;
        Ok(integration)
    }

    /// Every live integration, in id order.
    pub async fn integrations(&self) -> Result<Vec<Integration>, IntegrationError> {
        let mut out = Vec::new();
        for i in self
            .store
            .integrations()
            .await?
            .into_iter()
            .filter(|i| !i.deleted)
        {
            out.push(serde_json::from_str(&i.doc).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("stored integration unreadable: {e}"))
            })?);
        }
        Ok(out)
    }

    pub async fn integration(&self, id: &str) -> Result<Integration, IntegrationError> {
        stored(&self.store, id).await
    }

    /// Applies a JSON Merge Patch; in force for its keys here at once, elsewhere within 1 s.
    pub async fn patch_integration(
        &self,
        id: &str,
        patch: &serde_json::Value,
    ) -> Result<Integration, IntegrationError> {
        let current = stored(&self.store, id).await?;
        let patched = current.apply_patch(patch, crate::store::now())?;
        if patched != current {
            self.store.update_integration(id, &to_doc(&patched)).await?;
            self.reload_credentials().await?;
            // More projects, or active again: its interests may be served now.
            self.interests_may_be_feasible();
        }
        Ok(patched)
    }

    pub async fn delete_integration(&self, id: &str) -> Result<(), IntegrationError> {
        self.store.delete_integration(id).await?;
        self.reload_credentials().await?;
        Ok(())
    }

    pub async fn issue_key(&self, id: &str, new: &NewKey) -> Result<KeyView, IntegrationError> {
        let view = issue_key(&self.store, id, new).await?;
        self.reload_credentials().await?;
        Ok(view)
    }

    /// The integration's keys, without the keys.
    pub async fn keys(&self, id: &str) -> Result<Vec<KeyView>, IntegrationError> {
        if !self.store.integration_is_live(id).await? {
            return Err(StoreError::NotFound.into());
        }
        let mut out = Vec::new();
        for k in self.store.api_keys().await? {
            if k.integration_id == id {
                out.push(KeyView::from_stored(k)?);
            }
        }
        Ok(out)
    }

    pub async fn revoke_key(&self, id: &str, key_id: &str) -> Result<(), IntegrationError> {
        self.store.revoke_key(id, key_id).await?;
        self.reload_credentials().await?;
        Ok(())
    }
}
