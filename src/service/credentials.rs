//! The integrations' keys in memory, by the hash of the key: verifying one is a hash and a
//! map lookup, no database read, and its powers are worked out at each request from the
//! key and its integration as they are now. Rebuilt whole from the store whenever an
//! `integrations` change is applied (on every replica within a second).

use crate::auth::Scope;
use crate::domain::feasibility::ProjectScope;
use crate::domain::integration::{self, Integration, IntegrationStatus, KeyKind};
use crate::store::{StoreError, StoredIntegration, StoredKey};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A key as the authenticator needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub integration_id: String,
    pub kind: KeyKind,
    /// None: whatever the integration's modules grant.
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub allowed_origins: Vec<String>,
    pub rate_limit_per_min: Option<u32>,
}

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    /// No such key (or not a key at all).
    Unknown,
    Expired,
    /// Revoked, or its integration deleted.
    Revoked,
    /// Its integration is suspended (403).
    Suspended,
}

/// What a verified key may do, now.
#[derive(Debug, Clone)]
pub struct KeyPowers {
    pub key: Arc<KeyRecord>,
    pub integration: Arc<Integration>,
    pub scopes: BTreeSet<Scope>,
}

impl KeyPowers {
    pub fn projects(&self) -> ProjectScope {
        self.integration.project_scope()
    }
}

/// A key in memory: its powers worked out once per rebuild (they change only with an
/// `integrations` change, which rebuilds everything), and the minute it was last seen in.
#[derive(Debug)]
struct KeyEntry {
    record: Arc<KeyRecord>,
    /// None when its integration is gone.
    powers: Option<Arc<KeyPowers>>,
    seen_minute: AtomicI64,
}

/// Every key by its hash, and the live integrations.
#[derive(Debug, Default)]
pub struct Credentials {
    keys: HashMap<[u8; 32], KeyEntry>,
    /// Origins some live publishable key allows (CORS preflights are answered for these).
    origins: HashSet<String>,
}

impl Credentials {
    pub fn from_store(
        integrations: Vec<StoredIntegration>,
        keys: Vec<StoredKey>,
    ) -> Result<Self, StoreError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Other(anyhow::anyhow!("stored {what} cannot be read: {e}"))
        };
        let mut live = HashMap::new();
        for i in integrations.into_iter().filter(|i| !i.deleted) {
            let doc: Integration =
                serde_json::from_str(&i.doc).map_err(|e| corrupt("integration", &e))?;
            live.insert(i.id, Arc::new(doc));
        }
        let time = |us: Option<i64>| us.and_then(DateTime::from_timestamp_micros);
        let mut by_hash = HashMap::with_capacity(keys.len());
        let mut origins = HashSet::new();
        for k in keys {
            let hash: [u8; 32] = hex::decode(&k.hash)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| corrupt("key hash", &k.hash))?;
            let record = KeyRecord {
                kind: serde_json::from_value(serde_json::Value::String(k.kind.clone()))
                    .map_err(|e| corrupt("key kind", &e))?,
                scopes: k
                    .scopes
                    .as_deref()
                    .map(serde_json::from_str)
                    .transpose()
                    .map_err(|e| corrupt("key scopes", &e))?,
                expires_at: time(k.expires_at),
                revoked: k.revoked_at.is_some() || !live.contains_key(&k.integration_id),
                allowed_origins: serde_json::from_str(&k.allowed_origins)
                    .map_err(|e| corrupt("key origins", &e))?,
                rate_limit_per_min: k.rate_limit_per_min.and_then(|n| u32::try_from(n).ok()),
                id: k.id,
                integration_id: k.integration_id,
            };
            if record.kind == KeyKind::Publishable && !record.revoked {
                origins.extend(record.allowed_origins.iter().cloned());
            }
            let record = Arc::new(record);
            let powers = live.get(&record.integration_id).map(|integration| {
                Arc::new(KeyPowers {
                    scopes: integration::powers(record.scopes.as_deref(), integration),
                    key: Arc::clone(&record),
                    integration: Arc::clone(integration),
                })
            });
            let entry = KeyEntry {
                record,
                powers,
                seen_minute: AtomicI64::new(i64::MIN),
            };
            by_hash.insert(hash, entry);
        }
        Ok(Self {
            keys: by_hash,
            origins,
        })
    }

    /// The key's powers now, or why it is refused; and whether this is its first use in
    /// the minute `minute` (to be recorded as `last_used_at`).
    pub fn verify(
        &self,
        key: &str,
        now: DateTime<Utc>,
        minute: i64,
    ) -> Result<(Arc<KeyPowers>, bool), KeyRefusal> {
        let entry = self
            .keys
            .get(&integration::key_hash(key))
            .ok_or(KeyRefusal::Unknown)?;
        let record = &entry.record;
        if record.revoked {
            return Err(KeyRefusal::Revoked);
        }
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(KeyRefusal::Expired);
        }
        let powers = entry.powers.as_ref().ok_or(KeyRefusal::Revoked)?;
        if powers.integration.status == IntegrationStatus::Suspended {
            return Err(KeyRefusal::Suspended);
        }
        let first_this_minute = entry.seen_minute.swap(minute, Ordering::Relaxed) != minute;
        Ok((Arc::clone(powers), first_this_minute))
    }

    /// Whether a live publishable key allows `origin`.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }
}
