//! Per-key rate limits on this replica: a token bucket of N requests a minute with a burst
//! of N (governor's GCRA), for each secret key that has a limit and for each client
//! address of each publishable key. A refused request does not count.

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One key's limiter, keyed by client address for publishable keys (`None` for the others).
type Limiter = RateLimiter<
    Option<IpAddr>,
    DefaultKeyedStateStore<Option<IpAddr>>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// The state of a limited key after a request, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_s: u64,
}

/// A request refused: retry after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub allowance: Allowance,
    pub retry_after_s: u64,
}

#[derive(Default)]
pub struct RateLimits {
    by_key: Mutex<HashMap<String, (u32, Arc<Limiter>)>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RateLimits")
    }
}

impl RateLimits {
    /// Counts one request of `key_id` (limit `per_min`) from `address` (publishable keys);
    /// refused when its bucket is empty.
    pub fn check(
        &self,
        key_id: &str,
        per_min: u32,
        address: Option<IpAddr>,
    ) -> Result<Allowance, Limited> {
        let limiter = self.limiter(key_id, per_min);
        let per_request = Duration::from_secs(60) / per_min.max(1);
        match limiter.check_key(&address) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Ok(Allowance {
                    limit: per_min,
                    remaining,
                    reset_s: (per_request * (per_min - remaining.min(per_min))).as_secs(),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(Limited {
                    allowance: Allowance {
                        limit: per_min,
                        remaining: 0,
                        reset_s: (per_request * per_min).as_secs(),
                    },
                    // Whole seconds, rounded up: retrying at once would be refused again.
                    retry_after_s: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                })
            }
        }
    }

    fn limiter(&self, key_id: &str, per_min: u32) -> Arc<Limiter> {
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(key_id) {
            Some((n, limiter)) if *n == per_min => Arc::clone(limiter),
            _ => {
                let n = NonZeroU32::new(per_min).unwrap_or(NonZeroU32::MIN);
                let limiter = Arc::new(
                    RateLimiter::keyed(Quota::per_minute(n))
                        .with_middleware::<StateInformationMiddleware>(),
                );
                map.insert(key_id.to_owned(), (per_min, Arc::clone(&limiter)));
                limiter
            }
        }
    }

    /// Forgets the client addresses whose buckets are full again (publishable keys see
    /// many addresses; without this the map would only grow).
    pub fn forget_idle(&self) {
        let map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        for (_, limiter) in map.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_n_then_refused_with_a_wait() {
        let limits = RateLimits::default();
        for left in (0..3).rev() {
            let a = limits.check("k", 3, None).unwrap();
            assert_eq!((a.limit, a.remaining), (3, left));
        }
        let refused = limits.check("k", 3, None).unwrap_err();
        assert_eq!(refused.allowance.remaining, 0);
        // One request in 20 s comes back.
        assert!((1..=20).contains(&refused.retry_after_s), "{refused:?}");
        // Refused requests do not count, and another key has its own bucket.
        assert!(limits.check("k", 3, None).is_err());
        assert!(limits.check("other", 3, None).is_ok());
    }

    #[test]
    fn each_address_of_a_publishable_key_has_its_own_bucket() {
        let limits = RateLimits::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limits.check("pk", 1, Some(a)).is_ok());
        assert!(limits.check("pk", 1, Some(a)).is_err());
        assert!(limits.check("pk", 1, Some(b)).is_ok());
    }
}
